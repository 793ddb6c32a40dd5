"""Headless, fast MuJoCo rendering for the Gymnasium MuJoCo environments.

`prepare_headless()` must run before `mujoco` is first imported (importing monde.envs runs it):
it selects EGL (no display needed) and one llvmpipe thread unless the user chose otherwise.
`fast_render(model)` turns off shadows and multisampling, which roughly triples Reacher's
frames/s on a CPU.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def prepare_headless() -> None:
    """Set MUJOCO_GL=egl and LP_NUM_THREADS=1 (unless set) before mujoco is imported."""
    if "mujoco" in sys.modules:
        return  # too late to choose the GL backend; keep whatever was chosen
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("LP_NUM_THREADS", "1")


def fast_render(model: Any) -> None:
    """No shadows, no multisampling: call before the first render of an env using `model`."""
    model.vis.quality.shadowsize = 0
    model.vis.quality.offsamples = 0


def top_down_camera(distance: float) -> dict:
    """A camera config looking straight down at the origin from `distance`."""
    import numpy as np

    return {
        "distance": distance,
        "elevation": -90.0,
        "azimuth": 90.0,
        "lookat": np.zeros(3),
        "trackbodyid": -1,
    }


def require(module: str, extra: str) -> Any:
    """Import `module`, or raise an ImportError that names the pip extra providing it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"this environment needs the '{module}' package: pip install 'monde[{extra}]'"
        ) from err


prepare_headless()  # at import of monde.envs, before any simulator package imports mujoco
