"""Batched Monde environments built from Gymnasium environments that render `rgb_array`.

`GymBatch` steps `num_envs` copies of one Gymnasium environment in lock-step and satisfies the
`Env` protocol (monde.envs.base). What differs between environments lives in a `GymTask`: how to
read and write the ground-truth state, how to sample a goal state, the success test and the
mapping from Monde's actions in [−1, 1] to the environment's own actions. A goal image is the
environment's own rendering of a goal state (the state set, rendered, then the start restored;
or, for environments whose state cannot be set, the frame reached by replaying a policy from the
same seed), never a frame of the training data.

This module knows nothing about models or torch; it imports no concrete environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class GymTask(Protocol):
    """The environment-specific half of a `GymBatch` (state, goals, success, actions)."""

    state_names: tuple[str, ...]  # a name per ground-truth state dim
    action_dim: int  # Monde action dims; Monde actions lie in [−1, 1]

    def make(self) -> Any:
        """A new Gymnasium env (render_mode 'rgb_array', frames of the configured size)."""
        ...

    def get_state(self, env: Any) -> np.ndarray:
        """(S,) float64 ground-truth state of `env`."""
        ...

    def set_state(self, env: Any, state: np.ndarray) -> None:
        """Put `env` in `state` (S,) so that its next render shows it (NotImplementedError if
        the environment's state cannot be set)."""
        ...

    def make_goal(self, env: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Goal state (S,) and goal frame (Hp, Wp, 3) for `env`, just reset with `seed`; leaves
        `env` in its start state."""
        ...

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        """Whether `state` reaches `goal` (both (S,))."""
        ...

    def env_action(self, env: Any, action: np.ndarray) -> np.ndarray:
        """Monde action (A,) in [−1, 1] → the environment's action."""
        ...

    def render(self, env: Any) -> np.ndarray:
        """(Hp, Wp, C) uint8 frame of `env` as it is now (C = 3 RGB, or 4 with depth)."""
        ...


def observation_is_frame(task: GymTask) -> bool:
    """Whether `task` declares (`observation_is_frame = True`) that its env's `step` returns as
    observation the very frame `render` would give after it: `GymBatch` then keeps that frame
    instead of rendering the same state twice (PushT renders in `step`, at half a step's cost)."""
    return bool(getattr(task, "observation_is_frame", False))


def goal_by_setting_state(
    task: GymTask, env: Any, goal: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Render `goal` by setting it in `env`, then restore the start: for `make_goal`.

    The goal is rounded to float32 first, the precision `goal_state()` reports, so that the goal
    image is exactly the rendering of the reported goal state."""
    goal = np.asarray(goal, dtype=np.float32).astype(np.float64)
    start = task.get_state(env)
    task.set_state(env, goal)
    frame = task.render(env)
    task.set_state(env, start)
    return goal, frame


class GymBatch:
    """`num_envs` copies of a Gymnasium environment behind Monde's batched `Env` protocol."""

    def __init__(self, num_envs: int, task: GymTask, image_size: int, channels: int = 3) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be ≥ 1, got {num_envs}")
        self.num_envs, self.task, self.image_size = int(num_envs), task, int(image_size)
        self.channels = int(channels)  # 3: RGB; 4: RGB + depth
        self.envs = [task.make() for _ in range(self.num_envs)]
        self._frame_in_observation = observation_is_frame(task)
        self._painter = task.make()  # renders arbitrary states; never stepped
        self._painter.reset(seed=0)
        self.action_dim = task.action_dim
        self.state_names = tuple(task.state_names)
        self.state_dim = len(self.state_names)
        self._goals: np.ndarray | None = None  # (B, S)
        self._goal_frames: np.ndarray | None = None  # (B, Hp, Wp, C)

    def reset(self, seeds: Sequence[int]) -> np.ndarray:
        seeds = [int(s) for s in seeds]
        if len(seeds) != self.num_envs:
            raise ValueError(f"reset needs {self.num_envs} seeds, got {len(seeds)}")
        goals, goal_frames, frames = [], [], []
        for env, seed in zip(self.envs, seeds, strict=True):
            env.reset(seed=seed)
            goal, goal_frame = self.task.make_goal(env, seed)
            goals.append(goal)
            goal_frames.append(goal_frame)
            frames.append(self.task.render(env))
        self._goals = np.stack(goals)
        self._goal_frames = np.stack(goal_frames)
        return self._check_frames(np.stack(frames))

    def step(self, actions: np.ndarray) -> np.ndarray:
        self._check_reset()
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.num_envs, self.action_dim):
            raise ValueError(
                f"actions must have shape {(self.num_envs, self.action_dim)}, got {actions.shape}"
            )
        if not np.isfinite(actions).all():
            raise ValueError("actions contain NaN or inf")
        actions = np.clip(actions, -1.0, 1.0)
        frames = []
        for env, action in zip(self.envs, actions, strict=True):
            observation = env.step(self.task.env_action(env, action))[0]
            if self._frame_in_observation:
                frames.append(np.ascontiguousarray(observation, dtype=np.uint8))
            else:
                frames.append(self.task.render(env))
        return self._check_frames(np.stack(frames))

    def _check_reset(self) -> None:
        if self._goals is None:
            raise RuntimeError("call reset(seeds) before step()")

    def _check_frames(self, frames: np.ndarray) -> np.ndarray:
        expected = (self.num_envs, self.image_size, self.image_size, self.channels)
        if frames.shape != expected or frames.dtype != np.uint8:
            raise RuntimeError(
                f"{type(self.task).__name__} rendered {frames.shape} {frames.dtype} frames, "
                f"expected {expected} uint8"
            )
        return frames

    def state(self) -> np.ndarray:
        self._check_reset()
        return np.stack([self.task.get_state(env) for env in self.envs]).astype(np.float32)

    def goal_state(self) -> np.ndarray:
        self._check_reset()
        return self._goals.astype(np.float32)

    def goal_rgb(self) -> np.ndarray:
        self._check_reset()
        return self._goal_frames.copy()

    def is_success(self) -> np.ndarray:
        self._check_reset()
        return self.reaches(self.state(), self._goals)

    def reaches(self, states: np.ndarray, goals: np.ndarray) -> np.ndarray:
        states, goals = np.asarray(states, np.float64), np.asarray(goals, np.float64)
        return np.array(
            [self.task.is_success(s, g) for s, g in zip(states, goals, strict=True)], dtype=bool
        )

    def render_states(self, states: np.ndarray) -> np.ndarray:
        states = np.asarray(states, dtype=np.float64)
        if states.ndim != 2 or states.shape[1] != self.state_dim:
            raise ValueError(f"states must have shape (N, {self.state_dim}), got {states.shape}")
        frames = []
        for state in states:
            self.task.set_state(self._painter, state)
            frames.append(self.task.render(self._painter))
        if not frames:
            return np.zeros((0, self.image_size, self.image_size, self.channels), np.uint8)
        return np.stack(frames)

    def close(self) -> None:
        for env in [*self.envs, self._painter]:
            env.close()
