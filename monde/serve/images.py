"""Decode and check request images: base64 raw uint8 with a shape, or PNG. Problems are
FieldError (→ 422 naming the field) or TooLarge (→ 413)."""

from __future__ import annotations

import base64
import binascii
import io
import math

import numpy as np

from monde.serve.schemas import Image


class FieldError(ValueError):
    """A request field that does not fit: `loc` names it as FastAPI does (body, goal, shape)."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc, self.message = loc, message


class TooLarge(ValueError):
    pass


def decode_image(image: Image, expected: tuple[int, int, int], max_bytes: int, loc: tuple):
    """→ uint8 array of shape `expected` (H, W, C)."""
    if len(image.data) > 4 * math.ceil(max_bytes / 3) + 4:
        raise TooLarge(f"{'.'.join(loc)}: image larger than {max_bytes} bytes")
    try:
        raw = base64.b64decode(image.data, validate=True)
    except (binascii.Error, ValueError):
        raise FieldError((*loc, "data"), "not valid base64") from None
    if len(raw) > max_bytes:
        raise TooLarge(f"{'.'.join(loc)}: image larger than {max_bytes} bytes")
    if image.encoding == "raw":
        if image.shape is None:
            raise FieldError((*loc, "shape"), "required for raw images: (H, W, C)")
        if tuple(image.shape) != expected:
            raise FieldError(
                (*loc, "shape"), f"the model takes {list(expected)}, got {image.shape}"
            )
        if len(raw) != math.prod(expected):
            raise FieldError(
                (*loc, "data"),
                f"{len(raw)} bytes, but shape {list(expected)} needs {math.prod(expected)}",
            )
        return np.frombuffer(raw, np.uint8).reshape(expected).copy()  # writable, for torch
    return _decode_png(raw, expected, loc)


def _decode_png(raw: bytes, expected: tuple[int, int, int], loc: tuple) -> np.ndarray:
    from PIL import Image as PILImage

    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise FieldError((*loc, "data"), "not a PNG file")
    h, w, c = expected
    try:
        with PILImage.open(io.BytesIO(raw), formats=["PNG"]) as img:
            if img.size != (w, h):  # read from the header, before any pixel is decoded
                raise FieldError(
                    (*loc, "data"), f"PNG is {img.size[1]}×{img.size[0]}, the model takes {h}×{w}"
                )
            mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
            if mode is None or img.mode != mode:
                raise FieldError(
                    (*loc, "data"), f"PNG mode {img.mode}, the model takes {c} channels ({mode})"
                )
            array = np.array(img.convert(mode), np.uint8)  # a writable copy
    except FieldError:
        raise
    except Exception as err:  # PIL raises many kinds for a damaged file
        raise FieldError((*loc, "data"), f"unreadable PNG ({type(err).__name__})") from None
    return array.reshape(expected)
