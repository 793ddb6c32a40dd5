"""Monde: JEPA world models that learn from pixels and actions and plan to goal images.

The common path, without importing deeper:

    from monde import RunConfig, WorldModel, load_model, MPCPlanner, make_env

The names are re-exported lazily (PEP 562): `import monde` stays light (no torch), so the
`monde` command starts fast; the first use of `monde.load_model` imports what it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from monde._version import __version__ as __version__

_EXPORTS = {  # public name → the module that defines it
    "MPCPlanner": "monde.plan.mpc",
    "RunConfig": "monde.config",
    "WorldModel": "monde.models.world_model",
    "WorldModelProtocol": "monde.models.world_model",
    "load_model": "monde.models.checkpoint",
    "make_env": "monde.envs",
    "save_model": "monde.models.checkpoint",
}

__all__ = [
    "MPCPlanner",
    "RunConfig",
    "WorldModel",
    "WorldModelProtocol",
    "load_model",
    "make_env",
    "save_model",
]

if TYPE_CHECKING:  # what type checkers and IDEs see
    from monde.config import RunConfig
    from monde.envs import make_env
    from monde.models.checkpoint import load_model, save_model
    from monde.models.world_model import WorldModel, WorldModelProtocol
    from monde.plan.mpc import MPCPlanner


def __getattr__(name: str) -> Any:
    """Import a re-exported name on first use and keep it in the module's namespace."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'monde' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
