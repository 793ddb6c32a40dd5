"""Goal-reaching evaluation: plan from the start to an environment-rendered goal, count successes.

Goals come from the environment (a goal state rendered to an image), never from training data;
episode i of an evaluation uses seed eval.seed + i, far from the collection seeds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from monde.config import EnvConfig, EvalConfig, PlanConfig
from monde.envs import make_env
from monde.envs.policies import RandomPolicy
from monde.envs.registry import close_env
from monde.eval.protocols import evaluation_env
from monde.models.world_model import WorldModel, WorldModelProtocol
from monde.plan.mpc import MPCPlanner
from monde.plan.waypoints import WaypointGraph
from monde.precision import resolve_precision
from monde.progress import tqdm


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def summarise(
    success: np.ndarray,
    steps: np.ndarray,
    plan_times: list[float],
    seeds: Sequence[int] | None = None,
) -> dict:
    """success (N,) bool, steps (N,) env steps to success → the reported row.

    Episodes at their goal before any action (steps 0, `run_episodes`) are no test of a policy:
    they are counted as `solved_at_start` and left out of `episodes` and the success rate. With
    the episodes' `seeds` (N,), the row lists the seeds it scored (`episode_seeds`) and those
    that succeeded (`succeeded_seeds`): two rows of the same seeds then compare episode by
    episode (benchmarks/paired_successes.py)."""
    success, steps = np.asarray(success, bool), np.asarray(steps)
    if seeds is not None and len(seeds) != len(success):
        raise ValueError(f"{len(seeds)} seeds for {len(success)} episodes")
    at_start = success & (steps == 0)
    success, steps = success[~at_start], steps[~at_start]
    n, k = len(success), int(success.sum())
    low, high = wilson_interval(k, n)
    row = {
        "episodes": n,
        "successes": k,
        "success_rate": k / n if n else 0.0,
        "ci95": [low, high],
        "mean_steps_to_goal": float(steps[success].mean()) if k else None,
        "solved_at_start": int(at_start.sum()),
    }
    if plan_times:
        row["plan_ms_median"] = 1000 * float(np.median(plan_times))
        row["plan_ms_p95"] = 1000 * float(np.percentile(plan_times, 95))
    if seeds is not None:
        kept = [int(seed) for seed, left_out in zip(seeds, at_start, strict=True) if not left_out]
        row["episode_seeds"] = kept
        row["succeeded_seeds"] = [s for s, ok in zip(kept, success, strict=True) if ok]
    return row


class PlannerPolicy:
    """Chooses model actions by MPC; replans every `plan_cfg.receding` model steps.

    Only episodes still active (not yet at their goal) are planned for: finished ones get zero
    actions, so a batch's planning cost shrinks as its episodes succeed.
    """

    def __init__(
        self,
        model: WorldModel,
        plan_cfg: PlanConfig,
        seed: int,
        waypoints: WaypointGraph | None = None,
        cost_basis: Tensor | None = None,
    ):
        self.planner = MPCPlanner(
            model, plan_cfg, seed=seed, waypoints=waypoints, cost_basis=cost_basis
        )
        self.receding = plan_cfg.receding
        self.plan_times: list[float] = []

    def start(self, env, frames: np.ndarray) -> None:
        self.planner.reset(frames, env.goal_rgb(), env.state(), env.goal_state())
        self.current = np.zeros((env.num_envs, 1, self.planner.model.action_dim), np.float32)

    def choose(self, m: int, active: np.ndarray | None = None) -> np.ndarray:
        """Model actions (B, A) for model step m; active (B,) bool, None for all."""
        if m % self.receding == 0 and (active is None or active.any()):
            start = time.perf_counter()
            result = self.planner.plan(active)  # actions (b, H, A) for the active episodes
            self.plan_times.append(time.perf_counter() - start)
            actions = result.actions.detach().cpu().numpy()
            if active is None:
                self.current = actions
            else:
                self.current = np.zeros((len(active), *actions.shape[1:]), np.float32)
                self.current[active] = actions  # finished episodes stay put
        return self.current[:, m % self.receding]

    def observe(self, frame: np.ndarray, block: np.ndarray, states: np.ndarray) -> None:
        self.planner.observe(frame, torch.from_numpy(block), states)


class RandomActions:
    """Uniform random model actions in [−1, 1]: the baseline every success rate stands beside."""

    def __init__(self, action_dim: int, seed: int):
        self.action_dim, self.seed = action_dim, seed
        self.plan_times: list[float] = []

    def start(self, env, frames: np.ndarray) -> None:
        self.policy = RandomPolicy(self.action_dim, env.num_envs, self.seed)

    def choose(self, m: int, active: np.ndarray | None = None) -> np.ndarray:
        return self.policy.act(None)

    def observe(self, frame: np.ndarray, block: np.ndarray, states: np.ndarray) -> None:
        pass


StepWatcher = Callable[[np.ndarray, np.ndarray], None]
"""(frames (B, Hp, Wp, C) uint8, success (B,) bool so far) → None: sees an episode batch."""


def run_episodes(
    env,
    seeds,
    policy,
    frameskip: int,
    max_steps: int,
    on_step: StepWatcher | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Roll out one batch of episodes; success is reaching the goal within max_steps env steps.

    → success (B,) bool, steps (B,) environment steps to the first success (max_steps if never;
    0 for an episode already at its goal after the reset, which is not planned for).
    `on_step`, when given, is called with the frames after the reset and after every model step
    (the last one possibly cut short by max_steps), and the success so far (e.g. the report's
    planned-episode GIFs).
    """
    frames = env.reset(seeds)
    policy.start(env, frames)
    b = env.num_envs
    success = env.is_success().astype(bool)  # at the goal before any action: solved at t = 0
    steps = np.where(success, 0, max_steps).astype(np.int64)
    if on_step is not None:
        on_step(frames, success.copy())
    if success.all():
        return success, steps
    t = 0
    for m in range(math.ceil(max_steps / frameskip)):
        block = policy.choose(m, ~success)  # (B, fs·A_env); finished episodes are not planned
        per_step = block.reshape(b, frameskip, -1)  # (B, fs, A_env)
        for j in range(min(frameskip, max_steps - t)):
            frame = env.step(per_step[:, j])
            t += 1
            reached = env.is_success() & ~success
            steps[reached] = t
            success |= reached
        if on_step is not None:
            on_step(frame, success.copy())
        if success.all() or t >= max_steps:
            break
        policy.observe(frame, block, env.state())
    return success, steps


