"""Multi-block masks over a grid of patch tokens (I-JEPA).

Per frame, `target_blocks` rectangles of patches are the targets whose latents are predicted;
the context is one large square block with the targets cut out of it. Every frame of a batch
gets target blocks of the same shapes (so that they hold the same number of tokens; positions
differ), and the contexts are cut to the smallest one's size by a random subset, as I-JEPA does.

Patch indices are row-major: patch (r, c) of a grid × grid grid is r · grid + c.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from monde.config import PretrainConfig


@dataclass
class Masks:
    context: Tensor  # (B, Kc) long: the patches the context encoder sees
    targets: Tensor  # (B, Σ h_m·w_m) long: the target blocks' patches, block after block
    shapes: list[tuple[int, int]]  # (h, w) of each target block, the same for the whole batch

    def to(self, device: torch.device) -> Masks:
        """The same masks with their index tensors on `device`."""
        return Masks(self.context.to(device), self.targets.to(device), self.shapes)


def block_shape(grid: int, scale: float, aspect: float) -> tuple[int, int]:
    """(h, w) of a block covering `scale` of a grid × grid grid with h / w ≈ `aspect`:
    h = round(√(scale · grid² · aspect)), w = round(√(scale · grid² / aspect)), each in
    [1, grid]."""
    area = scale * grid * grid
    h = round(math.sqrt(area * aspect))
    w = round(math.sqrt(area / aspect))
    return min(grid, max(1, h)), min(grid, max(1, w))


def block_indices(grid: int, top: int, left: int, h: int, w: int) -> np.ndarray:
    """Row-major patch indices of the h × w block whose top-left patch is (top, left) → (h·w,)."""
    rows = np.arange(top, top + h)[:, None]
    cols = np.arange(left, left + w)[None, :]
    return (rows * grid + cols).reshape(-1)


def _place(grid: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    top = int(rng.integers(0, grid - h + 1))
    left = int(rng.integers(0, grid - w + 1))
    return block_indices(grid, top, left, h, w)


def sample_masks(grid: int, batch: int, cfg: PretrainConfig, rng: np.random.Generator) -> Masks:
    """Context and target patches of `batch` frames on a grid × grid patch grid.

    Target block m has the shape block_shape(grid, s_m, a_m) with s_m uniform in
    cfg.target_scale and a_m log-uniform in cfg.target_aspect; the context block is square
    with its area uniform in cfg.context_scale. A frame whose targets leave fewer than 1 context
    patch has its targets placed again (up to 20 times; then its context is any non-target patch).
    With cfg.target_offset > 0 the targets belong to a later frame and are not cut out.
    """
    shapes = []
    for _ in range(cfg.target_blocks):
        scale = rng.uniform(*cfg.target_scale)
        aspect = math.exp(
            rng.uniform(math.log(cfg.target_aspect[0]), math.log(cfg.target_aspect[1]))
        )
        shapes.append(block_shape(grid, scale, aspect))
    side = block_shape(grid, rng.uniform(*cfg.context_scale), 1.0)
    everything = np.arange(grid * grid)
    targets, contexts = [], []
    for _ in range(batch):
        for _attempt in range(20):
            blocks = [_place(grid, h, w, rng) for h, w in shapes]
            covered = np.unique(np.concatenate(blocks))
            if cfg.target_offset:  # the targets lie in a later frame: the context keeps them
                covered = covered[:0]
            context = np.setdiff1d(_place(grid, *side, rng), covered)
            if len(context):
                break
        else:
            context = np.setdiff1d(everything, covered)
        targets.append(np.concatenate(blocks))
        contexts.append(context)
    keep = min(len(c) for c in contexts)
    contexts = [np.sort(rng.permutation(c)[:keep]) for c in contexts]  # a random subset each
    return Masks(
        context=torch.from_numpy(np.stack(contexts)).long(),
        targets=torch.from_numpy(np.stack(targets)).long(),
        shapes=shapes,
    )


def whole_grid(grid: int, batch: int) -> Masks:
    """Every patch is context and every patch a target (pretrain.view_shift: no masking)."""
    every = torch.arange(grid * grid).expand(batch, -1)  # (B, T)
    return Masks(context=every.clone(), targets=every.clone(), shapes=[(grid, grid)])
