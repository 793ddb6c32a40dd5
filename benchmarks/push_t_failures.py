"""PushT: how do the planner's failures fail — near misses, the angle, the position, or no push?

A diagnostic beside `monde eval`, not a result row. It plans the run's evaluation episodes
exactly as `monde eval` does (same seeds, batches and planner seeds: given the run's results
JSON with `--expect`, its success count must match, or the script stops) and reads the
simulator's state after every model step, which `monde eval` does not keep. For each episode
it records the block's pose error at the start, at the end and at its closest approach to the
goal, measured in success units: the margin max(distance / success_distance, angle gap /
success_angle) is below 1 where the block lies within the goal's tolerances (read after each
model step; success is checked after each environment step, so a block that passed through
its goal within a step may show a margin above 1).
Failures are then sorted by what kept them out at their closest approach:

- `near_miss`: the margin came within 1.5 (both errors under 1.5 × their thresholds);
- `angle`: the position was within its threshold, the angle was not;
- `position`: the angle was within its threshold, the position was not;
- `both`: neither was;

and whether the block ended nearer its goal position than it started (`block_moved_closer`).
Successes and failures are also compared by how far and how much turned their goals were at
the start, which tells whether the failures are the hard goals or a random share.

Each episode also keeps its traces, one value per model step: the block's margin, the pusher's
distance to the block, and at each planning call the current latent's distance to the goal
latent beside the cost of the plan chosen. They tell whether a failure stalled with the pusher
still at the block or after it left, and whether the model foresaw an improvement it did not
deliver (plan cost below the current distance) or none at all.

    python benchmarks/push_t_failures.py --run runs/bench/push_t_full \
        --expect benchmarks/results/bench/push_t_full.json \
        --out benchmarks/results/experiments/push_t_full_failures.json
    # validation seeds: --eval-seed 2000000; another planner: append e.g. plan.reduce=last
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from monde.config import RunConfig
from monde.config_io import load_config, to_dict
from monde.envs.push_t import angle_gap
from monde.envs.registry import close_env
from monde.eval.goal_reaching import PlannerPolicy, check_env_fits_model, run_episodes, summarise
from monde.eval.protocols import evaluation_env
from monde.io import atomic_write_json
from monde.models.checkpoint import load_model
from monde.plan.cost import latent_distance
from monde.plan.mpc import MPCPlanner, rollout_samples
from monde.plan.solvers import PlanResult
from monde.precision import torch_threads
from monde.progress import tqdm
from monde.report import provenance

NEAR_MISS = 1.5  # a failure whose margin came below this is a near miss


def pose_errors(states: np.ndarray, goals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """States, goals (..., 5) rows [pusher_x, pusher_y, block_x, block_y, block_angle] →
    the block's distance (px) and angle gap (rad) to its goal, each (...)."""
    distance = np.linalg.norm(states[..., 2:4] - goals[..., 2:4], axis=-1)
    return distance, angle_gap(states[..., 4], goals[..., 4])


def classify(distance: float, angle: float, success: bool, dist_thr: float, ang_thr: float) -> str:
    """What kept an episode from its goal at its closest approach (see the module docstring)."""
    if success:
        return "success"
    if max(distance / dist_thr, angle / ang_thr) < NEAR_MISS:
        return "near_miss"
    if distance < dist_thr:
        return "angle"
    if angle < ang_thr:
        return "position"
    return "both"


def rounded(value: float) -> float | None:
    """A cost for the JSON: 4 significant digits, None where the episode was not planned."""
    return None if np.isnan(value) else float(f"{value:.4g}")


def watch_costs(planner: MPCPlanner, count: int) -> dict[str, list[np.ndarray]]:
    """Wrap `planner.plan` to record, per call, each episode's current distance to its goal
    latent, the chosen plan's cost, its predicted distance one model step ahead and the model
    step (1 … H) of its closest predicted latent: (count,) arrays, NaN for episodes not
    planned."""
    seen: dict[str, list[np.ndarray]] = {k: [] for k in ("current", "planned", "next", "step")}
    plan = planner.plan

    def watched(active=None) -> PlanResult:
        result = plan(active)
        rows = np.ones(count, bool) if active is None else np.asarray(active, bool)
        picked = torch.as_tensor(rows)
        weights, metric = planner.dim_weights, planner.cfg.metric
        with torch.inference_mode():
            now = latent_distance(planner.z_hist[:, -1:], planner.z_goal, metric, weights)
            pred = rollout_samples(  # the chosen plan's latents (b, 1, H, D)
                planner.model,
                planner.z_hist[picked],
                result.actions[:, None],
                planner.a_hist[picked],
            )
            ahead = latent_distance(pred[:, 0], planner.z_goal[picked], metric, weights)
        values = {
            "current": now[:, 0].cpu().numpy()[rows],
            "planned": result.cost.detach().float().cpu().numpy(),
            "next": ahead[:, 0].cpu().numpy(),  # (b,): one model step ahead
            "step": ahead.argmin(dim=1).cpu().numpy() + 1.0,  # (b,)
        }
        for key, value in values.items():
            full = np.full(count, np.nan)
            full[rows] = value
            seen[key].append(full)
        return result

    planner.plan = watched
    return seen