def check_env_fits_model(env_cfg: EnvConfig, model: WorldModelProtocol) -> None:
    """Fail before any planning if the environment's frames or actions do not fit the model."""
    env = make_env(env_cfg.name, 1, **env_cfg.env_kwargs("eval"))
    close_env(env)  # only its attributes are read
    if env.image_size != model.image_size:
        raise ValueError(
            f"env.image_size is {env.image_size} but the model takes {model.image_size} px "
            "frames; evaluate with the run's own config"
        )
    channels = getattr(env, "channels", 3)
    if channels != model.in_channels:
        raise ValueError(
            f"env {env_cfg.name!r} renders {channels}-channel frames but the model takes "
            f"{model.in_channels} (depth: the env's `depth` option and model.in_channels: 4; "
            f"stacked frames: env.frame_stack, {env_cfg.frame_stack} here, × 3 or 4 channels)"
        )
    if model.proprio:
        names = env.state_names
        seen = [names[i] if i < len(names) else "?" for i in model.proprio_indices]
        if seen != list(model.proprio):
            raise ValueError(
                f"the model reads proprioception {list(model.proprio)} from state columns "
                f"{list(model.proprio_indices)}, but env {env_cfg.name!r} has {seen} there"
            )
    if env.action_dim * model.frameskip != model.action_dim:
        raise ValueError(
            f"the model's actions have {model.action_dim} dims, not env.action_dim "
            f"{env.action_dim} × frameskip {model.frameskip}"
        )


