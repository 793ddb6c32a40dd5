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


def shift_generator(seed: int, step: int, micro: int, rank: int, device: torch.device):
    """The shifts' generator of (step, micro-batch, rank): reproducible, distinct per rank."""
    mixed = ((seed * 1_000_003 + step) * 1_009 + micro) * 65_537 + rank + 7_919
    return torch.Generator(device=device).manual_seed(mixed % 2**63)


def random_shift(frames: Tensor, pad: int, generator: torch.Generator | None = None) -> Tensor:
    """frames (B, L, H, W, C) → the same shape, window b translated by (dy_b, dx_b) ∈ [−pad,
    pad]²: out[b, t, i, j] = frames[b, t, clamp(i + dy_b), clamp(j + dx_b)] (edges repeated).

    pad 0 returns `frames` itself.
    """
    if pad < 0:
        raise ValueError(f"train.shift_augment must be ≥ 0 pixels, got {pad}")
    if pad == 0:
        return frames
    b, length, h, w = frames.shape[:4]
    dev = frames.device
    offsets = torch.randint(
        -pad,
        pad + 1,
        (b, 2),
        generator=generator,
        device=generator.device if generator is not None else dev,
    ).to(dev)  # (B, 2): dy, dx
    rows = (torch.arange(h, device=dev) + offsets[:, :1]).clamp_(0, h - 1)  # (B, H)
    cols = (torch.arange(w, device=dev) + offsets[:, 1:]).clamp_(0, w - 1)  # (B, W)
    batch = torch.arange(b, device=dev)[:, None, None, None]  # (B, 1, 1, 1)
    time = torch.arange(length, device=dev)[None, :, None, None]  # (1, L, 1, 1)
    # broadcast to (B, L, H, W) indices; the channel dim rides along → (B, L, H, W, C)
    return frames[batch, time, rows[:, None, :, None], cols[:, None, None, :]]
