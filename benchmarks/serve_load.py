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
                row = locust_row(url, token, users, seconds, frames, tmp)
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
    """The server's batch-size histogram (its Prometheus text) after all rows of a mode."""
    from monde.client import MondeClient

    client = MondeClient(url, token=token)
    client.request("GET", "/v1/models")
    conn = client._connection()
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    text = conn.getresponse().read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("monde_serve_batch_size_count") or line.startswith(
            "monde_serve_batch_size_sum"
        ):
            out[line.split("{")[0]] = float(line.split()[-1])
    if out.get("monde_serve_batch_size_count"):
        out["mean"] = out["monde_serve_batch_size_sum"] / out["monde_serve_batch_size_count"]
    return out


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
        "| batched ÷ unbatched | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    load = result["load"]
    for b, u in zip(load["batched"]["rows"], load["unbatched"]["rows"], strict=True):
        ratio = load["batched_over_unbatched_requests_per_s"][str(b["clients"])]
        lines.append(
            f"| {b['clients']} | {b['requests_per_s']:.1f} | {b['p50_ms']:.0f} | "
            f"{b['p99_ms']:.0f} | {u['requests_per_s']:.1f} | {u['p50_ms']:.0f} | "
            f"{u['p99_ms']:.0f} | {ratio:.2f}× | {b['load_average_1min']['end']:.1f} / "
            f"{u['load_average_1min']['end']:.1f} |"
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
