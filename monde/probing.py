"""The linear probe core that training and evaluation share: ridge probe, R², probe targets.

Training's collapse probe (`monde.train.fit.run_probe`) and the evaluation probes
(`monde.eval.probes`, `monde.eval.understanding`) read latents through the same functions, so
`probe_r2/*` in metrics.jsonl and the report's probe R² are one measure. No models, no
environments: latents in, states out.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """x (..., D) → x @ W + b with the weights of `fit_linear_probe` (bias last row)."""
    return x @ weights[:-1] + weights[-1]


def r2_score(y: Tensor, y_hat: Tensor) -> Tensor:
    """Coefficient of determination per output column: 1 − SS_res / SS_tot. (N, K) → (K,)."""
    ss_res = (y - y_hat).square().sum(dim=0)
    ss_tot = (y - y.mean(dim=0)).square().sum(dim=0)
    return 1.0 - ss_res / ss_tot.clamp_min(1e-12)


def probe_r2(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor) -> Tensor:
    """Fit on train latents, report R² per state column on held-out latents. → (K,)."""
    return r2_score(y_test.double(), LinearProbe.fit(x_train, y_train)(x_test))


def is_angle(name: str) -> bool:
    """A state column read as an angle (radians): its name ends in 'angle'."""
    return name.endswith("angle")


def probe_targets(states: Tensor, names: Sequence[str]) -> tuple[Tensor, list[list[int]]]:
    """State columns (N, S) → probe targets (N, T) and the target columns of each name.

    An angle column becomes its cos and sin: a linear read-out of an angle wrapped at ±π fails
    even from a latent that holds the angle exactly, so its R² would say nothing.
    """
    targets, groups = [], []
    for i, name in enumerate(names):
        column = states[:, i]
        parts = [column.cos(), column.sin()] if is_angle(name) else [column]
        groups.append(list(range(len(targets), len(targets) + len(parts))))
        targets += parts
    return torch.stack(targets, dim=1), groups


def near_constant(states_train: Tensor, states_test: Tensor | None = None) -> Tensor:
    """(S,) bool: state columns whose R² would say nothing, because they (almost) do not vary.

    A column is near-constant where its std is within float32 noise of its magnitude
    (≤ 1e-6 · max(1, |mean|)) in the training or the held-out states, or where the held-out
    std is below 1e-3 of the training std (R² divides by the held-out variance: an object that
    rests in the few held-out episodes would score R² in the hundreds below zero)."""

    def flat(states: Tensor) -> Tensor:
        states = states.double()
        return states.std(0, correction=0) <= 1e-6 * states.mean(0).abs().clamp_min(1.0)

    out = flat(states_train)
    if states_test is not None:
        train_std = states_train.double().std(0, correction=0)
        out |= flat(states_test) | (states_test.double().std(0, correction=0) < 1e-3 * train_std)
    return out


def named_probe_r2(
    x_train: Tensor,
    states_train: Tensor,
    x_test: Tensor,
    states_test: Tensor,
    names: Sequence[str],
) -> dict[str, float]:
    """Held-out linear-probe R² per named state column; an angle's is the mean of its cos and
    sin R² (probe_targets). Near-constant columns (`near_constant`) are left out."""
    keep = [i for i, flat in enumerate(near_constant(states_train, states_test)) if not flat]
    names = [names[i] for i in keep]
    if not names:
        return {}
    y_train, groups = probe_targets(states_train[:, keep], names)
    y_test, _ = probe_targets(states_test[:, keep], names)
    r2 = probe_r2(x_train, y_train, x_test, y_test)
    return {name: float(r2[g].mean()) for name, g in zip(names, groups, strict=True)}


class LinearProbe:
    """Ridge probe with input standardisation: `LinearProbe.fit(x, y)`, then `probe(x)`."""

    def __init__(self, weights: Tensor, mean: Tensor, std: Tensor):
        self.weights, self.mean, self.std = weights, mean, std

    @classmethod
    def fit(cls, x: Tensor, y: Tensor, l2: float = 1e-3) -> LinearProbe:
        """x (N, D), y (N, K); fitted in float64."""
        x, y = x.double(), y.double()
        mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
        return cls(fit_linear_probe((x - mean) / std, y, l2), mean, std)

    def __call__(self, x: Tensor) -> Tensor:
        """x (..., D) → (..., K) float64."""
        return apply_linear_probe(self.weights, (x.double() - self.mean) / self.std)
