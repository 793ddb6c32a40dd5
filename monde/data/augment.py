"""Random-shift augmentation of training windows (DrQ's random shift, applied per window).

Each window of a batch is translated by its own (dy, dx) drawn uniformly from [−k, k]², the
same for every frame of the window, so the motion inside a window is untouched; pixels shifted
in from outside the frame repeat the frame's edge. A model trained this way sees every wall,
object and agent position up to k pixels from where the data put it, which is what a scene
never seen in training (a wall in a held-out cell) asks of it.

It works on uint8 frames by indexing, so it costs one gather and no float copy.
"""

from __future__ import annotations

import torch
from torch import Tensor


def shift_offsets(seed: int, step: int, rows: int, pad: int) -> Tensor:
    """The (dy, dx) of every row of a step's global batch, (rows, 2) int64 in [−pad, pad].

    A function of (seed, step) and the global row only: each rank and micro-batch takes its
    own rows of it, so a run shifts the same windows the same way on 1 or N processes and
    with any train.grad_accum_steps.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step + 7_919)
    return torch.randint(-pad, pad + 1, (rows, 2), generator=generator)


def random_shift(frames: Tensor, offsets: Tensor) -> Tensor:
    """frames (B, L, H, W, C), offsets (B, 2) → the same shape, window b translated by
    offsets[b] = (dy_b, dx_b): out[b, t, i, j] = frames[b, t, clamp(i + dy_b), clamp(j + dx_b)]
    (edges repeated)."""
    b, length, h, w = frames.shape[:4]
    if tuple(offsets.shape) != (b, 2):
        raise ValueError(f"expected offsets of shape ({b}, 2), got {tuple(offsets.shape)}")
    dev = frames.device
    offsets = offsets.to(dev)
    rows = (torch.arange(h, device=dev) + offsets[:, :1]).clamp_(0, h - 1)  # (B, H)
    cols = (torch.arange(w, device=dev) + offsets[:, 1:]).clamp_(0, w - 1)  # (B, W)
    batch = torch.arange(b, device=dev)[:, None, None, None]  # (B, 1, 1, 1)
    time = torch.arange(length, device=dev)[None, :, None, None]  # (1, L, 1, 1)
    # broadcast to (B, L, H, W) indices; the channel dim rides along → (B, L, H, W, C)
    return frames[batch, time, rows[:, None, :, None], cols[:, None, None, :]]
