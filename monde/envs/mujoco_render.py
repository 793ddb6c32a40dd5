"""Headless, fast MuJoCo rendering for the Gymnasium MuJoCo environments.

`prepare_headless()` must run before `mujoco` is first imported (importing monde.envs runs it):
it selects EGL (no display needed) and one llvmpipe thread unless the user chose otherwise, and
on a machine without a display SDL's dummy video driver for pygame (classic control).
`fast_render(model)` turns off shadows and multisampling, which roughly triples Reacher's
frames/s on a CPU. `render_rgbd(env, camera_distance, height)` renders colour and depth in one
pass and returns an RGB-D frame whose fourth channel is the height above the floor.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def prepare_headless() -> None:
    """Set MUJOCO_GL=egl and LP_NUM_THREADS=1 (unless set) before mujoco is imported; without a
    display, SDL_VIDEODRIVER=dummy (unless set) for pygame's classic-control renderers, which
    otherwise print "error: XDG_RUNTIME_DIR is invalid or not set" at every pygame.init()."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # read by pygame.init(), not at import
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


def render_rgbd(mujoco_env: Any, camera_distance: float, height: float) -> Any:
    """(Hp, Wp, 4) uint8 RGB-D frame of a Gymnasium MuJoCo env seen by a top-down camera.

    The depth channel is the height above the floor (the plane `camera_distance` below the
    camera): 0 at the floor or below, 255 at `height` metres above it or higher, linear between.
    The z-buffer is linearised with the model's clip planes first.
    """
    import numpy as np

    rgb, zbuf = mujoco_env.mujoco_renderer.render("rgbd_tuple")  # (Hp, Wp, 3), (Hp, Wp) in [0, 1]
    model = mujoco_env.model
    near = model.vis.map.znear * model.stat.extent
    far = model.vis.map.zfar * model.stat.extent
    metres = near / (1.0 - zbuf * (1.0 - near / far))  # distance from the camera plane
    above = np.clip((camera_distance - metres) / height, 0.0, 1.0)
    depth = np.rint(above * 255.0).astype(np.uint8)[..., None]  # (Hp, Wp, 1)
    return np.ascontiguousarray(np.concatenate([rgb, depth], axis=-1), dtype=np.uint8)


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
