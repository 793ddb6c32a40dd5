"""`monde serve` measured: load test (batched vs unbatched) and TwoRoom success over HTTP.

    .venv/bin/python benchmarks/serve_load.py            # → benchmarks/results/serve.json
    .venv/bin/python benchmarks/serve_load.py --render   # the docs/serve.md tables, from the JSON

1. Load: a `monde serve` subprocess on loopback serves the run's model, batched, then unbatched
   (`--unbatched`: one act call per solver call); for each of 1, 4, 16, 64 concurrent clients a
   headless locust run (benchmarks/serve_locustfile.py; each client a session calling `act`
   back to back with real environment frames) reports act requests/s and p50 / p99 latency,
   statistics reset once all clients are running. The server, locust and everything else on
   this shared 2-core machine compete for the CPU: the load average is recorded per row.
2. Success: examples/robot_loop.py drives the run's evaluation episodes (eval.seed + i, the
   run's env and step budget) over HTTP, and `evaluate_goal_reaching` runs the same episodes
   in-process, as `monde eval` does; both rows with their 95 % Wilson intervals.
Needs the `serve` and `bench` extras (fastapi, uvicorn, locust) and a trained run (make demo).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "serve.json"
COMMAND = "python benchmarks/serve_load.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, token: str, batched: bool, threads: int) -> tuple:
    port = free_port()
    cmd = [
        sys.executable, "-m", "monde.cli", "serve", "--model", f"demo={model_dir}",
        "--port", str(port), "--quiet", f"threads={threads}", "max_sessions=512",
    ]  # fmt: skip
    if not batched:
        cmd.append("--unbatched")
    env = {**os.environ, "MONDE_SERVE_TOKEN": token}
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    from monde.client import MondeClient, ServeError

    client = MondeClient(url, token=token, timeout=5)
    deadline = time.monotonic() + 120
    while True:
        try:
            client.request("GET", "/health/ready")
            return proc, url
        except ServeError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the server did not start: {' '.join(cmd)}") from None
            time.sleep(0.3)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()  # SIGTERM: uvicorn shuts down gracefully
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load_frames(cfg, count: int, path: Path) -> None:
    """`count` evaluation starts and goals of the run's env → an .npz for the locust users."""
    from monde.envs.registry import close_env
    from monde.eval.protocols import evaluation_env

    env = evaluation_env(cfg.env, cfg.eval, count, cfg.data.policy)
    observations = env.reset([cfg.eval.seed + i for i in range(count)])
    np.savez(path, observations=observations, goals=env.goal_rgb())
    close_env(env)


def locust_row(url: str, token: str, users: int, seconds: int, frames: Path, tmp: Path) -> dict:
    prefix = tmp / f"locust_{users}"
    cmd = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "benchmarks" / "serve_locustfile.py"),
        "--headless", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url,
        "--csv", str(prefix), "--reset-stats", "--only-summary", "--loglevel", "WARNING",
        "--stop-timeout", "30",
    ]  # fmt: skip
    env = {
        **os.environ,
        "MONDE_SERVE_TOKEN": token,
        "MONDE_LOAD_FRAMES": str(frames),
        "MONDE_LOAD_MODEL": "demo",
    }
    load_before = os.getloadavg()
    subprocess.run(cmd, env=env, cwd=ROOT, check=False, timeout=seconds + 120)
    with open(f"{prefix}_stats.csv") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    act = rows["act"]
    return {
        "clients": users,
        "seconds": seconds,
        "requests": int(act["Request Count"]),
        "failures": int(act["Failure Count"]),
        "requests_per_s": float(act["Requests/s"]),
        "p50_ms": float(act["50%"]),
        "p99_ms": float(act["99%"]),
        "mean_ms": float(act["Average Response Time"]),
        "load_average_1min": {"start": load_before[0], "end": os.getloadavg()[0]},
    }


