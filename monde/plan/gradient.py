"""Gradient descent on action sequences through a differentiable cost, and a CEM → gradient hybrid.

Pure tensor functions like ``monde.plan.solvers.cem``; they know nothing about pixels, models,
logging or files. They need a cost function autograd can differentiate (a world model rollout
outside ``torch.inference_mode``, with tensors that are not inference tensors). Gradients are
taken with ``torch.autograd.grad`` with respect to the actions only: parameters of the model
behind ``cost_fn`` never accumulate ``.grad``.

Shape letters: B episodes, S samples (parallel starts), H horizon, A action dims, K elites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from monde.plan.registry import SolverSpec, check_topk
from monde.plan.solvers import (
    BestEver,
    CEMConfig,
    CostFn,
    PlanResult,
    broadcast_bounds,
    cem,
    cem_config,
    check_candidates,
    check_cost,
    check_inputs,
    evaluate,
)

if TYPE_CHECKING:
    from monde.config import PlanConfig


@dataclass
class GradientConfig:
    """Hyper-parameters of ``gradient`` (Adam on the actions, projected onto the bounds)."""

    samples: int = 16  # parallel starting sequences per episode (S), the mean included
    iterations: int = 30  # Adam steps (one cost and gradient evaluation each)
    lr: float = 0.1  # Adam step size, in action units
    betas: tuple[float, float] = (0.9, 0.999)  # Adam moment decays
    topk: int = 4  # lowest-cost final sequences reported in PlanResult.elites, <= samples

    def __post_init__(self) -> None:
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"GradientConfig.samples must be an int >= 1, got {self.samples!r}")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(
                f"GradientConfig.iterations must be an int >= 1, got {self.iterations!r}"
            )
        if not 0 < self.lr < math.inf:
            raise ValueError(f"GradientConfig.lr must be finite and > 0, got {self.lr!r}")
        if not all(0 <= b < 1 for b in self.betas) or len(self.betas) != 2:
            raise ValueError(
                f"GradientConfig.betas must be two values in [0, 1), got {self.betas!r}"
            )
        check_topk("GradientConfig", self.topk, self.samples)


def gradient(
    cost_fn: CostFn,
    mean: Tensor,
    std: Tensor,
    low: Tensor | float,
    high: Tensor | float,
    cfg: GradientConfig,
    generator: torch.Generator | None = None,
    candidates: Tensor | None = None,
) -> PlanResult:
    """Projected Adam on S parallel action sequences per episode.

    Steps:
        1. Starts x (B, S, H, A): sample 0 = mean, samples 1..E = the warm ``candidates``, the
           rest mean + std * eps with eps ~ N(0, 1) from ``generator``; clipped to the bounds.
        2. For each of ``iterations`` steps: cost = cost_fn(x) (B, S) with autograd on; update
           the best sequence ever evaluated; g = d(sum of finite costs)/dx, NaN/inf entries of
           g set to 0 (a sample whose cost is not finite does not move).
        3. Adam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, x -= lr * m_hat /
           (sqrt(v_hat) + 1e-8), then project x onto [low, high] by clamping.
        4. Evaluate the final x once more (no gradient) and update the best.

    Runs with gradients enabled even when called under ``torch.no_grad`` or
    ``torch.inference_mode`` (it leaves inference mode for its own computation; the caller's
    cost_fn must then not use inference tensors). Deterministic for a given generator.
    ``cost_history`` has iterations + 1 rows (one per evaluation). ``mean`` is the best
    sequence, ``std`` the input std; ``elites`` the ``topk`` lowest-cost final sequences.

    Raises: as ``monde.plan.solvers.cem``.
    """
    check_inputs(mean, std, generator)
    lo, hi = broadcast_bounds(low, high, mean)
    candidates = check_candidates(candidates, mean, cfg.samples)
    B, H, A = mean.shape
    S = cfg.samples
    device, dtype = mean.device, mean.dtype
    b1, b2 = cfg.betas

    with torch.inference_mode(False), torch.no_grad():
        lo_s, hi_s = lo.clone().unsqueeze(1), hi.clone().unsqueeze(1)  # (B, 1, H, A)
        mu, sigma = mean.detach().clone(), std.detach().clone().to(dtype)
        # 1. starts (B, S, H, A)
        eps = torch.randn((B, S, H, A), generator=generator, device=device, dtype=dtype)
        eps[:, 0] = 0
        x = torch.addcmul(mu.unsqueeze(1), sigma.unsqueeze(1), eps)
        if candidates is not None:
            x[:, 1 : 1 + candidates.shape[1]] = candidates.clone()
        x = torch.clamp(x, lo_s, hi_s)
        best = BestEver(x[:, 0].clone())
        m1, m2 = torch.zeros_like(x), torch.zeros_like(x)

        for t in range(1, cfg.iterations + 1):
            # 2. cost and gradient with respect to the actions only
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                raw = cost_fn(xg)
                cost = check_cost(raw, B, S)  # (B, S) detached, NaN → +inf
                finite = torch.isfinite(cost)
                total = torch.where(finite, raw, torch.zeros_like(raw)).sum()
                (g,) = torch.autograd.grad(total, xg, allow_unused=True)
            best.update(x, cost)
            g = torch.zeros_like(x) if g is None else torch.nan_to_num(g, 0.0, 0.0, 0.0)
            # 3. Adam step, then projection onto the bounds
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b2 * m2 + (1 - b2) * g.square()
            m_hat = m1 / (1 - b1**t)
            v_hat = m2 / (1 - b2**t)
            x = torch.clamp(x - cfg.lr * m_hat / (v_hat.sqrt() + 1e-8), lo_s, hi_s)

        cost = evaluate(cost_fn, x)  # 4. the final point
        best.update(x, cost)
        order = torch.argsort(cost, dim=1)[:, : cfg.topk]  # (B, K)
        elites = x[torch.arange(B, device=device).unsqueeze(1), order]  # (B, K, H, A)

    assert best.cost is not None
    return PlanResult(
        actions=best.actions,
        cost=best.cost,
        mean=best.actions.clone(),
        std=sigma,
        cost_history=torch.stack(best.history),
        elites=elites,
    )


@dataclass
class CEMGradientConfig:
    """CEM first, then gradient refinement of its elites (see ``cem_gradient``)."""

    cem: CEMConfig = field(default_factory=CEMConfig)
    gradient: GradientConfig = field(default_factory=GradientConfig)

    def __post_init__(self) -> None:
        if self.gradient.samples > self.cem.topk + 1:
            raise ValueError(
                f"CEMGradientConfig.gradient.samples ({self.gradient.samples}) must be <= "
                f"cem.topk + 1 ({self.cem.topk + 1}): the gradient starts from CEM's best and "
                "its elites"
            )


def cem_gradient(
    cost_fn: CostFn,
    mean: Tensor,
    std: Tensor,
    low: Tensor | float,
    high: Tensor | float,
    cfg: CEMGradientConfig,
    generator: torch.Generator | None = None,
    candidates: Tensor | None = None,
) -> PlanResult:
    """CEM to find the basin, projected Adam to polish within it.

    Steps:
        1. ``cem(cost_fn, mean, std, low, high, cfg.cem, generator, candidates)``.
        2. ``gradient`` with mean = CEM's best sequence, candidates = CEM's elites
           (gradient.samples − 1 of them), std = CEM's final std.
        3. Return the better of the two bests per episode (gradient steps never make the plan
           worse); ``cost_history`` concatenates both solvers' histories, best-ever throughout.
    """
    first = cem(cost_fn, mean, std, low, high, cfg.cem, generator, candidates)
    starts = cfg.gradient.samples - 1
    elites = first.elites[:, :starts] if starts > 0 and first.elites is not None else None
    second = gradient(cost_fn, first.actions, first.std, low, high, cfg.gradient, generator, elites)
    better = second.cost < first.cost  # (B,)
    actions = torch.where(better.view(-1, 1, 1), second.actions, first.actions)
    cost = torch.where(better, second.cost, first.cost)
    history = torch.cat([first.cost_history, torch.minimum(second.cost_history, first.cost)])
    return PlanResult(
        actions=actions,
        cost=cost,
        mean=actions.clone(),
        std=first.std,
        cost_history=history,
        elites=second.elites,
    )


def gradient_config(cfg: PlanConfig) -> GradientConfig:
    """PlanConfig → GradientConfig: samples parallel starts, iterations Adam steps."""
    return GradientConfig(samples=cfg.samples, iterations=cfg.iterations, lr=cfg.lr, topk=cfg.topk)


def cem_gradient_config(cfg: PlanConfig) -> CEMGradientConfig:
    """PlanConfig → CEMGradientConfig: a CEM of samples × iterations, then refine_steps Adam
    steps on refine_starts sequences (CEM's best and elites)."""
    starts = min(cfg.refine_starts, cfg.topk + 1)
    grad = GradientConfig(
        samples=starts, iterations=cfg.refine_steps, lr=cfg.lr, topk=min(cfg.topk, starts)
    )
    return CEMGradientConfig(cem=cem_config(cfg), gradient=grad)


SPEC = SolverSpec(
    solve=gradient, config=GradientConfig, from_plan=gradient_config, differentiable=True
)
CEM_GRADIENT_SPEC = SolverSpec(
    solve=cem_gradient,
    config=CEMGradientConfig,
    from_plan=cem_gradient_config,
    differentiable=True,
)
