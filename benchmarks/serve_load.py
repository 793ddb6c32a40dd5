"""`monde serve` measured: load test (batched vs unbatched) and TwoRoom success over HTTP.

    .venv/bin/python benchmarks/serve_load.py            # → benchmarks/results/serve.json
    .venv/bin/python benchmarks/serve_load.py --render   # the docs/serve.md tables, from the JSON

1. Load: a `monde serve` subprocess on loopback serves the run's model, batched or unbatched
   (`--unbatched`: one act call per solver call), alternating B U B U … for `--repeats` rounds;
   for each of 1, 4, 16, 64 concurrent clients a headless locust run
   (benchmarks/serve_locustfile.py; each client a session calling `act` back to back with real
   environment frames) reports act requests/s and p50 / p99 latency, statistics reset once all
   clients are running; each cell is the median of its rounds. The server, locust and
   everything else on this shared 2-core machine compete for the CPU: the load average is
   recorded per row, and the rounds show how far one row moves with it.
2. Planner scaling: in-process MPCPlanner.plan() time per episode for 1 … 64 episodes per call,
   the most batching sessions can save on planning itself; on a CPU that computes bf16
   natively, also in bf16 (which one episode per call plans slower in), against one fp32 call.
3. Success: examples/robot_loop.py drives the run's evaluation episodes (eval.seed + i, the
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
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "serve.json"
COMMAND = "python benchmarks/serve_load.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    model_dir: Path, token: str, batched: bool, threads: int, overrides: tuple[str, ...] = ()
) -> tuple:
    port = free_port()
    cmd = [
        sys.executable, "-m", "monde.cli", "serve", "--model", f"demo={model_dir}",
        "--port", str(port), "--quiet", f"threads={threads}", "max_sessions=512",
    ]  # fmt: skip
    cmd += list(overrides)
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


def mode_rows(model_dir, token, batched: bool, clients, seconds, threads, frames, tmp) -> list:
    """One server (batched or not), one locust row per client count."""
    proc, url = start_server(model_dir, token, batched, threads)
    rows = []
    try:
        for users in clients:
            before = batch_histogram(url, token)
            row = locust_row(url, token, users, seconds, frames, tmp)
            after = batch_histogram(url, token)  # this row's batches (ramp-up included)
            calls = after["monde_serve_batch_size_sum"] - before["monde_serve_batch_size_sum"]
            batches = after["monde_serve_batch_size_count"] - before["monde_serve_batch_size_count"]
            row["mean_batch_size"] = calls / batches if batches else None
            print(f"{'batched' if batched else 'unbatched'} {users:>3} clients: "
                  f"{row['requests_per_s']:.1f} req/s, p50 {row['p50_ms']:.0f} ms, "
                  f"p99 {row['p99_ms']:.0f} ms, load {row['load_average_1min']['end']:.1f}",
                  flush=True)  # fmt: skip
            rows.append(row)
    finally:
        stop_server(proc)
    return rows


def median_row(rows: list[dict]) -> dict:
    """The rows of one (mode, clients) over the repeats → medians, the repeats kept."""
    keys = ("requests_per_s", "p50_ms", "p99_ms", "mean_ms", "mean_batch_size")
    out = {k: float(np.median([r[k] for r in rows if r[k] is not None] or [0])) for k in keys}
    return {
        "clients": rows[0]["clients"],
        **out,
        "load_average_1min": {
            "end": float(np.median([r["load_average_1min"]["end"] for r in rows]))
        },
        "repeats": rows,
    }


def load_test(model_dir, cfg, clients, seconds, threads, repeats: int, tmp: Path) -> dict:
    """Batched and unbatched servers alternate (B U B U …) so that both see the machine's load
    swings alike; each (mode, clients) cell reports the median of its repeats."""
    frames = tmp / "frames.npz"
    load_frames(cfg, 64, frames)
    token = secrets.token_urlsafe(24)
    runs: dict[str, list[list[dict]]] = {"batched": [], "unbatched": []}
    for _ in range(repeats):
        for mode in runs:
            runs[mode].append(
                mode_rows(
                    model_dir, token, mode == "batched", clients, seconds, threads, frames, tmp
                )
            )
    modes = {
        mode: {"rows": [median_row([rep[k] for rep in reps]) for k in range(len(clients))]}
        for mode, reps in runs.items()
    }
    ratio = {
        str(b["clients"]): b["requests_per_s"] / max(u["requests_per_s"], 1e-9)
        for b, u in zip(modes["batched"]["rows"], modes["unbatched"]["rows"], strict=True)
    }
    return {**modes, "repeats": repeats, "batched_over_unbatched_requests_per_s": ratio}


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


def planner_scaling(
    model_dir: Path, cfg, threads: int, sizes=(1, 4, 16, 64), rounds: int = 8
) -> list[dict]:
    """In-process, no HTTP: one MPCPlanner.plan() call for B episodes, wall and CPU time per
    episode — the ceiling of what batching sessions can gain on this machine (per size, the
    least disturbed of `rounds` rounds of 3 calls, after a warm-up call), planned in the
    precision `cfg.plan.precision` resolves to."""
    import torch

    from monde.models.checkpoint import load_model
    from monde.plan.mpc import MPCPlanner

    if threads:
        torch.set_num_threads(threads)
    model = load_model(model_dir)
    frames_path = Path(tempfile.mkdtemp()) / "frames.npz"
    load_frames(cfg, max(sizes), frames_path)
    frames = np.load(frames_path)
    planners = {}
    for b in sizes:
        planners[b] = MPCPlanner(model, cfg.plan, seed=0)
        planners[b].reset(frames["observations"][:b], frames["goals"][:b])
        planners[b].plan()  # warm-up
    wall: dict[int, list[float]] = {b: [] for b in sizes}
    cpu: dict[int, list[float]] = {b: [] for b in sizes}
    for _ in range(rounds):  # sizes interleaved, so that each sees the machine's swings alike
        for b in sizes:
            w, c = time.perf_counter(), time.process_time()
            for _ in range(3):
                planners[b].plan()
            wall[b].append((time.perf_counter() - w) / 3)
            cpu[b].append((time.process_time() - c) / 3)
    rows = []
    for b in sizes:
        best = int(np.argmin(wall[b]))  # the least disturbed round
        rows.append({
            "episodes": b,
            "wall_ms_per_call": 1000 * wall[b][best],
            "wall_ms_per_episode": 1000 * wall[b][best] / b,
            "cpu_ms_per_episode": 1000 * cpu[b][best] / b,
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
        # the Wilson bounds carry float rounding (an upper bound of 1 − 1e-16 for 100/100)
        "http_rate_within_in_process_ci95": low - 1e-9 <= http["success_rate"] <= high + 1e-9,
    }


def provenance() -> dict:
    import torch

    from monde.hardware import cpu_description

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "command": COMMAND,
        "commit": commit,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "cpu": cpu_description(),
        "machine": "the load generator shares the machine with the server (see the load averages)",
    }


def render(result: dict) -> str:
    at = "; ".join(
        f"{part} at {result[part]['measured']['commit']} ({result[part]['measured']['utc']})"
        for part in ("load", "planner_scaling", "success")
        if part in result
    )
    cpu = f", {result['provenance']['cpu']}" if "cpu" in result["provenance"] else ", shared"
    lines = [
        f"Measured by `{COMMAND} --threads {result['threads']}` "
        f"({result['provenance']['cpus']} CPUs{cpu}; model `{result['model']}`, "
        f"{result['plan']}; {at}); rendered by `{COMMAND} --render` "
        "from benchmarks/results/serve.json.",
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
            f"{u['p99_ms']:.0f} | {ratio:.2f}× | {b['mean_batch_size'] or 0:.1f} | "
            f"{b['load_average_1min']['end']:.1f} / "
            f"{u['load_average_1min']['end']:.1f} |"
        )
    scaling = result.get("planner_scaling", {}).get("rows")
    if scaling:
        first = scaling[0]["cpu_ms_per_episode"]  # CPU time: less moved by waits for a core
        # where measured: the same calls in bf16, against one episode per call in fp32
        bf16 = result["planner_scaling"].get("rows_bf16") or [None] * len(scaling)
        extra = bf16[0] is not None
        lines += [
            "",
            "| episodes per plan call (in-process) | wall ms / episode | CPU ms / episode "
            "| ceiling of batching (CPU) |"
            + (" bf16 CPU ms / episode | ceiling with bf16 batches (CPU) |" if extra else ""),
            "|---|---|---|---|" + ("---|---|" if extra else ""),
        ]
        for row, low in zip(scaling, bf16, strict=True):
            line = (
                f"| {row['episodes']} | {row['wall_ms_per_episode']:.2f} | "
                f"{row['cpu_ms_per_episode']:.2f} | {first / row['cpu_ms_per_episode']:.2f}× |"
            )
            if low is not None:
                ms = low["cpu_ms_per_episode"]
                line += f" {ms:.2f} | {first / ms:.2f}× |"
            lines.append(line)
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
    parser.add_argument("--repeats", type=int, default=3, help="B U B U … rounds; medians")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16, help="robots over HTTP at once")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--skip", choices=("load", "success", "scaling"), action="append", default=[],
        help="keep this part from the existing JSON (repeatable)",
    )  # fmt: skip
    parser.add_argument("--render", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from monde.io import atomic_write_json, read_json

    if args.render:
        print(render(read_json(args.out)))
        return
    from monde.config import RunConfig
    from monde.config_io import load_config, to_dict
    from monde.precision import cpu_bf16_support

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
    commit = result["provenance"]["commit"]

    def measured(part: dict) -> dict:  # each part says when and how it was measured
        utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {**part, "measured": {"commit": commit, "threads": args.threads, "utc": utc}}

    with tempfile.TemporaryDirectory() as tmp:
        if "load" not in args.skip:
            clients = [int(c) for c in args.clients.split(",")]
            result["load"] = measured(
                load_test(model_dir, cfg, clients, args.seconds, args.threads, args.repeats,
                          Path(tmp))
            )  # fmt: skip
        if "scaling" not in args.skip:
            part = {"rows": planner_scaling(model_dir, cfg, args.threads)}
            if cpu_bf16_support().native:  # would bf16 batches lift the ceiling?
                bf16 = replace(cfg, plan=replace(cfg.plan, precision="bf16"))
                part["rows_bf16"] = planner_scaling(model_dir, bf16, args.threads)
            result["planner_scaling"] = measured(part)
        if "success" not in args.skip:
            result["success"] = measured(
                success_over_http(model_dir, cfg, args.episodes, args.concurrency, args.threads)
            )
            print(result["success"]["http"], result["success"]["in_process"], flush=True)
    for part in ("load", "planner_scaling", "success"):
        if {"planner_scaling": "scaling"}.get(part, part) in args.skip:
            if part in previous:
                result[part] = previous[part]
    result["load_average_end"] = list(os.getloadavg())
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
