"""Planning: solvers and costs as pure tensor functions, and the MPC loop that wires in a model.

``monde.plan`` knows nothing about pixels, environments, logging or files. A solver gets a cost
function ``actions (B, S, H, A) -> cost (B, S)`` and tensors, and returns tensors on the device
and dtype of its inputs; costs are functions of latent tensors only. Every solver has the
signature ``solver(cost_fn, mean, std, low, high, cfg, generator=None, candidates=None) ->
PlanResult`` and one line in ``monde.registry.SOLVERS``. Wiring a world model into a cost
function is the MPC planner's job (``monde.plan.mpc``).
"""

from monde.plan.cost import (
    ENSEMBLE_COSTS,
    METRICS,
    REDUCE_MODES,
    ensemble_goal_cost,
    goal_cost,
    latent_distance,
    reduce_horizon,
)
from monde.plan.gradient import CEMGradientConfig, GradientConfig, cem_gradient, gradient
from monde.plan.icem import ICEMConfig, coloured_noise, icem
from monde.plan.mppi import MPPIConfig, mppi, softmin_weights
from monde.plan.registry import SOLVERS, SolverSpec, solver_from_config, solver_spec
from monde.plan.solvers import CEMConfig, CostFn, PlanResult, cem

__all__ = [
    "ENSEMBLE_COSTS",
    "METRICS",
    "REDUCE_MODES",
    "SOLVERS",
    "CEMConfig",
    "CEMGradientConfig",
    "CostFn",
    "GradientConfig",
    "ICEMConfig",
    "MPPIConfig",
    "PlanResult",
    "SolverSpec",
    "cem",
    "cem_gradient",
    "coloured_noise",
    "ensemble_goal_cost",
    "goal_cost",
    "gradient",
    "icem",
    "latent_distance",
    "mppi",
    "reduce_horizon",
    "softmin_weights",
    "solver_from_config",
    "solver_spec",
]
