"""Planning: solvers and costs as pure tensor functions.

``monde.plan`` knows nothing about pixels, models, environments, logging or files. A solver
gets a cost function ``actions (B, S, H, A) -> cost (B, S)`` and tensors, and returns tensors on
the device and dtype of its inputs; costs are functions of latent tensors only. Wiring a world
model into a cost function is the caller's job.
"""

from monde.plan.cost import METRICS, REDUCE_MODES, goal_cost, latent_distance, reduce_horizon
from monde.plan.solvers import CEMConfig, CostFn, PlanResult, cem

__all__ = [
    "METRICS",
    "REDUCE_MODES",
    "CEMConfig",
    "CostFn",
    "PlanResult",
    "cem",
    "goal_cost",
    "latent_distance",
    "reduce_horizon",
]
