"""Goal-reaching evaluation: plan from the start to an environment-rendered goal, count successes.

Goals come from the environment (a goal state rendered to an image), never from training data;
episode i of an evaluation uses seed eval.seed + i, far from the collection seeds.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from tqdm import tqdm

from monde.config import EnvConfig, EvalConfig, PlanConfig
from monde.envs import make_env
from monde.models.world_model import WorldModel
from monde.plan.mpc import MPCPlanner


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def summarise(success: np.ndarray, steps: np.ndarray, plan_times: list[float]) -> dict:
    """success (N,) bool, steps (N,) env steps to success → the reported row."""
    n, k = len(success), int(success.sum())
    low, high = wilson_interval(k, n)
    row = {
        "episodes": n,
        "successes": k,
        "success_rate": k / n,
        "ci95": [low, high],
        "mean_steps_to_goal": float(steps[success].mean()) if k else None,
    }
    if plan_times:
        row["plan_ms_median"] = 1000 * float(np.median(plan_times))
        row["plan_ms_p95"] = 1000 * float(np.percentile(plan_times, 95))
    return row


def _run_batch(env, seeds, frameskip, max_steps, choose_actions, on_step=None):
    """Roll out one batch of episodes; choose_actions(m) → (B, frameskip·A_env) model action."""
    env.reset(seeds)
    b = env.num_envs
    success = np.zeros(b, bool)
    steps = np.full(b, max_steps, dtype=np.int64)
    t = 0
    for m in range(math.ceil(max_steps / frameskip)):
        block = choose_actions(m)  # (B, fs·A_env)
        per_step = block.reshape(b, frameskip, -1)  # (B, fs, A_env)
        for j in range(frameskip):
            if t >= max_steps:
                break
            frame = env.step(per_step[:, j])
            t += 1
            reached = env.is_success() & ~success
            steps[reached] = t
            success |= reached
        if success.all() or t >= max_steps:
            break
        if on_step is not None:
            on_step(frame, block)
    return success, steps


def evaluate_goal_reaching(
    model: WorldModel,
    env_cfg: EnvConfig,
    plan_cfg: PlanConfig,
    eval_cfg: EvalConfig,
    progress: bool = True,
) -> dict:
    """Run eval_cfg.episodes episodes with MPC (and, if asked, random actions); → result dict."""
    fs = model.cfg.frameskip
    results: dict = {}
    policies = ["planner"] + (["random"] if eval_cfg.random_baseline else [])
    for policy in policies:
        successes, steps_all, plan_times = [], [], []
        batches = range(0, eval_cfg.episodes, eval_cfg.batch)
        for first in tqdm(batches, desc=f"eval {policy}", disable=not progress):
            count = min(eval_cfg.batch, eval_cfg.episodes - first)
            seeds = [eval_cfg.seed + first + i for i in range(count)]
            env = make_env(
                env_cfg.name, count, image_size=env_cfg.image_size, random_wall=env_cfg.random_wall
            )
            if policy == "planner":
                planner = MPCPlanner(model, plan_cfg, seed=eval_cfg.seed + first)
                current: dict = {}

                def choose(m: int) -> np.ndarray:
                    if m == 0:
                        planner.reset(env.render_states(env.state()), env.goal_rgb())
                    if m % plan_cfg.receding == 0:
                        start = time.perf_counter()
                        current["plan"] = planner.plan().actions  # (B, H, A)
                        plan_times.append(time.perf_counter() - start)
                    return current["plan"][:, m % plan_cfg.receding].cpu().numpy()

                def observe(frame: np.ndarray, block: np.ndarray) -> None:
                    planner.observe(frame, torch.from_numpy(block))

                success, steps = _run_batch(env, seeds, fs, eval_cfg.max_steps, choose, observe)
            else:
                rng = np.random.default_rng(eval_cfg.seed + first)

                def choose(m: int) -> np.ndarray:
                    return rng.uniform(-1, 1, (count, fs * env.action_dim)).astype(np.float32)

                success, steps = _run_batch(env, seeds, fs, eval_cfg.max_steps, choose)
            successes.append(success)
            steps_all.append(steps)
        results[policy] = summarise(
            np.concatenate(successes), np.concatenate(steps_all), plan_times
        )
    return results


@torch.inference_mode()
def time_single_plan(
    model: WorldModel, env_cfg: EnvConfig, plan_cfg: PlanConfig, calls: int = 30, seed: int = 0
) -> dict:
    """Median and p95 wall time of one replanning call for a single episode."""
    env = make_env(env_cfg.name, 1, image_size=env_cfg.image_size, random_wall=env_cfg.random_wall)
    env.reset([seed])
    planner = MPCPlanner(model, plan_cfg, seed=seed)
    planner.reset(env.render_states(env.state()), env.goal_rgb())
    times = []
    for _ in range(calls + 3):
        start = time.perf_counter()
        planner.plan()
        times.append(time.perf_counter() - start)
    times = times[3:]  # warm-up calls excluded
    return {
        "calls": calls,
        "median_ms": 1000 * float(np.median(times)),
        "p95_ms": 1000 * float(np.percentile(times, 95)),
        "samples": plan_cfg.samples,
        "iterations": plan_cfg.iterations,
        "horizon": plan_cfg.horizon,
        "threads": torch.get_num_threads(),
    }