def run_batch(model, cfg: RunConfig, first: int, count: int) -> list[dict]:
    """Plan episodes first … first + count − 1 as `monde eval` plans that batch → per episode."""
    seeds = [cfg.eval.seed + first + i for i in range(count)]
    env = evaluation_env(cfg.env, cfg.eval, count, cfg.data.policy)
    policy = PlannerPolicy(model, cfg.plan, cfg.eval.seed + first)
    trace: list[np.ndarray] = []  # per model step: (B, 5) states
    costs = watch_costs(policy.planner, count)

    def record(frames: np.ndarray, success: np.ndarray) -> None:
        trace.append(env.state().copy())

    success, steps = run_episodes(
        env, seeds, policy, model.frameskip, cfg.eval.max_steps, on_step=record
    )
    goals = env.goal_state().copy()  # (B, 5)
    task_cfg = env.task.cfg
    close_env(env)
    states = np.stack(trace, axis=1)  # (B, T, 5): after the reset, then after each model step
    distance, angle = pose_errors(states, goals[:, None])  # (B, T) each
    margin = np.maximum(distance / task_cfg.success_distance, angle / task_cfg.success_angle)
    closest = margin.argmin(axis=1)  # (B,) the model step of the closest approach
    rows = []
    for i, seed in enumerate(seeds):
        c = closest[i]
        rows.append(
            {
                "seed": seed,
                "success": bool(success[i]),
                "steps": int(steps[i]),
                "start_distance": float(distance[i, 0]),
                "start_angle": float(angle[i, 0]),
                "final_distance": float(distance[i, -1]),
                "final_angle": float(angle[i, -1]),
                "closest_margin": float(margin[i, c]),
                "closest_distance": float(distance[i, c]),
                "closest_angle": float(angle[i, c]),
                "block_moved_closer": bool(distance[i, -1] < distance[i, 0]),
                # where the pusher ended: at the goal frame's pusher, or at the block
                "final_pusher_to_goal_pusher": float(
                    np.linalg.norm(states[i, -1, 0:2] - goals[i, 0:2])
                ),
                "final_pusher_to_block": float(
                    np.linalg.norm(states[i, -1, 0:2] - states[i, -1, 2:4])
                ),
                # when the closest approach came (model steps after the reset) and how far
                # the pusher was from the block then and at the end: did it leave the block?
                "closest_step": int(c),
                "pusher_to_block_at_closest": float(
                    np.linalg.norm(states[i, c, 0:2] - states[i, c, 2:4])
                ),
                # per model step: the block's margin to its goal and the pusher's distance
                # to the block (px), one decimal
                "margin_trace": np.round(margin[i], 2).tolist(),
                "pusher_to_block_trace": np.round(
                    np.linalg.norm(states[i, :, 0:2] - states[i, :, 2:4], axis=-1), 1
                ).tolist(),
                # per planning call: the distance of the current latent to the goal latent,
                # and the cost of the plan chosen (with plan.reduce min: its closest predicted
                # step); a plan cost below the current one is an improvement the model foresees
                "current_cost_trace": [rounded(c[i]) for c in costs["current"]],
                "planned_cost_trace": [rounded(c[i]) for c in costs["planned"]],
                # the plan's predicted distance one step ahead, to set beside the next call's
                # current distance (what the step delivered), and its closest step (1 … H)
                "planned_next_cost_trace": [rounded(c[i]) for c in costs["next"]],
                "planned_closest_step_trace": [rounded(c[i]) for c in costs["step"]],
                "kind": classify(
                    distance[i, c],
                    angle[i, c],
                    bool(success[i]),
                    task_cfg.success_distance,
                    task_cfg.success_angle,
                ),
            }
        )
    return rows