def load_test(model_dir, cfg, clients, seconds, threads, tmp: Path) -> dict:
    frames = tmp / "frames.npz"
    load_frames(cfg, 64, frames)
    token = secrets.token_urlsafe(24)
    modes = {}
    for mode in ("batched", "unbatched"):
        proc, url = start_server(model_dir, token, mode == "batched", threads)
        try:
            rows = []
            for users in clients:
                before = batch_histogram(url, token)
                row = locust_row(url, token, users, seconds, frames, tmp)
                after = batch_histogram(url, token)  # this row's batches (ramp-up included)
                calls = after["monde_serve_batch_size_sum"] - before["monde_serve_batch_size_sum"]
                batches = (
                    after["monde_serve_batch_size_count"] - before["monde_serve_batch_size_count"]
                )
                row["mean_batch_size"] = calls / batches if batches else None
                print(f"{mode} {users:>3} clients: {row['requests_per_s']:.1f} req/s, "
                      f"p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms, "
                      f"load {row['load_average_1min']['end']:.1f}", flush=True)  # fmt: skip
                rows.append(row)
            metrics = batch_histogram(url, token)
        finally:
            stop_server(proc)
        modes[mode] = {"rows": rows, "batch_size": metrics}
    ratio = {
        str(b["clients"]): b["requests_per_s"] / max(u["requests_per_s"], 1e-9)
        for b, u in zip(modes["batched"]["rows"], modes["unbatched"]["rows"], strict=True)
    }
    return {**modes, "batched_over_unbatched_requests_per_s": ratio}


def batch_histogram(url: str, token: str) -> dict:
    """The server's batch-size histogram so far: count and sum of batch sizes (its metrics)."""
    from monde.client import MondeClient

    text = MondeClient(url, token=token).request("GET", "/metrics")  # Prometheus text, not JSON
    out = {"monde_serve_batch_size_count": 0.0, "monde_serve_batch_size_sum": 0.0}
    for line in text.splitlines():
        if line.startswith("monde_serve_batch_size_count") or line.startswith(
            "monde_serve_batch_size_sum"
        ):
            name = line.split("{")[0].split()[0]
            out[name] = out.get(name, 0.0) + float(line.split()[-1])
    if out.get("monde_serve_batch_size_count"):
        out["mean"] = out["monde_serve_batch_size_sum"] / out["monde_serve_batch_size_count"]
    return out


def planner_scaling(model_dir: Path, cfg, threads: int, sizes=(1, 4, 16, 64)) -> list[dict]:
    """In-process, no HTTP: one MPCPlanner.plan() call for B episodes, wall and CPU time per
    episode — the ceiling of what batching sessions can gain on this machine (the best of 5
    rounds of 5 calls, after a warm-up call)."""
    import torch

    from monde.models.checkpoint import load_model
    from monde.plan.mpc import MPCPlanner

    if threads:
        torch.set_num_threads(threads)
    model = load_model(model_dir)
    frames_path = Path(tempfile.mkdtemp()) / "frames.npz"
    load_frames(cfg, max(sizes), frames_path)
    frames = np.load(frames_path)
    rows = []
    for b in sizes:
        planner = MPCPlanner(model, cfg.plan, seed=0)
        planner.reset(frames["observations"][:b], frames["goals"][:b])
        planner.plan()
        wall, cpu = [], []
        for _ in range(5):
            w, c = time.perf_counter(), time.process_time()
            for _ in range(5):
                planner.plan()
            wall.append((time.perf_counter() - w) / 5)
            cpu.append((time.process_time() - c) / 5)
        rows.append({
            "episodes": b,
            "wall_ms_per_call": 1000 * min(wall),
            "wall_ms_per_episode": 1000 * min(wall) / b,
            "cpu_ms_per_episode": 1000 * min(cpu) / b,
            "load_average_1min": os.getloadavg()[0],
        })  # fmt: skip
        print(f"plan B={b}: {rows[-1]['wall_ms_per_episode']:.2f} ms/episode wall, "
              f"{rows[-1]['cpu_ms_per_episode']:.2f} ms CPU", flush=True)  # fmt: skip
    return rows


def success_over_http(model_dir: Path, cfg, episodes: int, concurrency: int, threads: int) -> dict:
    sys.path.insert(0, str(ROOT / "examples"))
    from robot_loop import run_robots

    from monde.eval.goal_reaching import evaluate_goal_reaching
    from monde.models.checkpoint import load_model

    token = secrets.token_urlsafe(24)
    proc, url = start_server(model_dir, token, True, threads)
    try:
        http = run_robots(url, token, "demo", cfg, episodes, concurrency)
    finally:
        stop_server(proc)
    import torch

    if threads:
        torch.set_num_threads(threads)
    eval_cfg = cfg.eval.__class__(**{**cfg.eval.__dict__, "episodes": episodes})
    eval_cfg.random_baseline = False
    clock = time.perf_counter()
    model = load_model(model_dir)
    local = evaluate_goal_reaching(
        model, cfg.env, cfg.plan, eval_cfg, progress=False, collection_policy=cfg.data.policy
    )["planner"]
    local["wall_s"] = time.perf_counter() - clock
    low, high = local["ci95"]
    return {
        "episodes": episodes,
        "seeds": [cfg.eval.seed, cfg.eval.seed + episodes - 1],
        "http": http,
        "in_process": local,
        "http_rate_within_in_process_ci95": low <= http["success_rate"] <= high,
    }


