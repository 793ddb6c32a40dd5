"""Anti-collapse regularisers as named pure functions of a batch of latents.

Each takes latents z of shape (N, D) — flatten (B, T, D) to (B·T, D) first — and returns a
scalar. They know nothing about models, time or data: only the statistics of one batch.
Under data parallelism the caller must pass the *global* batch (all-gathered with gradients).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_2d(z: Tensor, name: str) -> None:
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"{name} expects latents of shape (N >= 2, D), got {tuple(z.shape)}")


def vicreg_variance(z: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """Hinge on the per-dimension standard deviation: mean_d relu(gamma − sqrt(Var[z_d] + eps)).

    Var is the unbiased batch variance (as in VICReg, Bardes et al. 2022).
    """
    _check_2d(z, "vicreg_variance")
    std = torch.sqrt(z.var(dim=0) + eps)  # (D,)
    return torch.relu(gamma - std).mean()


def vicreg_covariance(z: Tensor) -> Tensor:
    """Sum of squared off-diagonal entries of the batch covariance, divided by D."""
    _check_2d(z, "vicreg_covariance")
    n, d = z.shape
    zc = z - z.mean(dim=0)
    cov = (zc.T @ zc) / (n - 1)  # (D, D)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    return off_diagonal.pow(2).sum() / d


def epps_pulley(x: Tensor, t_max: float = 3.0, num_knots: int = 17) -> Tensor:
    """Epps–Pulley normality statistic of each column of x against N(0, 1).

    T = N · ∫ |φ̂(t) − φ(t)|² w(t) dt over t ∈ [−t_max, t_max], with φ̂(t) = mean_n exp(i t x_n)
    the empirical characteristic function, φ(t) = w(t) = exp(−t²/2), and the integral by the
    trapezoid rule on `num_knots` evenly spaced knots. The integrand is even in t, so only
    t ≥ 0 is evaluated and doubled.

    x: (N, M) → (M,)
    """
    n = x.shape[0]
    t = torch.linspace(0.0, t_max, num_knots, device=x.device, dtype=x.dtype)  # (K,)
    phi = torch.exp(-0.5 * t.square())  # (K,)
    xt = x.unsqueeze(-1) * t  # (N, M, K)
    real = torch.cos(xt).mean(dim=0) - phi  # (M, K)
    imag = torch.sin(xt).mean(dim=0)  # (M, K)
    integrand = (real.square() + imag.square()) * phi  # (M, K)
    return 2.0 * n * torch.trapezoid(integrand, t, dim=-1)


def sigreg(
    z: Tensor,
    num_projections: int = 256,
    generator: torch.Generator | None = None,
    t_max: float = 3.0,
    num_knots: int = 17,
) -> Tensor:
    """Sketched Isotropic Gaussian Regulariser (LeJEPA, Balestriero & LeCun 2025).

    Projects z onto `num_projections` random unit directions and averages the Epps–Pulley
    statistic of each 1-D projection against N(0, 1). Minimised when z is isotropic Gaussian.
    The directions come from `generator` so that every process of a distributed run (and a
    resumed run) draws the same ones.

    z: (N, D) → scalar
    """
    _check_2d(z, "sigreg")
    d = z.shape[1]
    directions = torch.randn(d, num_projections, generator=generator, device=z.device)
    directions = directions / directions.norm(dim=0, keepdim=True)  # (D, M) unit columns
    projected = z.float() @ directions  # (N, M)
    return epps_pulley(projected, t_max=t_max, num_knots=num_knots).mean()
