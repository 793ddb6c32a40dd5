"""Probes: does a latent carry the physical state? Ridge (linear) and small-MLP probes, R².

Probes are fitted on latents of training episodes and scored on held-out ones. They know nothing
about models or environments: latents in, states out. The linear probe, R² and the probe targets
live in `monde/probing.py`, which training's collapse probe shares; this module adds the MLP
probe and probes of named state columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from monde.precision import torch_threads
from monde.probing import LinearProbe, is_angle, near_constant, probe_targets, r2_score


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
    with torch_threads(1):
        return _fit_mlp_probe(x, y, hidden, steps, batch_size, lr, weight_decay, seed)


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


def state_r2_with_angle_parts(
    states: Tensor, probe: StateProbe, x: Tensor, names: Sequence[str]
) -> tuple[dict[str, float | None], dict[str, dict[str, float] | None]]:
    """(`state_r2`, `angle_part_r2`) of one probe reading of latents x (N, D): both from a
    single pass of the probe over x."""
    y, groups = probe_targets(states.double(), names)
    r2 = r2_score(y, probe.targets(x).double())  # (T,) per probe target
    constant = near_constant(states)  # (S,)
    per_name, angle_parts = {}, {}
    for i, (name, g) in enumerate(zip(names, groups, strict=True)):
        still = bool(constant[i])
        per_name[name] = None if still else float(r2[g].mean())
        if is_angle(name):
            angle_parts[name] = None if still else {"cos": float(r2[g[0]]), "sin": float(r2[g[1]])}
    return per_name, angle_parts


def state_r2(
    states: Tensor, probe: StateProbe, x: Tensor, names: Sequence[str]
) -> dict[str, float | None]:
    """Held-out R² of `probe` on latents x (N, D) against states (N, S), per named column: an
    angle's is the mean R² of its cos and sin; None for a column (near-)constant in `states`
    (`near_constant`)."""
    return state_r2_with_angle_parts(states, probe, x, names)[0]


def angle_part_r2(
    states: Tensor, probe: StateProbe, x: Tensor, names: Sequence[str]
) -> dict[str, dict[str, float] | None]:
    """The cos and sin R² of each angle column apart, {name: {"cos": r2, "sin": r2}}, whose mean
    is its `state_r2`: a bar such as "R² of cos and sin ≥ 0.9" asks for both. Columns that are
    not angles are left out; a (near-)constant angle is None."""
    return state_r2_with_angle_parts(states, probe, x, names)[1]
