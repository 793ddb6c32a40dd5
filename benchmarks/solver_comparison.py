"""Solver comparison on TwoRoom: success rate and time per replanning call, same model and episodes.

    python benchmarks/solver_comparison.py        → benchmarks/results/solver_comparison.json
    python benchmarks/solver_comparison.py --quick  → 8 episodes, a smoke check, into /tmp

Every solver plans with the run's saved plan config (horizon, budget samples × iterations,
cost), only `plan.solver` changing, on the same evaluation episodes (seeds eval.seed …). The
winner is the solver with the most successes, ties broken by the lower median time of one
replanning call for one episode; `plan.solver`'s default in monde/config.py should name it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from monde.config import RunConfig
from monde.config_io import load_config, to_dict
from monde.eval.goal_reaching import evaluate_goal_reaching, time_single_plan
from monde.io import atomic_write_json
from monde.models.checkpoint import load_model
from monde.report import provenance

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "solver_comparison.json"
SOLVERS = ("cem", "icem", "mppi", "gradient", "cem_gradient")


def winner(rows: dict[str, dict]) -> str:
    """Most successes first, then the lowest single-episode median time per call."""
    return min(rows, key=lambda n: (-rows[n]["successes"], rows[n]["single_episode_ms_median"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "demo")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON path (default {OUT})")
    parser.add_argument("--quick", action="store_true", help="8 episodes, 3 timed calls")
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=SOLVERS)
    parser.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. plan.horizon=6")
    args = parser.parse_args()
    out = args.out or (Path("/tmp/monde_solver_comparison_quick.json") if args.quick else OUT)

    cfg = load_config(RunConfig, args.run / "config.yaml", args.overrides)
    if args.quick:
        cfg.eval = replace(cfg.eval, episodes=8, batch=8)
    cfg.eval = replace(cfg.eval, random_baseline=False)
    model = load_model(args.run / "model")
    rows: dict[str, dict] = {}
    for name in args.solvers:
        plan = replace(cfg.plan, solver=name)
        clock = time.perf_counter()
        result = evaluate_goal_reaching(model, cfg.env, plan, cfg.eval, progress=True)["planner"]
        timing = time_single_plan(model, cfg.env, plan, calls=3 if args.quick else 30)
        rows[name] = {
            **result,
            "single_episode_ms_median": timing["median_ms"],
            "single_episode_ms_p95": timing["p95_ms"],
            "seconds": time.perf_counter() - clock,
        }
        print(
            f"{name}: {result['successes']}/{result['episodes']} successes, one episode "
            f"{timing['median_ms']:.1f} ms median per call, batch of {cfg.eval.batch} "
            f"{result.get('plan_ms_median', float('nan')):.0f} ms median per call"
        )
    payload = {
        "run": str(args.run.relative_to(ROOT) if args.run.is_relative_to(ROOT) else args.run),
        "quick": args.quick,
        "episodes": cfg.eval.episodes,
        "first_seed": cfg.eval.seed,
        "batch": cfg.eval.batch,
        "max_steps": cfg.eval.max_steps,
        "plan": to_dict(cfg.plan),
        "rule": "most successes, then the lower single-episode median time per call",
        "winner": winner(rows),
        "solvers": rows,
        "threads": torch.get_num_threads(),
        "provenance": provenance(),
    }
    atomic_write_json(out, payload)
    print(f"winner: {payload['winner']}; wrote {out}")


if __name__ == "__main__":
    main()
