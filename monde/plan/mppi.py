"""MPPI: model-predictive path integral control, a softmin-weighted average of noisy samples.

A pure tensor function like ``monde.plan.solvers.cem``; it knows nothing about pixels, models,
logging or files. Shape letters: B episodes, S samples, H horizon, A action dims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from monde.plan.registry import SolverSpec, check_topk
from monde.plan.solvers import (
    BestEver,
    CostFn,
    PlanResult,
    broadcast_bounds,
    check_candidates,
    check_inputs,
    evaluate,
    gaussian_samples,
)

if TYPE_CHECKING:
    from monde.config import PlanConfig


@dataclass
class MPPIConfig:
    """Hyper-parameters of ``mppi``."""

    samples: int = 300  # noisy sequences per episode per round (S), the mean included
    iterations: int = 10  # rounds of sampling and re-weighting
    temperature: float = 0.1  # softmin temperature on costs normalised to [0, 1] per round
    min_std: float = 0.05  # floor on the sampling std
    adapt_std: bool = True  # refit the std to the weighted spread (False: keep the initial std)
    topk: int = 30  # elites reported in PlanResult.elites (for warm starts), <= samples

    def __post_init__(self) -> None:
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"MPPIConfig.samples must be an int >= 1, got {self.samples!r}")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"MPPIConfig.iterations must be an int >= 1, got {self.iterations!r}")
        if not 0 < self.temperature < math.inf:
            raise ValueError(
                f"MPPIConfig.temperature must be finite and > 0, got {self.temperature!r}"
            )
        if not 0 <= self.min_std < math.inf:
            raise ValueError(f"MPPIConfig.min_std must be finite and >= 0, got {self.min_std!r}")
        check_topk("MPPIConfig", self.topk, self.samples)


def softmin_weights(cost: Tensor, temperature: float) -> Tensor:
    """Weights (B, S) summing to 1 over S: exp(-(c - c_min) / ((c_max - c_min) * temperature)).

    Costs are normalised per episode by the spread of its finite costs, so the temperature does
    not depend on the cost's scale; +inf costs get weight 0; an episode whose costs are all +inf,
    or all equal, gets uniform weights over its finite (or, if none, all) samples.
    """
    finite = torch.isfinite(cost)  # (B, S)
    c = torch.where(finite, cost, torch.zeros_like(cost))
    c_min = torch.where(finite, c, torch.full_like(c, math.inf)).min(dim=1, keepdim=True).values
    c_max = torch.where(finite, c, torch.full_like(c, -math.inf)).max(dim=1, keepdim=True).values
    any_finite = finite.any(dim=1, keepdim=True)
    c_min = torch.where(any_finite, c_min, torch.zeros_like(c_min))
    # halves: (c - c_min) / (c_max - c_min) in [0, 1] without overflow for costs near ±3e38
    half_spread = torch.where(any_finite, c_max / 2 - c_min / 2, torch.ones_like(c_min))
    half_spread = torch.where(half_spread > 0, half_spread, torch.ones_like(half_spread))
    z = (c / 2 - c_min / 2) / half_spread
    logits = torch.where(finite | ~any_finite, -z / temperature, torch.full_like(z, -math.inf))
    return torch.softmax(logits, dim=1)


def mppi(
    cost_fn: CostFn,
    mean: Tensor,
    std: Tensor,
    low: Tensor | float,
    high: Tensor | float,
    cfg: MPPIConfig,
    generator: torch.Generator | None = None,
    candidates: Tensor | None = None,
) -> PlanResult:
    """MPPI over action sequences, batched over B episodes.

    Each round:
        1. Sample (B, S, H, A) = mean + max(std, min_std) * eps, eps ~ N(0, 1) from
           ``generator``; sample 0 is the mean; in round 1 the warm ``candidates`` replace
           samples 1..E. Clip to [low, high].
        2. cost = cost_fn(actions) (B, S); NaN counts as +inf. Update the best sequence ever.
        3. Weights w (B, S) = ``softmin_weights(cost, temperature)``.
        4. mean = sum_S w * actions; with ``adapt_std``, std = sqrt(sum_S w * (actions -
           mean)^2), floored at min_std.

    ``actions`` is the best sequence ever evaluated (the weighted mean itself is evaluated as
    sample 0 of the next round). Args, Returns and Raises as ``monde.plan.solvers.cem``;
    ``elites`` are the last round's ``topk`` lowest-cost samples.
    """
    check_inputs(mean, std, generator)
    lo, hi = broadcast_bounds(low, high, mean)
    candidates = check_candidates(candidates, mean, cfg.samples)
    B, H, A = mean.shape
    S = cfg.samples
    device, dtype = mean.device, mean.dtype

    with torch.no_grad():
        lo_s, hi_s = lo.unsqueeze(1), hi.unsqueeze(1)  # (B, 1, H, A)
        mu = mean.detach().clone()
        sigma = std.detach().to(dtype).clamp_min(cfg.min_std)
        best = BestEver(mu.clamp(lo, hi))
        batch_idx = torch.arange(B, device=device).unsqueeze(1)  # (B, 1)
        elites = mu.unsqueeze(1)

        for i in range(cfg.iterations):
            # 1. samples (B, S, H, A)
            actions = gaussian_samples(
                mu, sigma, S, lo_s, hi_s, generator, candidates if i == 0 else None
            )

            cost = evaluate(cost_fn, actions)  # 2. (B, S)
            best.update(actions, cost)
            _, elite_idx = torch.topk(cost, cfg.topk, dim=1, largest=False, sorted=True)
            elites = actions[batch_idx, elite_idx]  # (B, K, H, A)

            # 3-4. weighted refit
            w = softmin_weights(cost, cfg.temperature).to(dtype)[:, :, None, None]  # (B, S, 1, 1)
            mu = (w * actions).sum(dim=1)  # (B, H, A)
            if cfg.adapt_std:
                var = (w * (actions - mu.unsqueeze(1)).square()).sum(dim=1)
                sigma = var.sqrt().clamp_min(cfg.min_std)

        assert best.cost is not None
        return PlanResult(
            actions=best.actions,
            cost=best.cost,
            mean=mu,
            std=sigma,
            cost_history=torch.stack(best.history),
            elites=elites,
        )


def mppi_config(cfg: PlanConfig) -> MPPIConfig:
    """PlanConfig → MPPIConfig."""
    return MPPIConfig(
        samples=cfg.samples,
        iterations=cfg.iterations,
        temperature=cfg.temperature,
        min_std=cfg.min_std,
        topk=cfg.topk,
    )


SPEC = SolverSpec(solve=mppi, config=MPPIConfig, from_plan=mppi_config)
