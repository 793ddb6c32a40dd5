"""iCEM: the cross-entropy method with coloured noise and elite reuse (Pinneri et al., 2020).

Like ``monde.plan.solvers.cem``, a pure tensor function: it knows nothing about pixels, models,
logging or files. Shape letters: B episodes, S samples, H horizon, A action dims, K elites.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from monde.plan.registry import SolverSpec
from monde.plan.solvers import (
    BestEver,
    CEMConfig,
    CostFn,
    PlanResult,
    broadcast_bounds,
    cem_config,
    check_candidates,
    check_inputs,
    evaluate,
)

if TYPE_CHECKING:
    from monde.config import PlanConfig


@dataclass
class ICEMConfig(CEMConfig):
    """CEM's fields, plus iCEM's coloured noise and elite reuse (see ``icem``)."""

    noise_beta: float = 2.0  # exponent of the noise spectrum 1/f^beta along H; 0 = white noise
    keep_elites: float = 0.3  # fraction of the K elites carried into the next round's samples

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.noise_beta < math.inf:
            raise ValueError(
                f"ICEMConfig.noise_beta must be finite and >= 0, got {self.noise_beta!r}"
            )
        if not 0 <= self.keep_elites <= 1:
            raise ValueError(f"ICEMConfig.keep_elites must be in [0, 1], got {self.keep_elites!r}")
        kept = math.ceil(self.keep_elites * self.topk)
        if kept >= self.samples:
            raise ValueError(
                f"ICEMConfig.keep_elites keeps {kept} elites of topk={self.topk}; that must be "
                f"< samples={self.samples}"
            )


def coloured_noise(
    shape: tuple[int, int, int, int],
    beta: float,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Gaussian noise (B, S, H, A), coloured along H with power spectrum ∝ 1/f^beta, unit variance.

    Steps:
        1. White noise (B, S, A, H) from ``generator``; rfft along H → (B, S, A, H//2 + 1).
        2. Scale frequency f (cycles per step, f = 0 clamped to 1/H) by f^(-beta/2).
        3. irfft back to H steps and divide by the theoretical std sqrt(sum_f w_f s_f^2 / H)
           (w_f = 2 for frequencies with a mirrored twin, else 1), so each step has variance 1.
        4. → (B, S, H, A). beta = 0 returns the white noise of step 1 exactly.
    """
    B, S, H, A = shape
    white = torch.randn((B, S, A, H), generator=generator, device=device, dtype=dtype)
    if beta == 0 or H == 1:
        return white.transpose(-1, -2)
    freqs = torch.fft.rfftfreq(H, device=device, dtype=torch.float64).clamp_min(1.0 / H)
    scale = freqs.pow(-beta / 2)  # (H//2 + 1,)
    weight = torch.full_like(scale, 2.0)
    weight[0] = 1.0
    if H % 2 == 0:
        weight[-1] = 1.0  # the Nyquist frequency has no twin
    sigma = math.sqrt(float((weight * scale.square()).sum()) / H)
    spectrum = torch.fft.rfft(white.double(), dim=-1) * scale  # (B, S, A, H//2 + 1)
    noise = torch.fft.irfft(spectrum, n=H, dim=-1) / sigma  # (B, S, A, H)
    return noise.to(dtype).transpose(-1, -2)  # (B, S, H, A)


def icem(
    cost_fn: CostFn,
    mean: Tensor,
    std: Tensor,
    low: Tensor | float,
    high: Tensor | float,
    cfg: ICEMConfig,
    generator: torch.Generator | None = None,
    candidates: Tensor | None = None,
) -> PlanResult:
    """iCEM over action sequences, batched over B episodes.

    Each round:
        1. Sample (B, S, H, A) = mean + max(std, min_std) * coloured_noise(beta): low
           frequencies dominate for beta > 0, so samples are smooth in time.
        2. Sample 0 is the mean; the next ceil(keep_elites * K) samples are last round's best
           elites (in round 1: the warm ``candidates``, e.g. the previous call's elites shifted
           by the executed steps). Clip everything to [low, high].
        3. cost = cost_fn(actions) (B, S); NaN counts as +inf.
        4. Elites: the K lowest costs (B, K, H, A); update the best sequence ever evaluated.
        5. Refit mean/std to the elites (std unbiased=False), blended with momentum, std floored
           at min_std.

    Args, Returns and Raises as ``monde.plan.solvers.cem``; ``cfg`` is an ICEMConfig.
    """
    check_inputs(mean, std, generator)
    lo, hi = broadcast_bounds(low, high, mean)
    candidates = check_candidates(candidates, mean, cfg.samples)
    B, H, A = mean.shape
    S, K, m = cfg.samples, cfg.topk, cfg.momentum
    kept = math.ceil(cfg.keep_elites * K)
    device, dtype = mean.device, mean.dtype

    with torch.no_grad():
        lo_s, hi_s = lo.unsqueeze(1), hi.unsqueeze(1)  # (B, 1, H, A)
        mu = mean.detach().clone()
        sigma = std.detach().to(dtype).clamp_min(cfg.min_std)
        best = BestEver(mu.clamp(lo, hi))
        batch_idx = torch.arange(B, device=device).unsqueeze(1)  # (B, 1)
        reuse = candidates[:, :kept] if candidates is not None and kept else None
        elites = mu.unsqueeze(1)

        for _ in range(cfg.iterations):
            # 1-2. coloured samples, mean as sample 0, reused elites next, clip
            eps = coloured_noise((B, S, H, A), cfg.noise_beta, generator, device, dtype)
            eps[:, 0] = 0
            actions = torch.addcmul(mu.unsqueeze(1), sigma.unsqueeze(1), eps)
            if reuse is not None:
                actions[:, 1 : 1 + reuse.shape[1]] = reuse
            actions = torch.clamp(actions, lo_s, hi_s)

            cost = evaluate(cost_fn, actions)  # 3. (B, S)

            # 4. elites (B, K, H, A), ascending cost; best ever
            _, elite_idx = torch.topk(cost, K, dim=1, largest=False, sorted=True)
            elites = actions[batch_idx, elite_idx]
            best.update(actions, cost)
            reuse = elites[:, :kept] if kept else None

            # 5. refit
            e_mean = elites.mean(dim=1)
            e_std = elites.std(dim=1, unbiased=False) if K > 1 else torch.zeros_like(e_mean)
            if m > 0:
                e_mean = m * mu + (1 - m) * e_mean
                e_std = m * sigma + (1 - m) * e_std
            mu, sigma = e_mean, e_std.clamp_min(cfg.min_std)

        assert best.cost is not None
        return PlanResult(
            actions=best.actions,
            cost=best.cost,
            mean=mu,
            std=sigma,
            cost_history=torch.stack(best.history),
            elites=elites,
        )


def icem_config(cfg: PlanConfig) -> ICEMConfig:
    """PlanConfig → ICEMConfig: CEM's fields plus noise_beta and keep_elites."""
    return ICEMConfig(
        **asdict(cem_config(cfg)), noise_beta=cfg.noise_beta, keep_elites=cfg.keep_elites
    )


SPEC = SolverSpec(
    solve=icem,
    config=ICEMConfig,
    from_plan=icem_config,
    warm_elites=lambda cfg: math.ceil(cfg.keep_elites * cfg.topk),  # shifted into the next call
)
