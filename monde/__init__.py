"""Monde: JEPA world models that learn from pixels and actions and plan to goal images.

The common path, without importing deeper:

    from monde import RunConfig, WorldModel, load_model, MPCPlanner, make_env
"""

__version__ = "0.1.0"

from monde.config import RunConfig  # noqa: E402
from monde.envs import make_env  # noqa: E402
from monde.models.checkpoint import load_model, save_model  # noqa: E402
from monde.models.world_model import WorldModel, WorldModelProtocol  # noqa: E402
from monde.plan.mpc import MPCPlanner  # noqa: E402

__all__ = [
    "MPCPlanner",
    "RunConfig",
    "WorldModel",
    "WorldModelProtocol",
    "load_model",
    "make_env",
    "save_model",
]