def provenance() -> dict:
    import torch

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "command": COMMAND,
        "commit": commit,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "machine": "shared 2-core machine: other jobs ran meanwhile (see the load averages)",
    }


def render(result: dict) -> str:
    lines = [
        f"Measured by `{COMMAND}` at commit {result['provenance']['commit']} "
        f"({result['provenance']['cpus']} CPUs, shared; model `{result['model']}`, "
        f"{result['plan']}); rendered by `{COMMAND} --render` from benchmarks/results/serve.json.",
        "",
        "| clients | batched req/s | p50 ms | p99 ms | unbatched req/s | p50 ms | p99 ms "
        "| batched ÷ unbatched | mean batch | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    load = result["load"]
    for b, u in zip(load["batched"]["rows"], load["unbatched"]["rows"], strict=True):
        ratio = load["batched_over_unbatched_requests_per_s"][str(b["clients"])]
        lines.append(
            f"| {b['clients']} | {b['requests_per_s']:.1f} | {b['p50_ms']:.0f} | "
            f"{b['p99_ms']:.0f} | {u['requests_per_s']:.1f} | {u['p50_ms']:.0f} | "
            f"{u['p99_ms']:.0f} | {ratio:.2f}× | {b.get('mean_batch_size') or 0:.1f} | "
            f"{b['load_average_1min']['end']:.1f} / "
            f"{u['load_average_1min']['end']:.1f} |"
        )
    scaling = result.get("planner_scaling")
    if scaling:
        first = scaling[0]["wall_ms_per_episode"]
        lines += [
            "",
            "| episodes per plan call (in-process) | wall ms / episode | CPU ms / episode "
            "| ceiling of batching |",
            "|---|---|---|---|",
        ]
        for row in scaling:
            lines.append(
                f"| {row['episodes']} | {row['wall_ms_per_episode']:.2f} | "
                f"{row['cpu_ms_per_episode']:.2f} | {first / row['wall_ms_per_episode']:.2f}× |"
            )
    s = result.get("success")
    if s:
        h, i = s["http"], s["in_process"]
        lines += [
            "",
            "| TwoRoom, same model and seeds | episodes | success | 95 % interval |",
            "|---|---|---|---|",
            f"| over HTTP (examples/robot_loop.py) | {h['episodes']} | {h['success_rate']:.0%} | "
            f"{h['ci95'][0]:.0%}–{h['ci95'][1]:.0%} |",
            f"| in-process (`monde eval`) | {i['episodes']} | {i['success_rate']:.0%} | "
            f"{i['ci95'][0]:.0%}–{i['ci95'][1]:.0%} |",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "demo")
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--seconds", type=int, default=20, help="per locust row")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16, help="robots over HTTP at once")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--skip", choices=("load", "success"), default=None)
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from monde.io import atomic_write_json, read_json

    if args.render:
        print(render(read_json(args.out)))
        return
    from monde.config import RunConfig
    from monde.config_io import load_config, to_dict

    cfg = load_config(RunConfig, args.run / "config.yaml", [])
    model_dir = args.run / "model"
    plan = to_dict(cfg.plan)
    result = {
        "provenance": provenance(),
        "model": str(model_dir.relative_to(ROOT) if model_dir.is_relative_to(ROOT) else model_dir),
        "plan": f"{plan['solver']} {plan['samples']}×{plan['iterations']}, "
        f"horizon {plan['horizon']}",
        "threads": args.threads,
        "load_average_start": list(os.getloadavg()),
    }
    previous = read_json(args.out) if args.out.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.skip != "load":
            clients = [int(c) for c in args.clients.split(",")]
            result["load"] = load_test(model_dir, cfg, clients, args.seconds, args.threads,
                                       Path(tmp))  # fmt: skip
        elif "load" in previous:
            result["load"] = previous["load"]
        result["planner_scaling"] = planner_scaling(model_dir, cfg, args.threads)
        if args.skip != "success":
            result["success"] = success_over_http(
                model_dir, cfg, args.episodes, args.concurrency, args.threads
            )
            print(result["success"]["http"], result["success"]["in_process"], flush=True)
        elif "success" in previous:
            result["success"] = previous["success"]
    result["load_average_end"] = list(os.getloadavg())
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
