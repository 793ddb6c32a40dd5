"""Environments by name: `make_env("two_room", num_envs, **overrides)`.

The registry imports no simulator: MuJoCo and PushT are imported when such an env is made.

Overrides are fields of the environment's config dataclass; unknown names and keys are rejected
with the valid choices. This module knows nothing about models or torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from monde.envs.base import Env
from monde.envs.exploration import coverage
from monde.envs.frame_stack import FrameStack
from monde.envs.generic import GenericConfig, GenericGym
from monde.envs.point_maze import PointMaze, PointMazeConfig
from monde.envs.push_t import PushT, PushTConfig
from monde.envs.reacher import PROPRIO as REACHER_PROPRIO
from monde.envs.reacher import Reacher, ReacherConfig
from monde.envs.two_room import TwoRoom, TwoRoomConfig


@dataclass(frozen=True)
class EnvEntry:
    """How to build one registered environment, and what it offers the rest of Monde.

    Code outside monde/envs reads these fields instead of naming an environment or its state
    columns: a new environment declares here which measures apply to it.
    """

    config_cls: type  # dataclass of the env's settings
    factory: Callable[[int, Any], Env]  # (num_envs, config) -> Env
    proprio: tuple[str, ...] = ()  # state columns a robot would sense itself (proprioception)
    depth: bool = False  # whether the env renders RGB-D frames with options depth: true
    policy: str = "smooth_random"  # default collection policy (a name in monde.registry.POLICIES)
    scene: tuple[str, ...] = ()  # state columns that set a scene (evaluation-scene novelty)
    position: tuple[str, ...] = ()  # state columns of the agent's position (rollout error)
    wall: tuple[str, str] | None = None  # (agent column, wall column): wrong-side-of-wall measure
    coverage: Callable[[np.ndarray, Any], dict[str, float]] | None = None  # (states, cfg) → stats
    surprise: bool = False  # whether monde.eval.surprise can build its impossible-event clips
    bench: bool = False  # a row of `monde bench` without a preset of its own
    aliases: tuple[str, ...] = ()  # other spellings `monde bench` accepts
    # the dynamics are the same when the square frame is mirrored or turned by quarter turns,
    # each action an (x, y) displacement in the image's (column, row) axes turned alike:
    # `train.symmetry_augment` may be used (monde.data.augment.planar_symmetry)
    planar_symmetry: bool = False


ENV_REGISTRY: dict[str, EnvEntry] = {
    "two_room": EnvEntry(
        TwoRoomConfig,
        TwoRoom,
        ("agent_x", "agent_y"),
        policy="door_explorer",
        scene=("wall_x", "door_y"),
        position=("agent_x", "agent_y"),
        wall=("agent_x", "wall_x"),
        coverage=coverage,
        surprise=True,
        bench=True,
        aliases=("tworoom",),
    ),
    "reacher": EnvEntry(  # `mujoco` extra
        ReacherConfig, Reacher, REACHER_PROPRIO, depth=True, bench=True
    ),
    "point_maze": EnvEntry(
        PointMazeConfig,
        PointMaze,
        ("x", "y", "vx", "vy"),
        depth=True,
        bench=True,
        aliases=("pointmaze",),
    ),
    "push_t": EnvEntry(  # `pusht` extra
        PushTConfig,
        PushT,
        ("pusher_x", "pusher_y"),
        policy="pusht_pusher",
        bench=True,
        aliases=("pusht",),
        # a square arena with walls all round; the T is mirror-symmetric about its own axis
        # (tests/unit/test_push_t_state_model.py: the simulator moves turned episodes alike;
        # tests/unit/test_symmetry_augment.py: actions move the pusher along the frame's axes)
        planar_symmetry=True,
    ),
    "gym": EnvEntry(GenericConfig, GenericGym),  # any Gymnasium env: env.options.env_id=...
}


def env_entry(name: str) -> EnvEntry:
    """The registry entry of env `name`; ValueError naming the known envs when there is none."""
    if name not in ENV_REGISTRY:
        raise ValueError(f"unknown env {name!r}; known envs: {', '.join(sorted(ENV_REGISTRY))}")
    return ENV_REGISTRY[name]


def check_symmetry_augment(env_name: str, symmetry_augment: bool, proprio: Sequence[str]) -> None:
    """ValueError when `train.symmetry_augment` is asked of an env whose dynamics are not
    declared symmetric (its entry's `planar_symmetry`), or of a model with proprioception
    (the augmentation turns frames and actions, not states)."""
    if not symmetry_augment:
        return
    if not env_entry(env_name).planar_symmetry:
        symmetric = sorted(n for n, e in ENV_REGISTRY.items() if e.planar_symmetry)
        raise ValueError(
            f"train.symmetry_augment: env {env_name!r} does not declare its dynamics the same "
            f"in every orientation (planar_symmetry); envs that do: {', '.join(symmetric)}"
        )
    if proprio:
        raise ValueError(
            f"train.symmetry_augment turns frames and actions, not the proprioception "
            f"model.proprio {list(proprio)} reads; use it with a pixels-only model"
        )


def collection_policy(env_name: str, requested: str) -> str:
    """The collection policy `data.policy` names for env `env_name`: 'auto' is the env's own
    default (its entry's `policy`), any other name is itself."""
    return env_entry(env_name).policy if requested == "auto" else requested


def build_config(config_cls: type, overrides: dict[str, Any]) -> Any:
    """config_cls(**overrides), with a ValueError naming any unknown key and the valid keys."""
    valid = [f.name for f in fields(config_cls)]
    if "scene_split" in overrides and "scene_split" not in valid:
        raise ValueError(
            f"env.heldout_scenes: {config_cls.__name__} offers no held-out scenes (no "
            "scene_split option); set env.heldout_scenes: false"
        )
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown {config_cls.__name__} override(s) {unknown}; valid keys: {', '.join(valid)}"
        )
    return config_cls(**overrides)


def make_env(name: str, num_envs: int, frame_stack: int = 1, **overrides: Any) -> Env:
    """Build `num_envs` batched copies of the registered env `name`, its config overridden;
    with `frame_stack` k > 1 each observation is its last k frames (monde/envs/frame_stack.py)."""
    entry = env_entry(name)
    env = entry.factory(num_envs, build_config(entry.config_cls, overrides))
    return FrameStack(env, frame_stack) if frame_stack != 1 else env


def close_env(env: Env) -> None:
    """Release a batch's simulators (MuJoCo contexts, pymunk spaces); numpy envs hold none."""
    close = getattr(env, "close", None)
    if close is not None:
        close()
