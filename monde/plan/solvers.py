"""Planning solvers as pure tensor functions.

A solver searches action sequences that minimise a cost function. It sees only tensors and a
callable ``cost_fn(actions) -> cost``; it knows nothing about pixels, models, environments,
logging or files. All tensors it creates live on the device and dtype of ``mean``.

Shape letters (see ``monde.types``): B batch (episodes planned at once), S samples (candidate
action sequences per episode), H horizon (model steps), A action dims (of one model step),
K elites, E warm candidates.

Every solver has the signature ``solver(cost_fn, mean, std, low, high, cfg, generator=None,
candidates=None) -> PlanResult``; this module holds CEM and the checks all solvers share, and
``monde.plan.icem``, ``.mppi`` and ``.gradient`` the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from monde.plan.registry import SolverSpec, check_topk

if TYPE_CHECKING:
    from monde.config import PlanConfig

CostFn = Callable[[Tensor], Tensor]
"""actions (B, S, H, A) -> cost (B, S); lower is better."""


@dataclass
class CEMConfig:
    """Hyper-parameters of the cross-entropy method (see ``cem``)."""

    samples: int = 300  # candidate action sequences per episode per round (S), mean included
    iterations: int = 10  # refinement rounds
    topk: int = 30  # elites kept per round
    min_std: float = 0.05  # floor on the sampling std, keeps exploration alive
    momentum: float = 0.0  # mean/std = momentum*old + (1-momentum)*elite stats

    def __post_init__(self) -> None:
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"CEMConfig.samples must be an int >= 1, got {self.samples!r}")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"CEMConfig.iterations must be an int >= 1, got {self.iterations!r}")
        check_topk("CEMConfig", self.topk, self.samples)
        if not self.min_std >= 0 or self.min_std == float("inf"):  # also rejects NaN
            raise ValueError(f"CEMConfig.min_std must be finite and >= 0, got {self.min_std!r}")
        if not 0 <= self.momentum < 1:  # also rejects NaN
            raise ValueError(f"CEMConfig.momentum must be in [0, 1), got {self.momentum!r}")


@dataclass
class PlanResult:
    """Output of a solver.

    ``actions`` is the lowest-cost sequence ever evaluated (over all rounds, the sampled mean
    included), not the final mean; ``mean``/``std`` are the final sampling distribution, for
    warm-starting the next call (e.g. shifted by one step in MPC).
    """

    actions: Tensor  # (B, H, A) best sequence ever evaluated, within [low, high]
    cost: Tensor  # (B,) cost of `actions` (+inf if every cost was NaN or +inf)
    mean: Tensor  # (B, H, A) final sampling mean
    std: Tensor  # (B, H, A) final sampling std, >= min_std
    cost_history: Tensor  # (iterations, B) best-ever cost after each round, non-increasing
    elites: Tensor | None = None  # (B, K, H, A) final elites, lowest cost first, for reuse


def check_candidates(candidates: Tensor | None, mean: Tensor, samples: int) -> Tensor | None:
    """Validate warm candidates (B, E, H, A), 1 <= E < samples, finite; → them on mean's dtype."""
    if candidates is None:
        return None
    B, H, A = mean.shape
    if candidates.ndim != 4 or candidates.shape[0] != B or candidates.shape[2:] != (H, A):
        raise ValueError(
            f"candidates must be (B, E, H, A) = ({B}, E, {H}, {A}), got {tuple(candidates.shape)}"
        )
    if not 1 <= candidates.shape[1] < samples:
        raise ValueError(
            f"candidates hold E = {candidates.shape[1]} sequences; need 1 <= E < samples={samples}"
        )
    if not bool(torch.isfinite(candidates).all()):
        raise ValueError("candidates contain NaN or inf")
    return candidates.detach().to(device=mean.device, dtype=mean.dtype)


def evaluate(cost_fn: CostFn, actions: Tensor) -> Tensor:
    """cost_fn on actions (B, S, H, A) → (B, S), checked, at least float32, NaN → +inf."""
    return check_cost(cost_fn(actions), *actions.shape[:2])