def summary(rows: list[dict]) -> dict:
    """Counts of each kind of failure and the goals' difficulty for successes and failures."""
    kinds = [r["kind"] for r in rows]
    fails = [r for r in rows if not r["success"]]
    wins = [r for r in rows if r["success"]]

    def median(group: list[dict], key: str) -> float | None:
        return float(np.median([r[key] for r in group])) if group else None

    return {
        "failures": {k: kinds.count(k) for k in ("near_miss", "angle", "position", "both")},
        "failures_block_moved_closer": sum(r["block_moved_closer"] for r in fails),
        "median_start_distance": {
            "success": median(wins, "start_distance"),
            "failure": median(fails, "start_distance"),
        },
        "median_start_angle": {
            "success": median(wins, "start_angle"),
            "failure": median(fails, "start_angle"),
        },
        "failure_median_closest_distance": median(fails, "closest_distance"),
        "failure_median_closest_angle": median(fails, "closest_angle"),
        "failure_median_final_distance": median(fails, "final_distance"),
        "failure_median_final_angle": median(fails, "final_angle"),
        "failure_median_final_pusher_to_goal_pusher": median(fails, "final_pusher_to_goal_pusher"),
        "failure_median_final_pusher_to_block": median(fails, "final_pusher_to_block"),
        "failure_median_closest_step": median(fails, "closest_step"),
        "failure_median_pusher_to_block_at_closest": median(fails, "pusher_to_block_at_closest"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a trained push_t run folder")
    parser.add_argument("--episodes", type=int, help="default: the run's eval.episodes")
    parser.add_argument("--eval-seed", type=int, help="default: the run's eval.seed")
    parser.add_argument(
        "--expect", type=Path, help="the run's results JSON: its success count must be matched"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="run-config overrides, e.g. plan.reduce=last",
    )
    args = parser.parse_args()
    overrides = list(args.overrides)
    overrides += [f"eval.episodes={args.episodes}"] if args.episodes else []
    overrides += [f"eval.seed={args.eval_seed}"] if args.eval_seed is not None else []
    cfg = load_config(RunConfig, args.run / "config.yaml", overrides)
    if cfg.env.name != "push_t":
        raise ValueError(f"{args.run}: a push_t run is needed, this one is {cfg.env.name!r}")
    if cfg.plan.waypoints or cfg.plan.drop_action_variance:
        raise ValueError(
            f"{args.run}: planner memory (plan.waypoints, plan.drop_action_variance) "
            "is not replayed here"
        )
    if cfg.eval.protocol != "monde":
        raise ValueError(f"{args.run}: eval.protocol is {cfg.eval.protocol!r}, not 'monde'")
    model = load_model(args.run / "model")
    check_env_fits_model(cfg.env, model)
    start = time.perf_counter()
    rows: list[dict] = []
    with torch_threads(cfg.train.threads):
        for first in tqdm(range(0, cfg.eval.episodes, cfg.eval.batch), desc="eval"):
            count = min(cfg.eval.batch, cfg.eval.episodes - first)
            rows += run_batch(model, cfg, first, count)
    success = np.array([r["success"] for r in rows])
    steps = np.array([r["steps"] for r in rows])
    row = summarise(success, steps, [])
    print(f"success {row['successes']} / {row['episodes']}")
    expected = None
    if args.expect:
        expected = json.loads(args.expect.read_text())["results"]["planner"]
        if (expected["successes"], expected["episodes"]) != (row["successes"], row["episodes"]):
            raise SystemExit(
                f"{args.expect}: results.planner has {expected['successes']} / "
                f"{expected['episodes']} successes, this replay {row['successes']} / "
                f"{row['episodes']}: not the same evaluation"
            )
    result = {
        "command": "python benchmarks/push_t_failures.py --run "
        + str(args.run)
        + (f" --episodes {args.episodes}" if args.episodes else "")
        + (f" --eval-seed {args.eval_seed}" if args.eval_seed is not None else "")
        + (f" --expect {args.expect}" if args.expect else "")
        + f" --out {args.out}"
        + "".join(f" {o}" for o in args.overrides),
        "run": str(args.run),
        "overrides": list(args.overrides),
        "plan": to_dict(cfg.plan),
        "eval_seed": cfg.eval.seed,
        "near_miss_margin": NEAR_MISS,
        "planner": row,
        "matches": str(args.expect) if args.expect else None,
        **summary(rows),
        "episodes": rows,
        "seconds": time.perf_counter() - start,
        "provenance": provenance(),
    }
    for key in (
        "failures",
        "failures_block_moved_closer",
        "median_start_distance",
        "median_start_angle",
    ):
        print(f"{key}: {result[key]}")
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
