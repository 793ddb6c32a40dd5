"""The one preprocessing path from uint8 frames to model input.

Training, planning and evaluation all call `frames_to_input`, so the model never sees pixels
scaled one way in training and another way at test time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def frames_to_input(frames: np.ndarray | Tensor, image_size: int, channels: int = 3) -> Tensor:
    """uint8 frames (..., Hp, Wp, C) → float32 (N, C, Hp, Wp) in [−1, 1], channels_last memory.

    Leading dimensions are flattened into N; the caller restores them.
    """
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    expected = (image_size, image_size, channels)
    if frames.dtype != torch.uint8 or frames.ndim < 4 or tuple(frames.shape[-3:]) != expected:
        raise ValueError(
            f"expected uint8 frames of shape (..., {image_size}, {image_size}, {channels}); "
            f"got {frames.dtype} {tuple(frames.shape)}"
        )
    x = frames.reshape(-1, *expected)  # (N, Hp, Wp, C)
    x = x.permute(0, 3, 1, 2)  # (N, C, Hp, Wp), a channels_last view of the same memory
    return x.float().mul_(2.0 / 255.0).sub_(1.0)
