"""Collection loop: run a batched environment under an exploration policy, store episodes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from monde.config import DataConfig, EnvConfig
from monde.config_io import to_dict
from monde.data.store import EpisodeStore
from monde.envs import DoorExplorer, coverage, make_env
from monde.envs.policies import PushTPusher, SmoothRandomPolicy
from monde.envs.registry import close_env
from monde.progress import tqdm
from monde.types import Episode


class RandomPolicy:
    """Uniform random actions in [−1, 1]."""

    def __init__(self, action_dim: int, num_envs: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.shape = (num_envs, action_dim)

    def reset(self, states: np.ndarray) -> None:
        pass

    def act(self, states: np.ndarray | None) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, self.shape).astype(np.float32)


def make_policy(name: str, env, env_cfg, seed: int):
    if name == "door_explorer":
        return DoorExplorer(env_cfg, env.num_envs, seed)
    if name == "random":
        return RandomPolicy(env.action_dim, env.num_envs, seed)
    if name == "smooth_random":
        return SmoothRandomPolicy(env.action_dim, env.num_envs, seed)
    if name == "pusht_pusher":
        return PushTPusher(env.num_envs, seed)
    raise ValueError(
        f"unknown data.policy {name!r}; valid: 'door_explorer', 'random', 'smooth_random', "
        "'pusht_pusher'"
    )


def collect(
    env_cfg: EnvConfig, data_cfg: DataConfig, out: str | Path, progress: bool = True
) -> dict:
    """Collect `data_cfg.episodes` episodes into a new store at `out`; returns coverage stats.

    Episode i is reset with seed data_cfg.seed + i and the explorer of each batch of num_envs
    episodes is seeded by its first seed, so the same config re-creates the dataset exactly.
    """
    clock = time.perf_counter()
    env = make_env(env_cfg.name, data_cfg.num_envs, **env_cfg.env_kwargs("collect"))
    store = EpisodeStore.create(
        out,
        info={
            "env": env_cfg.name,
            "image_size": env_cfg.image_size,
            "random_wall": env_cfg.random_wall,
            "policy": data_cfg.policy,
            "fps": getattr(env, "fps", None),
            "frameskip": 1,
            "action_low": -1.0,
            "action_high": 1.0,
            "seed": data_cfg.seed,
            "action_dim": env.action_dim,
            "state_dim": env.state_dim,
            "state_names": list(env.state_names),
            "env_config": to_dict(env_cfg),
            "data_config": to_dict(data_cfg),
        },
    )
    all_states = []
    bar = tqdm(total=data_cfg.episodes, desc="collect", unit="ep", disable=not progress)
    for first in range(0, data_cfg.episodes, data_cfg.num_envs):
        count = min(data_cfg.num_envs, data_cfg.episodes - first)
        seeds = [data_cfg.seed + first + i for i in range(data_cfg.num_envs)]
        policy = make_policy(data_cfg.policy, env, getattr(env, "cfg", None), seeds[0])
        frames = [env.reset(seeds)]  # list of (B, Hp, Wp, C)
        states = [env.state()]
        policy.reset(states[0])
        actions = []
        for _ in range(data_cfg.steps_per_episode):
            action = policy.act(states[-1])  # (B, A_env)
            frames.append(env.step(action))
            states.append(env.state())
            actions.append(action)
        frames_b = np.stack(frames, axis=1)  # (B, T+1, Hp, Wp, C)
        actions_b = np.stack(actions, axis=1).astype(np.float32)  # (B, T, A_env)
        states_b = np.stack(states, axis=1)  # (B, T+1, S)
        store.extend(
            [
                Episode(frames_b[i], actions_b[i], states_b[i], {"seed": seeds[i]})
                for i in range(count)
            ]
        )
        all_states.extend(states_b[:count])
        bar.update(count)
    bar.close()
    stats = coverage(np.stack(all_states), env.cfg) if hasattr(env, "cfg") else {}
    close_env(env)
    # collect_seconds lets a later run that reuses this store report the collection time
    store.set_info(coverage=stats, collect_seconds=time.perf_counter() - clock)
    return stats


def load_episodes(path: str | Path, progress: bool = True) -> list[Episode]:
    store = EpisodeStore(path)
    return [store[i] for i in tqdm(range(len(store)), desc="load", unit="ep", disable=not progress)]