def evaluate_goal_reaching(
    model: WorldModel,
    env_cfg: EnvConfig,
    plan_cfg: PlanConfig,
    eval_cfg: EvalConfig,
    progress: bool = True,
    collection_policy: str = "auto",
    waypoints: WaypointGraph | None = None,
    cost_basis: Tensor | None = None,
) -> dict:
    """Run eval_cfg.episodes episodes with MPC (and, if asked, random actions); → result dict.

    `collection_policy` (data.policy) makes the goals of eval_cfg.protocol 'swm'; `waypoints`
    and `cost_basis` (monde.eval.memory) give the planner subgoals and its cost's directions.
    """
    fs = model.frameskip
    check_env_fits_model(env_cfg, model)
    results: dict = {}
    names = ["planner"] + (["random"] if eval_cfg.random_baseline else [])
    for name in names:
        successes, steps_all, plan_times, all_seeds = [], [], [], []
        batches = range(0, eval_cfg.episodes, eval_cfg.batch)
        for first in tqdm(batches, desc=f"eval {name}", disable=not progress):
            count = min(eval_cfg.batch, eval_cfg.episodes - first)
            seeds = [eval_cfg.seed + first + i for i in range(count)]
            env = evaluation_env(env_cfg, eval_cfg, count, collection_policy)
            policy = (
                PlannerPolicy(
                    model, plan_cfg, eval_cfg.seed + first, waypoints, cost_basis=cost_basis
                )
                if name == "planner"
                else RandomActions(model.action_dim, seed=eval_cfg.seed + first)
            )
            success, steps = run_episodes(env, seeds, policy, fs, eval_cfg.max_steps)
            close_env(env)  # MuJoCo batches hold GBs of render contexts: free before the next
            successes.append(success)
            steps_all.append(steps)
            plan_times += policy.plan_times
            all_seeds += seeds
        results[name] = summarise(
            np.concatenate(successes), np.concatenate(steps_all), plan_times, all_seeds
        )
    return results


@torch.inference_mode()
def time_single_plan(
    model: WorldModel,
    env_cfg: EnvConfig,
    plan_cfg: PlanConfig,
    calls: int = 30,
    seed: int = 0,
    episodes: int = 1,
    warmup: int = 3,
    waypoints: WaypointGraph | None = None,
    cost_basis: Tensor | None = None,
) -> dict:
    """Median and p95 wall time of one replanning call for `episodes` episodes planned together.

    The first `warmup` calls are timed separately (the first includes any torch.compile work)
    and left out of the median and p95.
    """
    env = make_env(env_cfg.name, episodes, **env_cfg.env_kwargs("eval"))
    frames = env.reset([seed + i for i in range(episodes)])
    planner = MPCPlanner(model, plan_cfg, seed=seed, waypoints=waypoints, cost_basis=cost_basis)
    planner.reset(frames, env.goal_rgb(), env.state(), env.goal_state())
    times = []
    for _ in range(calls + warmup):
        start = time.perf_counter()
        planner.plan()
        times.append(time.perf_counter() - start)
    close_env(env)
    first, times = times[0], times[warmup:]  # warm-up calls excluded
    precision = resolve_precision(plan_cfg.precision, planner.z_goal.device, "plan")[0]
    return {
        "calls": calls,
        "episodes": episodes,
        "median_ms": 1000 * float(np.median(times)),
        "p95_ms": 1000 * float(np.percentile(times, 95)),
        "first_call_ms": 1000 * first,
        "solver": plan_cfg.solver,
        "samples": plan_cfg.samples,
        "iterations": plan_cfg.iterations,
        "horizon": plan_cfg.horizon,
        "precision": precision,  # plan.precision as resolved on this device
        "bf16": precision == "bf16",
        "compile": plan_cfg.compile,
        "threads": torch.get_num_threads(),
    }
