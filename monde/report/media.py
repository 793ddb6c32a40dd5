"""Images and GIFs as bytes: frames in, PNG/GIF out (Pillow). Knows nothing about models."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

SEPARATOR_RGB = (255, 255, 255)


def upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of (..., Hp, Wp, C) uint8 frames by an integer factor."""
    if factor < 1:
        raise ValueError(f"upscale factor must be ≥ 1, got {factor}")
    return frames.repeat(factor, axis=-3).repeat(factor, axis=-2)


def side_by_side(panels: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Panels of equal shape (T, Hp, Wp, C) → (T, Hp, k·Wp + (k−1)·gap, C) with white gaps."""
    if not panels:
        raise ValueError("side_by_side needs at least one panel")
    shapes = {p.shape for p in panels}
    if len(shapes) != 1:
        raise ValueError(f"side_by_side panels differ in shape: {sorted(shapes)}")
    t, h, _, c = panels[0].shape
    sep = np.empty((t, h, gap, c), np.uint8)
    sep[...] = np.array(SEPARATOR_RGB[:c], np.uint8)
    parts: list[np.ndarray] = []
    for i, p in enumerate(panels):
        parts += [sep, p] if i else [p]
    return np.concatenate(parts, axis=2)


def png_bytes(image: np.ndarray) -> bytes:
    """(Hp, Wp, 3) uint8 → PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: np.ndarray, fps: float = 4.0, loop: int = 0) -> bytes:
    """(T, Hp, Wp, 3) uint8 → an animated GIF (looping forever by default)."""
    if frames.ndim != 4 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"gif_bytes needs uint8 frames (T, Hp, Wp, 3), got {frames.shape}")
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=int(round(1000 / fps)),
        loop=loop,
        disposal=1,
    )
    return buf.getvalue()
