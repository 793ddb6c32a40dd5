"""Linear probes: does a latent carry the physical state? Pure tensor functions."""

from __future__ import annotations

import torch
from torch import Tensor


def fit_linear_probe(x: Tensor, y: Tensor, l2: float = 1e-3) -> Tensor:
    """Ridge regression with a bias: x (N, D), y (N, K) → weights (D+1, K), bias last row.

    Solves (XᵀX + l2·I) W = Xᵀy with X = [x, 1]; the bias is not penalised.
    """
    x1 = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)
    eye = torch.eye(x1.shape[1], dtype=x.dtype, device=x.device)
    eye[-1, -1] = 0.0
    return torch.linalg.solve(x1.T @ x1 + l2 * eye, x1.T @ y)


def apply_linear_probe(weights: Tensor, x: Tensor) -> Tensor:
    return x @ weights[:-1] + weights[-1]


def r2_score(y: Tensor, y_hat: Tensor) -> Tensor:
    """Coefficient of determination per output column: 1 − SS_res / SS_tot. (N, K) → (K,)."""
    ss_res = (y - y_hat).square().sum(dim=0)
    ss_tot = (y - y.mean(dim=0)).square().sum(dim=0)
    return 1.0 - ss_res / ss_tot.clamp_min(1e-12)


def probe_r2(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor) -> Tensor:
    """Fit on train latents, report R² per state column on held-out latents. → (K,)."""
    x_train, y_train = x_train.double(), y_train.double()
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    weights = fit_linear_probe((x_train - mean) / std, y_train)
    y_hat = apply_linear_probe(weights, (x_test.double() - mean) / std)
    return r2_score(y_test.double(), y_hat)
