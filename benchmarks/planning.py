"""Time per replanning call of the TwoRoom demo model: solver × episodes × precision × compile.

    python benchmarks/planning.py            → benchmarks/results/planning.json (quiet machine)
    python benchmarks/planning.py --quick    → a smoke check of every path, written to /tmp

Each configuration plans from real TwoRoom observations and goals (seeds 0 … episodes − 1)
with the MPC planner, times `calls` replanning calls after `warmup` ones, and records the
median and p95. bf16 matmuls are only fast on CPUs with AMX / AVX512-BF16 (or on CUDA); where
the CPU has neither (`native_bf16` false in the JSON), a bf16 call takes seconds, so it is timed
over 3 calls after 1 warm-up.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from monde.config import EnvConfig, PlanConfig
from monde.eval.goal_reaching import time_single_plan
from monde.io import atomic_write_json
from monde.models.checkpoint import load_model
from monde.progress import tqdm
from monde.report import provenance

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "planning.json"
TARGET_MS = 25.0  # issue 4: one episode, CEM 300 × 30 × horizon 5, on this machine


def native_bf16() -> bool:
    """True when bf16 matmuls run natively: CUDA, or a CPU with AMX or AVX512-BF16."""
    if torch.cuda.is_available():
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "runs" / "demo" / "model")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON path (default {OUT})")
    parser.add_argument("--quick", action="store_true", help="few calls, 4 episodes, for checks")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--horizon", type=int, default=5)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or (Path("/tmp/monde_planning_quick.json") if args.quick else OUT)

    model = load_model(args.model)
    env_cfg = EnvConfig(image_size=model.cfg.image_size)
    base = PlanConfig(samples=args.samples, iterations=args.iterations, horizon=args.horizon)
    batches = (1, 4) if args.quick else (1, 64)
    calls = {1: 3, 4: 2} if args.quick else {1: 30, 64: 10}
    bf16_native = native_bf16()
    grid = [
        (solver, episodes, bf16, compiled)
        for solver in ("cem", "mppi")
        for episodes in batches
        for bf16 in (False, True)
        for compiled in (False, True)
        if not (args.quick and compiled and (episodes > 1 or bf16 or solver != "cem"))
    ]
    rows = []
    for solver, episodes, bf16, compiled in tqdm(grid, desc="planning benchmark"):
        row = {"solver": solver, "episodes": episodes, "bf16": bf16, "compile": compiled}
        cfg = replace(base, solver=solver, bf16=bf16, compile=compiled)
        torch._dynamo.reset()  # each compiled configuration pays its own compilation
        slow = bf16 and not bf16_native  # seconds per call: fewer calls
        n, warmup = (3, 1) if slow else (calls[episodes], 2)
        clock = time.perf_counter()
        timing = time_single_plan(model, env_cfg, cfg, calls=n, episodes=episodes, warmup=warmup)
        row.update(timing, seconds=time.perf_counter() - clock)
        rows.append(row)
        tqdm.write(
            f"{solver} × {episodes} episodes, bf16={bf16}, compile={compiled}: "
            f"{timing['median_ms']:.1f} ms median, {timing['p95_ms']:.1f} ms p95 "
            f"(first call {timing['first_call_ms']:.0f} ms)"
        )
    headline = next(
        r for r in rows if (r["solver"], r["episodes"], r["bf16"], r["compile"]) == ("cem", 1, 0, 0)
    )
    payload = {
        "model": str(
            args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model
        ),
        "plan": {"samples": args.samples, "iterations": args.iterations, "horizon": args.horizon},
        "quick": args.quick,
        "native_bf16": bf16_native,
        "target_ms": TARGET_MS,
        "target_met_eager_fp32": headline["median_ms"] <= TARGET_MS,
        "rows": rows,
        "provenance": provenance(),
    }
    atomic_write_json(out, payload)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
