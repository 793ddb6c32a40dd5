"""Solvers by name, and the solver configuration a PlanConfig describes.

Every solver has one signature, ``solver(cost_fn, mean, std, low, high, cfg, generator=None,
candidates=None) -> PlanResult`` over mean/std (B, H, A) and cost_fn (B, S, H, A) -> (B, S).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from monde.config import PlanConfig
from monde.plan.gradient import CEMGradientConfig, GradientConfig, cem_gradient, gradient
from monde.plan.icem import ICEMConfig, icem
from monde.plan.mppi import MPPIConfig, mppi
from monde.plan.solvers import CEMConfig, PlanResult, cem

Solver = Callable[..., PlanResult]

SOLVERS: dict[str, Solver] = {
    "cem": cem,
    "icem": icem,
    "mppi": mppi,
    "gradient": gradient,
    "cem_gradient": cem_gradient,
}
GRADIENT_SOLVERS: frozenset[str] = frozenset({"gradient", "cem_gradient"})
"""Solvers that differentiate the cost: they plan outside torch.inference_mode."""


def solver_from_config(cfg: PlanConfig) -> tuple[Solver, Any]:
    """PlanConfig → (solver function, its config); samples × iterations is the budget of each.

    cem_gradient spends refine_steps gradient steps on refine_starts sequences after a CEM of
    samples × iterations.
    """
    cem_cfg = CEMConfig(
        samples=cfg.samples,
        iterations=cfg.iterations,
        topk=cfg.topk,
        min_std=cfg.min_std,
        momentum=cfg.momentum,
    )
    if cfg.solver == "cem":
        return cem, cem_cfg
    if cfg.solver == "icem":
        return icem, ICEMConfig(
            **asdict(cem_cfg), noise_beta=cfg.noise_beta, keep_elites=cfg.keep_elites
        )
    if cfg.solver == "mppi":
        return mppi, MPPIConfig(
            samples=cfg.samples,
            iterations=cfg.iterations,
            temperature=cfg.temperature,
            min_std=cfg.min_std,
            topk=cfg.topk,
        )
    if cfg.solver == "gradient":
        return gradient, GradientConfig(
            samples=cfg.samples, iterations=cfg.iterations, lr=cfg.lr, topk=cfg.topk
        )
    if cfg.solver == "cem_gradient":
        starts = min(cfg.refine_starts, cfg.topk + 1)
        grad = GradientConfig(
            samples=starts, iterations=cfg.refine_steps, lr=cfg.lr, topk=min(cfg.topk, starts)
        )
        return cem_gradient, CEMGradientConfig(cem=cem_cfg, gradient=grad)
    raise ValueError(f"unknown plan.solver {cfg.solver!r}; valid: {sorted(SOLVERS)}")
