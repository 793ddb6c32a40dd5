"""The benchmark table: collect → train → evaluate per environment from presets, one command.

`run_bench` runs the demo pipeline (monde.cli's `demo` verb) on configs/bench/<env>_<budget>.yaml
for each environment and writes benchmarks/results/bench/<env>_<budget>[_swm].json, then
`render_table` turns every such JSON into the Markdown table of docs/benchmarks.md. Two
evaluation protocols: Monde's own (start and goal sampled by the environment on held-out seeds)
and `swm`, compatible with stable-worldmodel's published tables (50 episodes, goal 25 steps ahead
on a trajectory of the collection policy, 50-step budget, CEM 300 × 30, horizon 5, receding 5).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from monde.io import atomic_write_json, atomic_write_text, read_json

BENCH_ENVS = ("two_room", "reacher", "point_maze", "push_t")
BUDGETS = ("quick", "full")
PROTOCOLS = ("monde", "swm")
SWM_OVERRIDES = (
    "eval.protocol=swm",
    "eval.episodes=50",
    "eval.goal_steps=25",
    "eval.max_steps=50",
    "plan.samples=300",
    "plan.iterations=30",
    "plan.horizon=5",
    "plan.receding=5",
)


def preset(presets: Path, env: str, budget: str) -> Path:
    """The preset of `env` at `budget`, with a clear error when it does not exist."""
    if env not in BENCH_ENVS:
        raise ValueError(f"unknown benchmark env {env!r}; known: {', '.join(BENCH_ENVS)}")
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; known: {', '.join(BUDGETS)}")
    path = presets / f"{env}_{budget}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no preset for {env} at budget {budget}")
    return path


def result_name(env: str, budget: str, protocol: str) -> str:
    return f"{env}_{budget}" + ("_swm" if protocol == "swm" else "") + ".json"


def run_bench(
    envs: Sequence[str],
    budget: str = "quick",
    protocol: str = "monde",
    presets: Path = Path("configs/bench"),
    runs: Path = Path("runs/bench"),
    results: Path = Path("benchmarks/results/bench"),
    overrides: Sequence[str] = (),
    progress: bool = True,
) -> list[Path]:
    """Run each env's pipeline; returns the results JSONs written (one per env)."""
    from monde.cli import main  # the demo verb is the pipeline; imported late (cli imports us)

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    paths = [preset(presets, env, budget) for env in envs]  # fail before any work
    written = []
    for env, path in zip(envs, paths, strict=True):
        out = results / result_name(env, budget, protocol)
        extra = list(SWM_OVERRIDES) if protocol == "swm" else []
        argv = ["demo", "--config", str(path), "--run", str(runs / f"{env}_{budget}"), "--out"]
        argv += [str(out), *extra, *overrides] + ([] if progress else ["--quiet"])
        print(f"== {env} ({budget}, protocol {protocol}): monde {' '.join(argv)}")
        clock = time.perf_counter()
        main(argv)
        data = read_json(out)
        data["bench"] = {
            "env": env,
            "budget": budget,
            "protocol": protocol,
            "preset": str(path),
            "wall_seconds": time.perf_counter() - clock,
        }
        atomic_write_json(out, data)
        written.append(out)
    return written


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def render_table(results: Path) -> str:
    """Markdown table of every bench JSON under `results` (sorted by env, budget, protocol)."""
    rows = []
    for path in sorted(results.glob("*.json")):
        data = read_json(path)
        bench, res, cfg = data["bench"], data["results"], data["config"]
        planner, rand = res["planner"], res.get("random")
        steps = planner["mean_steps_to_goal"]
        samples = cfg["train"]["steps"] * cfg["train"]["batch_size"]  # windows trained on
        rows.append(
            f"| {bench['env']} | {bench['budget']} | {bench['protocol']} "
            f"| {_pct(planner['success_rate'])} ({_pct(planner['ci95'][0])} – "
            f"{_pct(planner['ci95'][1])}) "
            f"| {_pct(rand['success_rate']) if rand else '–'} "
            f"| {'–' if steps is None else f'{steps:.1f}'} "
            f"| {data['single_episode_plan']['median_ms']:.0f} "
            f"| {data['train_seconds'] / 60:.0f} "
            f"| {samples / data['train_seconds']:.0f} "
            f"| {bench['wall_seconds'] / 60:.0f} "
            f"| {cfg['eval']['episodes']} | {data['provenance']['commit']} |"
        )
    header = [
        "| env | budget | protocol | success (95 % CI) | random actions | steps to goal "
        "| ms per plan call | train min | windows/s (training) | wall min | episodes | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(header + rows) if rows else "No benchmark has been run yet."


def write_doc(results: Path, doc: Path) -> None:
    """docs/benchmarks.md from the bench JSONs: the table and the command behind it."""
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            "Generated by `monde bench ENV… --budget quick|full [--protocol monde|swm]` from "
            f"`{results}/*.json`; do not edit by hand. Protocols: `monde` (start and goal sampled "
            "by the environment on held-out seeds) and `swm` (stable-worldmodel's: goal 25 steps "
            "ahead on a trajectory of the collection policy, 50 episodes, 50-step budget).",
            "",
            render_table(results),
            "",
        ]
    )
    atomic_write_text(doc, text)
