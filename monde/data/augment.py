"""Augmentation of training windows: random shifts (DrQ's, per window) and, for scenes that
look and move alike in every orientation, the square's symmetries (`planar_symmetry`).

Random shift: each window of a batch is translated by its own (dy, dx) drawn uniformly from
[−k, k]², the same for every frame of the window, so the motion inside a window is untouched;
pixels shifted in from outside the frame repeat the frame's edge. A model trained this way sees
every wall, object and agent position up to k pixels from where the data put it, which is what
a scene never seen in training (a wall in a held-out cell) asks of it. It works on uint8 frames
by indexing, so it costs one gather and no float copy.

Symmetry: each window is mirrored or not and turned by a number of quarter turns, its frames
and its actions' (x, y) displacements alike, so that a model learns PushT's pushes in all eight
orientations of the square arena from the data of one.
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


# The square's symmetries: quarter turns of the image, each with or without a mirror image.
SYMMETRIES = 8


def symmetry_choices(seed: int, step: int, rows: int) -> Tensor:
    """The symmetry of every row of a step's global batch, (rows,) int64 in [0, 8): bit 2 says
    mirrored, the two low bits the quarter turns. A function of (seed, step) and the global row
    only, as `shift_offsets`."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step + 104_729)
    return torch.randint(0, SYMMETRIES, (rows,), generator=generator)


def action_matrix(choice: int) -> Tensor:
    """The (2, 2) map of an image-plane displacement (x along columns, y along rows) under
    symmetry `choice`: the mirror (x → −x) first, then the quarter turns as torch.rot90 turns
    the frame's (rows, columns), each taking (x, y) to (y, −x)."""
    mirror, turns = divmod(choice, 4)
    m = torch.tensor([[-1.0, 0.0], [0.0, 1.0]]) if mirror else torch.eye(2)
    quarter = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    return torch.linalg.matrix_power(quarter, turns) @ m


def planar_symmetry(frames: Tensor, actions: Tensor, choices: Tensor) -> tuple[Tensor, Tensor]:
    """frames (B, L, H, W, C) with H = W, actions (B, L−1, A) of A/2 image-plane (x, y)
    displacements, choices (B,) → both with window b mirrored (columns reversed) if choices[b]
    has bit 2 and turned by torch.rot90 (choices[b] mod 4) times, its actions mapped alike
    (`action_matrix`).

    For a scene whose dynamics are the same in every orientation (PushT's square arena: the
    `planar_symmetry` of its registry entry), each window so turned is a window the data could
    hold: the model meets every orientation of what it saw."""
    b, _, h, w = frames.shape[:4]
    if h != w:
        raise ValueError(f"symmetry augmentation needs square frames, got {h}×{w}")
    if actions.shape[-1] % 2:
        raise ValueError(f"actions of {actions.shape[-1]} dims are not (x, y) pairs")
    if tuple(choices.shape) != (b,):
        raise ValueError(f"expected {b} symmetry choices, got shape {tuple(choices.shape)}")
    dev = frames.device
    choices = choices.to(dev)
    # where each output pixel comes from, per symmetry: the transform applied to pixel indices
    flat = torch.arange(h * w, device=dev).view(h, w)
    turned = [
        torch.rot90(flat.flip(1) if c >= 4 else flat, c % 4, dims=(0, 1)) for c in range(SYMMETRIES)
    ]
    sources = torch.stack(turned)[choices]  # (B, H, W) flat source index
    length, channels = frames.shape[1], frames.shape[4]
    pixels = frames.reshape(b, length, h * w, channels)  # (B, L, H·W, C)
    index = sources.view(b, 1, h * w, 1).expand(b, length, h * w, channels)
    out = torch.gather(pixels, 2, index).view(frames.shape)  # one gather → (B, L, H, W, C)
    mats = torch.stack([action_matrix(c) for c in range(SYMMETRIES)]).to(actions)  # (8, 2, 2)
    pairs = actions.reshape(*actions.shape[:-1], -1, 2)  # (B, L−1, A/2, 2)
    turned = torch.einsum("btpj,bij->btpi", pairs, mats[choices.to(actions.device)])
    return out, turned.reshape(actions.shape)