def check_cost(cost: Tensor, B: int, S: int) -> Tensor:
    """A cost function's output → (B, S) detached, at least float32, NaN → +inf; else raise."""
    if not isinstance(cost, Tensor) or cost.shape != (B, S):
        shape = tuple(cost.shape) if isinstance(cost, Tensor) else type(cost)
        raise ValueError(f"cost_fn must return a (B, S) = ({B}, {S}) tensor, got {shape}")
    cost = cost.detach().to(torch.promote_types(cost.dtype, torch.float32))
    return cost.nan_to_num(nan=float("inf"), posinf=float("inf"), neginf=float("-inf"))


def gaussian_samples(
    mu: Tensor,
    sigma: Tensor,
    samples: int,
    low: Tensor,
    high: Tensor,
    generator: torch.Generator | None,
    candidates: Tensor | None = None,
) -> Tensor:
    """mu, sigma (B, H, A) → clipped samples (B, S, H, A): mu + sigma·N(0, 1), sample 0 = mu,
    samples 1..E = the warm `candidates` (B, E, H, A) when given; low/high (B, 1, H, A)."""
    b, h, a = mu.shape
    eps = torch.randn((b, samples, h, a), generator=generator, device=mu.device, dtype=mu.dtype)
    eps[:, 0] = 0
    actions = torch.addcmul(mu.unsqueeze(1), sigma.unsqueeze(1), eps)
    if candidates is not None:
        actions[:, 1 : 1 + candidates.shape[1]] = candidates
    return torch.clamp(actions, low, high)


class BestEver:
    """The lowest-cost sequence seen so far per episode: actions (B, H, A), cost (B,)."""

    def __init__(self, start: Tensor):
        self.actions = start  # (B, H, A), kept if every cost is +inf
        self.cost: Tensor | None = None
        self.history: list[Tensor] = []

    def update(self, actions: Tensor, cost: Tensor) -> None:
        """actions (B, S, H, A), cost (B, S): keep a strictly better sample, record the best."""
        B = actions.shape[0]
        round_cost, idx = cost.min(dim=1)  # (B,)
        if self.cost is None:
            self.cost = torch.full_like(round_cost, float("inf"))
        better = round_cost < self.cost  # (B,)
        self.cost = torch.where(better, round_cost, self.cost)
        pick = actions[torch.arange(B, device=actions.device), idx]  # (B, H, A)
        self.actions = torch.where(better.view(B, 1, 1), pick, self.actions)
        self.history.append(self.cost)

    def update_with(self, best_actions: Tensor, best_cost: Tensor) -> None:
        """As `update`, given a round's lowest-cost sequence (B, H, A) and its cost (B,)."""
        if self.cost is None:
            self.cost = torch.full_like(best_cost, float("inf"))
        better = best_cost < self.cost  # (B,)
        self.cost = torch.where(better, best_cost, self.cost)
        self.actions = torch.where(better[:, None, None], best_actions, self.actions)
        self.history.append(self.cost)


def _check_inputs(mean: Tensor, std: Tensor, generator: torch.Generator | None) -> None:
    if not isinstance(mean, Tensor) or not isinstance(std, Tensor):
        raise TypeError(f"mean and std must be tensors, got {type(mean)} and {type(std)}")
    if mean.ndim != 3:
        raise ValueError(f"mean must be (B, H, A), got shape {tuple(mean.shape)}")
    if std.shape != mean.shape:
        raise ValueError(
            f"std shape {tuple(std.shape)} must equal mean shape (B, H, A) = {tuple(mean.shape)}"
        )
    for name, size in zip(("B", "H", "A"), mean.shape, strict=True):
        if size == 0:
            raise ValueError(f"mean/std have {name} == 0 (shape {tuple(mean.shape)}); need >= 1")
    if not mean.is_floating_point():
        raise ValueError(f"mean must be a floating-point tensor, got {mean.dtype}")
    if std.device != mean.device:
        raise ValueError(f"std is on {std.device} but mean is on {mean.device}")
    if generator is not None:
        gdev = torch.device(generator.device)
        mdev = mean.device
        same = gdev.type == mdev.type and (
            gdev.index is None or mdev.index is None or gdev.index == mdev.index
        )
        if not same:
            raise ValueError(
                f"generator is on {gdev} but mean is on {mdev}; create it with "
                f"torch.Generator(device=mean.device)"
            )
    if not bool(torch.isfinite(mean).all()):
        raise ValueError("mean contains NaN or inf")
    if not bool((std >= 0).all()) or not bool(torch.isfinite(std).all()):
        raise ValueError("std must be finite and >= 0 everywhere")


