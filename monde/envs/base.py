"""The `Env` protocol every Monde environment satisfies.

A batched, seeded, pixel-rendering environment: `num_envs` copies step in lock-step, observations
are uint8 RGB frames, and the ground-truth state is exposed for probes and success checks only.
This module knows nothing about any concrete environment, models or torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Env(Protocol):
    """A batch of `num_envs` environments stepped together (shape letters: see `monde.types`)."""

    num_envs: int
    action_dim: int  # env action dims; actions lie in [-1, 1]
    state_dim: int  # ground-truth state dims
    state_names: tuple[str, ...]  # a name per state dim, for probes and reports
    image_size: int  # frames are (image_size, image_size, channels)
    channels: int  # 3 (RGB), or 4 (RGB + depth as height above the floor)

    def reset(self, seeds: Sequence[int]) -> np.ndarray:
        """Sample a task (start + goal) per env from its seed → start frames (B, Hp, Wp, C)."""
        ...

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Apply actions (B, action_dim) (NaN -> ValueError, clipped to [-1, 1]); returns frames."""
        ...

    def state(self) -> np.ndarray:
        """(B, state_dim) float32 copy of the ground-truth state."""
        ...

    def goal_state(self) -> np.ndarray:
        """(B, state_dim) float32 goal state of the current task."""
        ...

    def goal_rgb(self) -> np.ndarray:
        """(B, Hp, Wp, C) uint8: the goal state rendered by the env itself."""
        ...

    def is_success(self) -> np.ndarray:
        """(B,) bool: whether each env is at its goal."""
        ...

    def reaches(self, states: np.ndarray, goals: np.ndarray) -> np.ndarray:
        """(B,) bool: the env's success test between any states (B, S) and goals (B, S)."""
        ...

    def render_states(self, states: np.ndarray) -> np.ndarray:
        """Render any (N, state_dim) states to (N, Hp, Wp, C) uint8 frames."""
        ...
