"""Probes: does a latent carry the physical state? Ridge (linear) and small-MLP probes, R².

Probes are fitted on latents of training episodes and scored on held-out ones. They know nothing
about models or environments: latents in, states out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


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


class MLPProbe(nn.Module):
    """A small MLP probe with its own input and target standardisation: x (N, D) → y (N, K)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, out_dim),
        )  # fmt: skip
        self.register_buffer("x_mean", torch.zeros(in_dim))
        self.register_buffer("x_std", torch.ones(in_dim))
        self.register_buffer("y_mean", torch.zeros(out_dim))
        self.register_buffer("y_std", torch.ones(out_dim))

    def forward(self, x: Tensor) -> Tensor:
        z = self.net((x.float() - self.x_mean) / self.x_std)
        return z * self.y_std + self.y_mean

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """x (..., D) → ŷ (..., K) float64, without gradients."""
        return self(x).double()


def fit_mlp_probe(
    x: Tensor,
    y: Tensor,
    hidden: int = 128,
    steps: int = 1500,
    batch_size: int = 256,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> MLPProbe:
    """Fit an MLPProbe on x (N, D) → y (N, K) by Adam on the standardised MSE; deterministic.

    Runs on one thread: the layers are too small to gain from more, and on a busy machine
    intra-op threads of tiny ops mostly wait on each other.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _fit_mlp_probe(x, y, hidden, steps, batch_size, lr, weight_decay, seed)
    finally:
        torch.set_num_threads(threads)


def _fit_mlp_probe(
    x: Tensor, y: Tensor, hidden: int, steps: int, batch_size: int, lr: float,
    weight_decay: float, seed: int,
) -> MLPProbe:  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = MLPProbe(x.shape[1], y.shape[1], hidden)
    x, y = x.float(), y.float()
    probe.x_mean.copy_(x.mean(0))
    probe.x_std.copy_(x.std(0).clamp_min(1e-6))
    probe.y_mean.copy_(y.mean(0))
    probe.y_std.copy_(y.std(0).clamp_min(1e-6))
    opt = torch.optim.AdamW(probe.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    y_norm = (y - probe.y_mean) / probe.y_std
    for _ in range(steps):
        idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=g)
        pred = probe.net((x[idx] - probe.x_mean) / probe.x_std)
        loss = (pred - y_norm[idx]).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return probe.eval()


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


@torch.no_grad()
def fit_probes(
    x_train: Tensor,
    y_train: Tensor,
    kinds: tuple[str, ...] = ("linear", "mlp"),
    seed: int = 0,
    mlp_steps: int = 1500,
) -> dict[str, Callable[[Tensor], Tensor]]:
    """Fit each probe kind on x_train (N, D) → y_train (N, K); → {kind: x (M, D) → ŷ (M, K)}."""
    probes: dict[str, Callable[[Tensor], Tensor]] = {}
    for kind in kinds:
        if kind == "linear":
            probes[kind] = LinearProbe.fit(x_train, y_train)
        elif kind == "mlp":
            with torch.enable_grad():
                mlp = fit_mlp_probe(x_train, y_train, steps=mlp_steps, seed=seed)
            probes[kind] = mlp.predict
        else:
            raise ValueError(f"unknown probe kind {kind!r}; valid: 'linear', 'mlp'")
    return probes


class StateProbe:
    """A probe of named state columns fitted on their `probe_targets` (an angle as cos, sin).

    `targets(x)`: x (..., D) → the probe's targets (..., T); `probe(x)`: → states (..., S), an
    angle read back as atan2(sin, cos).
    """

    def __init__(self, read: Callable[[Tensor], Tensor], groups: list[list[int]]):
        self.read, self.groups = read, groups

    def targets(self, x: Tensor) -> Tensor:
        return self.read(x)

    def __call__(self, x: Tensor) -> Tensor:
        t = self.read(x)  # (..., T)
        columns = [
            torch.atan2(t[..., g[1]], t[..., g[0]]) if len(g) == 2 else t[..., g[0]]
            for g in self.groups
        ]
        return torch.stack(columns, dim=-1)  # (..., S)


def fit_state_probes(
    x_train: Tensor,
    states_train: Tensor,
    names: Sequence[str],
    kinds: tuple[str, ...] = ("linear", "mlp"),
    seed: int = 0,
    mlp_steps: int = 1500,
) -> dict[str, StateProbe]:
    """`fit_probes` on the named states' probe targets; → {kind: StateProbe}."""
    y_train, groups = probe_targets(states_train, names)
    fitted = fit_probes(x_train, y_train, kinds, seed, mlp_steps)
    return {kind: StateProbe(read, groups) for kind, read in fitted.items()}


def state_r2(
    states: Tensor, probe: StateProbe, x: Tensor, names: Sequence[str]
) -> dict[str, float | None]:
    """Held-out R² of `probe` on latents x (N, D) against states (N, S), per named column: an
    angle's is the mean R² of its cos and sin; None for a column (near-)constant in `states`
    (`near_constant`)."""
    y, groups = probe_targets(states.double(), names)
    r2 = r2_score(y, probe.targets(x).double())
    constant = near_constant(states)
    return {
        name: None if bool(constant[i]) else float(r2[g].mean())
        for i, (name, g) in enumerate(zip(names, groups, strict=True))
    }
