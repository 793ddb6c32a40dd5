"""Observations that show motion: the last k frames of an env stacked on the channel axis.

One frame shows where things are, not how fast they move. Reacher's arm swings at up to
~10 rad/s and success asks for it to stop at the goal: a model that sees one frame can neither
predict the next pose nor tell a resting arm from one swinging through the goal (Reacher with
its joint speeds as proprioception plans to 44 % at the quick budget, without them 0 %:
benchmarks/results/experiments/reacher_quick_velocity_oracle.json). `FrameStack(env, k)`
turns every frame the env returns into the current frame followed by the k − 1 before it —
(B, Hp, Wp, k·C), current first, so that `[..., :C]` is still today's frame for every viewer —
the way DQN and DrQ stack Atari and DeepMind Control frames.

After a reset the earlier slots repeat the first frame: the env starts at rest. A goal, and any
state `render_states` draws, is its frame held for k steps: the goal is reached at rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class FrameStack:
    """Wraps a batched Env; frames become (B, Hp, Wp, k·C), newest first. Everything else
    (states, goals, success, actions) is the wrapped env's."""

    def __init__(self, env: Any, k: int) -> None:
        if k < 1:
            raise ValueError(f"env.frame_stack must be ≥ 1, got {k}")
        self.env, self.k = env, int(k)
        self.channels = self.k * int(env.channels)
        self._history: np.ndarray | None = None  # (B, k, Hp, Wp, C), newest first

    def __getattr__(self, name: str) -> Any:  # num_envs, state_names, close, … of the env
        if name == "env":  # not yet set (e.g. while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.env, name)

    def held(self, frames: np.ndarray) -> np.ndarray:
        """Frames (N, Hp, Wp, C) as observations at rest: each k times → (N, Hp, Wp, k·C)."""
        return np.concatenate([frames] * self.k, axis=-1)

    def _stacked(self) -> np.ndarray:
        b, k, h, w, c = self._history.shape  # (B, k, Hp, Wp, C) → (B, Hp, Wp, k·C), newest first
        return self._history.transpose(0, 2, 3, 1, 4).reshape(b, h, w, k * c)

    def reset(self, seeds: Sequence[int]) -> np.ndarray:
        frames = self.env.reset(seeds)  # (B, Hp, Wp, C)
        self._history = np.repeat(frames[:, None], self.k, axis=1)
        return self._stacked()

    def step(self, actions: np.ndarray) -> np.ndarray:
        if self._history is None:
            raise RuntimeError("FrameStack.step before reset")
        frames = self.env.step(actions)  # (B, Hp, Wp, C)
        self._history = np.concatenate([frames[:, None], self._history[:, :-1]], axis=1)
        return self._stacked()

    def reset_at(self, indices: Sequence[int], seeds: Sequence[int]) -> np.ndarray:
        """Re-sample some envs' tasks (an env that offers it): their stacks restart at rest."""
        frames = self.env.reset_at(indices, seeds)  # (len(indices), Hp, Wp, C)
        if self._history is None:
            raise RuntimeError("FrameStack.reset_at before reset")
        self._history[np.asarray(indices, dtype=np.int64)] = frames[:, None]
        return self.held(frames)

    def goal_rgb(self) -> np.ndarray:
        return self.held(self.env.goal_rgb())

    def render_states(self, states: np.ndarray) -> np.ndarray:
        return self.held(self.env.render_states(states))
