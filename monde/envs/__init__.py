"""Batched numpy environments that render RGB frames, and their exploration policies.

Knows nothing about models or torch. Importing this package registers the Gymnasium id
"monde/TwoRoom-v0".
"""

from monde.envs import gym_adapter  # noqa: F401  (registers monde/TwoRoom-v0)
from monde.envs.base import Env
from monde.envs.exploration import DoorExplorer, coverage
from monde.envs.registry import ENV_REGISTRY, make_env
from monde.envs.two_room import TwoRoom, TwoRoomConfig

__all__ = [
    "ENV_REGISTRY",
    "DoorExplorer",
    "Env",
    "TwoRoom",
    "TwoRoomConfig",
    "coverage",
    "make_env",
]
