"""Windowed sampler: random (history + horizon) windows with frameskip, uniform over windows.

A window of L frames starting at step t of an episode holds frames t, t+fs, …, t+(L−1)·fs and
L−1 model actions, each the concatenation of the fs environment actions between two frames.
Frames stay uint8 until the trainer's preprocessing.

The data order is a pure function of (seed, step): `step_indices` draws the global batch of
a step from a generator seeded by both, so a resumed run draws the same windows without saved
RNG state, and the ranks of a distributed run each take their own rows of the same global batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from monde.types import Episode

Batch = tuple[Tensor, Tensor, Tensor]
"""frames (B, L, Hp, Wp, C) uint8, actions (B, L−1, fs·A_env) float32, states (B, L, S)."""


def step_indices(num_windows: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """The window indices (batch_size,) of the global batch of training step `step`."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(num_windows, (batch_size,), generator=generator).numpy()


def rank_rows(batch_size: int, rank: int, world_size: int) -> slice:
    """The contiguous rows of a global batch that process `rank` of `world_size` trains on."""
    if batch_size % world_size:
        raise ValueError(
            f"train.batch_size {batch_size} must be divisible by the {world_size} processes"
        )
    share = batch_size // world_size
    return slice(rank * share, (rank + 1) * share)


class WindowSampler:
    def __init__(self, episodes: Sequence[Episode], window: int, frameskip: int):
        if window < 2 or frameskip < 1:
            raise ValueError(f"window must be ≥ 2 and frameskip ≥ 1; got {window}, {frameskip}")
        self.window, self.frameskip = window, frameskip
        span = (window - 1) * frameskip  # environment steps covered by one window
        self.frames = np.concatenate([e.frames for e in episodes])  # (ΣT+1, Hp, Wp, C)
        self.actions = np.concatenate([e.actions for e in episodes])  # (ΣT, A_env)
        self.states = np.concatenate([e.states for e in episodes])  # (ΣT+1, S)
        frame_offsets = np.cumsum([0] + [len(e.frames) for e in episodes[:-1]])
        action_offsets = np.cumsum([0] + [len(e.actions) for e in episodes[:-1]])
        starts_f, starts_a = [], []
        for e, fo, ao in zip(episodes, frame_offsets, action_offsets, strict=False):
            n = e.num_steps - span + 1  # valid window starts in this episode
            if n > 0:
                starts_f.append(fo + np.arange(n))
                starts_a.append(ao + np.arange(n))
        if not starts_f:
            raise ValueError(
                f"no episode is long enough for windows of {window} frames with frameskip "
                f"{frameskip} ({span} steps)"
            )
        self.frame_starts = np.concatenate(starts_f)
        self.action_starts = np.concatenate(starts_a)
        self._frame_steps = np.arange(window) * frameskip  # (L,)
        # (L−1, fs): offsets of the environment actions of each model action
        self._action_steps = (
            np.arange(window - 1)[:, None] * frameskip + np.arange(frameskip)[None, :]
        )

    def __len__(self) -> int:
        return len(self.frame_starts)

    def get(self, indices: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
        """Windows by index → frames (B, L, Hp, Wp, C) uint8, actions (B, L−1, fs·A_env), states."""
        f_idx = self.frame_starts[indices][:, None] + self._frame_steps  # (B, L)
        a_idx = self.action_starts[indices][:, None, None] + self._action_steps  # (B, L−1, fs)
        b = len(indices)
        actions = self.actions[a_idx].reshape(b, self.window - 1, -1)  # (B, L−1, fs·A_env)
        return (
            torch.from_numpy(self.frames[f_idx]),
            torch.from_numpy(actions),
            torch.from_numpy(self.states[f_idx]),
        )

    def batches(
        self, batch_size: int, seed: int, start_step: int = 0, rank: int = 0, world_size: int = 1
    ) -> Iterator[Batch]:
        """This rank's rows of the global batch of each step from `start_step` on, forever.

        `batch_size` is the global batch; each of `world_size` ranks gets batch_size/world_size
        rows, and the ranks' rows together are exactly the one-process batch of that step.
        """
        rows = rank_rows(batch_size, rank, world_size)
        step = start_step
        while True:
            yield self.get(step_indices(len(self), batch_size, seed, step)[rows])
            step += 1
