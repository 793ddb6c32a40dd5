"""Shared data types and the shape-letter legend used in comments across Monde.

Shape letters:
    B  batch (episodes, or windows in training)
    T  time (frames of a window or an episode)
    S  samples (candidate action sequences of a planner)
    H  planning horizon (model steps)
    D  latent dimension
    A  action dimension (of a model step: frameskip × env action dims)
    C, Hp, Wp  image channels, height, width (pixels)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Episode:
    """One recorded episode. Frames has one more entry than actions (the final observation)."""

    frames: np.ndarray  # (T+1, Hp, Wp, C) uint8
    actions: np.ndarray  # (T, A_env) float32
    states: np.ndarray  # (T+1, S_state) float32, ground truth for probes and success checks only
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4:
            raise ValueError(
                f"Episode.frames must be uint8 (T+1, H, W, C), got {self.frames.dtype} "
                f"{self.frames.shape}"
            )
        if self.actions.ndim != 2 or len(self.actions) + 1 != len(self.frames):
            raise ValueError(
                f"Episode.actions must be (T, A) with T = len(frames) - 1; got actions "
                f"{self.actions.shape} for frames {self.frames.shape}"
            )
        if len(self.states) != len(self.frames):
            raise ValueError(
                f"Episode.states must have one row per frame; got {self.states.shape} for frames "
                f"{self.frames.shape}"
            )
        if not np.isfinite(self.actions).all():
            raise ValueError("Episode.actions contains NaN or inf")

    @property
    def num_steps(self) -> int:
        return len(self.actions)
