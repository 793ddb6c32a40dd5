"""PushT: what does the planner reach when its model is the simulator itself?

A diagnostic, not a result row. The PushT preset plans with CEM over `horizon` model steps of
`frameskip` env steps each. A learned model can at best predict what the simulator does, so
planning with copies of the simulator (the physics state restored for every candidate, the
pushes simulated exactly) bounds what any world model can reach with that planner and budget.
The cost is the block's pose error at every planned model step, in units of the success
thresholds: |block − goal| / success_distance + angle_gap / success_angle (summed over the
horizon, as the preset's `plan.reduce: sum`); `--pusher-weight w` adds w·|pusher − goal pusher|
/ success_distance, the part of a goal frame that shows the pusher standing off behind the block.

Episodes, starts and goals are the Monde protocol's (`evaluation_env`, seeds from
`eval.seed`), so the numbers stand beside the `push_t` rows of docs/benchmarks.md. Planning
samples every candidate in Python physics (about 0.2 ms per env step), so the defaults use fewer
samples than the preset; the JSON records them.

    python benchmarks/push_t_true_dynamics.py --horizon 5 --episodes 30
writes benchmarks/results/experiments/push_t_true_dynamics_h5.json (`--out` to change).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymunk import Vec2d

from monde.config import RunConfig
from monde.config_io import load_config
from monde.envs.push_t import PushTConfig, PushTTask, angle_gap
from monde.envs.registry import close_env
from monde.eval.goal_reaching import run_episodes, summarise
from monde.eval.protocols import evaluation_env
from monde.io import atomic_write_json
from monde.plan.solvers import CEMConfig, cem
from monde.report import provenance

ROOT = Path(__file__).resolve().parents[1]
Snapshot = tuple[np.ndarray, tuple[float, float], tuple[float, float], float]
"""pose (PushTTask.get_state), pusher velocity, block velocity, block spin"""


def snapshot(task: PushTTask, env) -> Snapshot:
    """The physics state of a gym-pusht env: its pose and its velocities."""
    a, b = env.unwrapped.agent, env.unwrapped.block
    return task.get_state(env), tuple(a.velocity), tuple(b.velocity), float(b.angular_velocity)


def restore(task: PushTTask, env, snap: Snapshot) -> None:
    """Put a gym-pusht env into the physics state `snap` (the pose as PushTTask sets it)."""
    task.set_state(env, snap[0])
    a, b = env.unwrapped.agent, env.unwrapped.block
    a.velocity, b.velocity, b.angular_velocity = snap[1], snap[2], snap[3]


def env_step(task: PushTTask, env, action: np.ndarray) -> None:
    """One env step as GymBatch takes it (the pusher's target from PushTTask.env_action), then
    the env's PD controller and physics: gym-pusht's `step` without its reward and rendering."""
    u = env.unwrapped
    target = Vec2d(*(float(v) for v in task.env_action(env, action)))
    for _ in range(int(1 / (u.dt * u.control_hz))):
        pull = u.k_p * (target - u.agent.position) + u.k_v * (Vec2d(0, 0) - u.agent.velocity)
        u.agent.velocity += pull * u.dt
        u.space.step(u.dt)


def simulate(task: PushTTask, env, snap: Snapshot, actions: np.ndarray) -> np.ndarray:
    """actions (S, H, fs, 2) in [−1, 1] from `snap` → states (S, H, 5) after each model step."""
    s, h, fs, _ = actions.shape
    states = np.empty((s, h, 5))
    for i in range(s):
        restore(task, env, snap)
        for m in range(h):
            for j in range(fs):
                env_step(task, env, actions[i, m, j])
            states[i, m] = task.get_state(env)
    return states


def pose_cost(
    states: np.ndarray, goal: np.ndarray, cfg: PushTConfig, pusher_weight: float
) -> np.ndarray:
    """states (..., H, 5), goal (5,) or broadcasting as (..., 1, 5) → (...,) the summed pose
    error in success-threshold units."""
    block = np.linalg.norm(states[..., 2:4] - goal[..., 2:4], axis=-1) / cfg.success_distance
    turn = angle_gap(states[..., 4], goal[..., 4]) / cfg.success_angle
    pusher = np.linalg.norm(states[..., 0:2] - goal[..., 0:2], axis=-1) / cfg.success_distance
    return (block + turn + pusher_weight * pusher).sum(axis=-1)


class SimulatorPlanner:
    """MPC with CEM whose model is a copy of the simulator; the `run_episodes` policy protocol."""

    def __init__(self, args: argparse.Namespace, cfg: PushTConfig, frameskip: int) -> None:
        self.args, self.cfg, self.fs = args, cfg, frameskip
        self.solver = CEMConfig(samples=args.samples, iterations=args.iterations, topk=args.topk)
        self.task = PushTTask(cfg)
        self.sim = self.task.make()
        self.sim.reset(seed=0)
        self.plan_times: list[float] = []

    def start(self, env, frames: np.ndarray) -> None:
        self.env, self.goals = env, env.goal_state().astype(np.float64)
        self.generator = torch.Generator().manual_seed(self.args.seed)
        self.mean = torch.zeros(env.num_envs, self.args.horizon, self.fs * 2, dtype=torch.float64)

    def choose(self, m: int, active: np.ndarray | None = None) -> np.ndarray:
        start = time.perf_counter()
        rows = np.flatnonzero(active if active is not None else np.ones(self.env.num_envs, bool))
        snaps = [snapshot(self.task, self.env.envs[r]) for r in rows]

        def cost_fn(actions: torch.Tensor) -> torch.Tensor:  # (b, S, H, fs·2) → (b, S)
            blocks = actions.numpy().reshape(*actions.shape[:3], self.fs, 2)  # (b, S, H, fs, 2)
            costs = [
                pose_cost(
                    simulate(self.task, self.sim, snap, blocks[i]),
                    self.goals[r],
                    self.cfg,
                    self.args.pusher_weight,
                )
                for i, (r, snap) in enumerate(zip(rows, snaps, strict=True))
            ]
            return torch.from_numpy(np.stack(costs))

        mean = self.mean[rows]
        std = torch.ones_like(mean)
        result = cem(cost_fn, mean, std, -1.0, 1.0, self.solver, generator=self.generator)
        chosen = np.zeros((self.env.num_envs, self.fs * 2))
        chosen[rows] = result.actions[:, 0].numpy()
        shifted = torch.cat([result.actions[:, 1:], torch.zeros_like(result.actions[:, :1])], 1)
        self.mean[rows] = shifted  # MPC's warm start: the rest of the plan, a zero step appended
        self.plan_times.append(time.perf_counter() - start)
        return chosen

    def observe(self, frame: np.ndarray, block: np.ndarray, states: np.ndarray) -> None:
        pass


def plan_episodes(
    cfg: RunConfig, first: int, end: int, batch: int, make_policy: Callable[[], Any]
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The Monde protocol's evaluation episodes `first` … `end` − 1 (seeds eval.seed + i),
    `batch` at a time, each batch by a fresh `make_policy()` (the `run_episodes` protocol, with
    `plan_times`) → success (N,), env steps (N,), seconds per plan call."""
    successes, steps, times = [], [], []
    for start in range(first, end, batch):
        count = min(batch, end - start)
        env = evaluation_env(cfg.env, cfg.eval, count, cfg.data.policy)
        policy = make_policy()
        seeds = [cfg.eval.seed + start + i for i in range(count)]
        success, step = run_episodes(env, seeds, policy, cfg.model.frameskip, cfg.eval.max_steps)
        close_env(env)
        successes.append(success)
        steps.append(step)
        times += policy.plan_times
        done = np.concatenate(successes)
        print(f"{len(done)} episodes: {int(done.sum())} reached", flush=True)
    return np.concatenate(successes), np.concatenate(steps), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/bench/push_t_full.yaml")
    parser.add_argument("--horizon", type=int, default=5, help="model steps planned")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--topk", type=int, default=10)
    parser.add_argument("--pusher-weight", type=float, default=0.0)
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument(
        "--first", type=int, default=0, help="index of the first episode (seed eval.seed + first)"
    )
    parser.add_argument("--batch", type=int, default=10, help="episodes planned together")
    parser.add_argument("--seed", type=int, default=0, help="the CEM sampler's seed")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = (
        args.out
        or ROOT / f"benchmarks/results/experiments/push_t_true_dynamics_h{args.horizon}.json"
    )
    cfg = load_config(RunConfig, args.config, [])
    env_cfg = PushTConfig(**cfg.env.env_kwargs("eval"))
    began = time.perf_counter()
    end = args.first + args.episodes
    successes, steps, times = plan_episodes(
        cfg,
        args.first,
        end,
        args.batch,
        lambda: SimulatorPlanner(args, env_cfg, cfg.model.frameskip),
    )
    row = summarise(successes, steps, times)
    atomic_write_json(
        out,
        {
            "command": "python benchmarks/push_t_true_dynamics.py "
            f"--horizon {args.horizon} --samples {args.samples} --iterations {args.iterations} "
            f"--topk {args.topk} --pusher-weight {args.pusher_weight} --episodes {args.episodes}"
            + (f" --first {args.first}" if args.first else ""),
            "config": str(args.config.relative_to(ROOT)),
            "planner": {
                "solver": "cem",
                "horizon": args.horizon,
                "frameskip": cfg.model.frameskip,
                "samples": args.samples,
                "iterations": args.iterations,
                "topk": args.topk,
                "pusher_weight": args.pusher_weight,
                "max_steps": cfg.eval.max_steps,
            },
            "seeds": [cfg.eval.seed + args.first, cfg.eval.seed + end - 1],
            "results": row,
            "episode_success": successes.tolist(),
            "seconds": time.perf_counter() - began,
            "provenance": provenance(),
        },
    )
    print(f"{row['successes']} / {row['episodes']} reached; wrote {out}")


if __name__ == "__main__":
    main()