def _bounds(low: Tensor | float, high: Tensor | float, mean: Tensor) -> tuple[Tensor, Tensor]:
    """Broadcast low/high to (B, H, A) on mean's device/dtype and check low <= high."""
    shape = mean.shape
    out = []
    for name, bound in (("low", low), ("high", high)):
        t = torch.as_tensor(bound, dtype=mean.dtype, device=mean.device)
        try:
            t = torch.broadcast_to(t, shape)
        except RuntimeError as e:
            raise ValueError(
                f"{name} of shape {tuple(t.shape)} does not broadcast to (B, H, A) = "
                f"{tuple(shape)}; pass (A,) or (B, H, A)"
            ) from e
        if bool(torch.isnan(t).any()):
            raise ValueError(f"{name} contains NaN")
        out.append(t)
    lo, hi = out
    bad = lo > hi
    if bool(bad.any()):
        idx = bad.nonzero().tolist()
        dims = sorted({a for _, _, a in idx})
        shown = ", ".join(f"(b={b}, h={h}, a={a})" for b, h, a in idx[:5])
        more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
        raise ValueError(f"low > high at action dim(s) {dims}: {shown}{more}")
    return lo, hi


def cem(
    cost_fn: CostFn,
    mean: Tensor,
    std: Tensor,
    low: Tensor | float,
    high: Tensor | float,
    cfg: CEMConfig,
    generator: torch.Generator | None = None,
    candidates: Tensor | None = None,
) -> PlanResult:
    """Cross-entropy method over action sequences, batched over B episodes.

    Each round, per episode (all episodes at once, no Python loop over samples):

        1. Sample actions (B, S, H, A) = mean + max(std, min_std) * eps, with
           eps ~ torch.randn(B, S, H, A, generator=generator); sample 0 is the mean itself
           (eps = 0), so a warm start is always evaluated and never made worse. In round 1,
           the E warm ``candidates`` (if given) replace samples 1..E.
        2. Clip the samples to [low, high] (low/high broadcast to (B, H, A)).
        3. cost = cost_fn(actions): (B, S). NaN costs count as +inf, so they never become
           elites unless every cost is NaN/+inf.
        4. Elites: the topk lowest costs, (B, K) indices gathered into (B, K, H, A).
        5. Best ever: if the best elite beats the best cost so far, keep its sequence (B, H, A)
           and cost (B,). Record the best-ever cost in cost_history[round] (B,).
        6. Refit: elite mean and std over K (std with unbiased=False, so topk=1 gives 0),
           blended as ``momentum * old + (1 - momentum) * elite``, then std floored at min_std.

    Runs under ``torch.no_grad()`` and works inside ``torch.inference_mode()``. Deterministic
    for a given generator state; without a generator it draws from torch's global RNG.

    Args:
        cost_fn: actions (B, S, H, A) -> cost (B, S); lower is better.
        mean: (B, H, A) initial sampling mean (e.g. zeros, or the previous plan shifted).
        std: (B, H, A) initial sampling std, finite and >= 0 (floored at min_std when sampling).
        low, high: action bounds, broadcastable to (B, H, A): a float, (A,), (H, A) or
            (B, H, A); +-inf allowed for unbounded dims.
        cfg: solver hyper-parameters.
        generator: torch.Generator on mean's device, or None for the global RNG.
        candidates: (B, E, H, A) extra sequences to evaluate in round 1 (e.g. the previous
            call's elites, shifted), 1 <= E < samples; clipped to the bounds.

    Returns:
        PlanResult with ``actions`` = the lowest-cost sequence ever evaluated (B, H, A), its
        ``cost`` (B,), the final ``mean``/``std`` (B, H, A), ``cost_history`` (iterations, B)
        and the last round's ``elites`` (B, K, H, A). Inputs are never modified.

    Raises:
        ValueError: mean not (B, H, A), std shape != mean shape, B/H/A == 0, non-finite mean,
            negative or non-finite std, low/high not broadcastable or NaN, low > high (the
            message names the action dims), generator on another device than mean, cost_fn
            output not of shape (B, S), candidates not (B, E, H, A) with 1 <= E < samples.
    """
    _check_inputs(mean, std, generator)
    lo, hi = _bounds(low, high, mean)
    candidates = check_candidates(candidates, mean, cfg.samples)
    B, H, A = mean.shape
    S, K = cfg.samples, cfg.topk
    m = cfg.momentum
    device, dtype = mean.device, mean.dtype

    with torch.no_grad():
        lo_s, hi_s = lo.unsqueeze(1), hi.unsqueeze(1)  # (B, 1, H, A)
        mu = mean.detach().clone()
        sigma = std.detach().to(dtype).clamp_min(cfg.min_std)
        best = BestEver(mu.clamp(lo, hi))  # sample 0 of round 1
        batch_idx = torch.arange(B, device=device).unsqueeze(1)  # (B, 1)
        elites = mu.unsqueeze(1)

        for i in range(cfg.iterations):
            # 1-2. sample, mean as sample 0, warm candidates in round 1, clip: (B, S, H, A)
            actions = gaussian_samples(
                mu, sigma, S, lo_s, hi_s, generator, candidates if i == 0 else None
            )

            # 3. cost (B, S), NaN -> +inf, at least float32 so huge costs keep their order
            cost = evaluate(cost_fn, actions)

            # 4. elites: (B, K) ascending costs and indices, (B, K, H, A) sequences
            elite_cost, elite_idx = torch.topk(cost, K, dim=1, largest=False, sorted=True)
            elites = actions[batch_idx, elite_idx]

            # 5. best ever (strict improvement; round 1 starts from +inf): the first elite
            best.update_with(elites[:, 0], elite_cost[:, 0])

            # 6. refit the sampling distribution
            if K > 1:
                e_std, e_mean = torch.std_mean(elites, dim=1, unbiased=False)
            else:
                e_mean, e_std = elites[:, 0], torch.zeros_like(elites[:, 0])
            if m > 0:
                e_mean = m * mu + (1 - m) * e_mean
                e_std = m * sigma + (1 - m) * e_std
            mu = e_mean
            sigma = e_std.clamp_min(cfg.min_std)

        assert best.cost is not None  # iterations >= 1
        return PlanResult(
            actions=best.actions,
            cost=best.cost,
            mean=mu,
            std=sigma,
            cost_history=torch.stack(best.history),
            elites=elites,
        )


def cem_config(cfg: PlanConfig) -> CEMConfig:
    """PlanConfig → CEMConfig (also the CEM stage of iCEM and cem_gradient)."""
    return CEMConfig(
        samples=cfg.samples,
        iterations=cfg.iterations,
        topk=cfg.topk,
        min_std=cfg.min_std,
        momentum=cfg.momentum,
    )


SPEC = SolverSpec(solve=cem, config=CEMConfig, from_plan=cem_config)

check_inputs = _check_inputs
"""Shared input checks of every solver: mean/std (B, H, A), finite, generator on mean's device."""
broadcast_bounds = _bounds
"""Shared bound handling of every solver: low/high → (B, H, A) each, low <= high checked."""
