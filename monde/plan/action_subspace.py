"""A planning cost that leaves out what the next action moves directly.

A latent distance to a goal frame counts everything the frame shows, the agent included. Where
success asks only for the scene (PushT: the block's pose, wherever the pusher ends up), the
agent's part of that distance pulls the planner toward where the goal frame happens to show the
agent. This module finds, from the world model itself and unlabelled latents, the directions
along which one model step's action moves the predicted latent, and gives the planning cost a
basis of the other directions. No labels and no reward: the split comes from the predictor.

Measured: for N latents z_i and M uniform random actions a_ij in [−1, 1],
``Δ_ij = f(z_i, a_ij) − mean_j f(z_i, a_ij)`` (what the action changes, not where the latent
drifts anyway) and ``C = mean_ij Δ_ij Δ_ijᵀ`` (D, D), the one-step action-driven covariance.
Its leading eigenvectors that together hold a fraction p of trace(C) are dropped; the others
form the basis Q (D, K), and the planner compares ``z Q`` with ``g Q``.

Measured on PushT (benchmarks/results/experiments/README.md): there it does not help, as the
action moves the block along with the pusher in most steps of the data, and a learned planner
needs the goal frame's pusher to bring the pusher to the block.
"""

from __future__ import annotations

import torch
from torch import Tensor

from monde.models.world_model import WorldModelProtocol
from monde.plan.mpc import rollout_samples


@torch.inference_mode()
def action_driven_covariance(
    model: WorldModelProtocol,
    latents: Tensor,
    actions_per_latent: int = 16,
    repeat: int = 1,
    seed: int = 0,
    chunk: int = 256,
) -> Tensor:
    """latents (N, D), on the model's device → the one-step action-driven covariance C (D, D),
    float64 on the CPU.

    Each latent is the context of one model step under `actions_per_latent` uniform random
    actions; with `repeat` > 1 one env action is drawn per step and repeated `repeat` times, as
    the planner's `plan.repeat_actions` searches (model.action_dim must be a multiple).
    """
    if latents.ndim != 2 or latents.shape[1] != model.latent_dim:
        raise ValueError(
            f"latents must be (N, {model.latent_dim}), got shape {tuple(latents.shape)}"
        )
    if actions_per_latent < 2:
        raise ValueError(f"actions_per_latent must be ≥ 2, got {actions_per_latent}")
    if repeat < 1 or model.action_dim % repeat:
        raise ValueError(f"repeat {repeat} must divide model.action_dim {model.action_dim}")
    generator = torch.Generator().manual_seed(seed)
    searched = model.action_dim // repeat
    total = torch.zeros(model.latent_dim, model.latent_dim, dtype=torch.float64)
    count = 0
    for first in range(0, len(latents), chunk):
        z = latents[first : first + chunk]
        n = len(z)
        drawn = torch.rand(n, actions_per_latent, 1, searched, generator=generator) * 2 - 1
        # each env action repeated, as MPCPlanner.expand does: (n, M, 1, A/repeat) → (n, M, 1, A)
        actions = drawn.unsqueeze(-2).expand(n, actions_per_latent, 1, repeat, searched)
        actions = actions.reshape(n, actions_per_latent, 1, model.action_dim)
        z_ctx = z[:, None]  # (n, 1, D)
        a_ctx = z_ctx.new_zeros(n, 0, model.action_dim)  # (n, 0, A): no earlier actions
        pred = rollout_samples(model, z_ctx, actions.to(z_ctx), a_ctx)[:, :, 0]  # (n, M, D)
        delta = (pred - pred.mean(dim=1, keepdim=True)).double().cpu()  # (n, M, D)
        flat = delta.reshape(-1, model.latent_dim)  # (n·M, D)
        total += flat.T @ flat
        count += len(flat)
    return total / count


def cost_basis(covariance: Tensor, drop_fraction: float) -> tuple[Tensor, dict]:
    """covariance C (D, D) → (Q (D, K) float32, summary): the orthonormal basis of the directions
    left after dropping C's leading eigenvectors until they hold at least `drop_fraction` of
    trace(C). drop_fraction 0 (or a zero C) keeps all D directions as they are (Q = I).

    The summary gives `kept` (K), `dropped` (D − K) and `dropped_variance` (their fraction of
    trace(C)).
    """
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1]:
        raise ValueError(f"covariance must be (D, D), got shape {tuple(covariance.shape)}")
    if not 0.0 <= drop_fraction < 1.0:
        raise ValueError(f"drop_fraction must be in [0, 1), got {drop_fraction}")
    d = covariance.shape[0]
    values, vectors = torch.linalg.eigh(covariance.double())  # ascending
    values, vectors = values.flip(0).clamp_min(0), vectors.flip(1)  # descending: (D,), (D, D)
    trace = float(values.sum())
    if drop_fraction == 0.0 or trace == 0.0:
        dropped = 0
    else:
        held = torch.cumsum(values, 0) / trace  # (D,): fraction held by the first i + 1
        # a direction reaching the fraction within rounding (1e-6) completes the drop
        dropped = int((held < drop_fraction - 1e-6).sum()) + 1
        dropped = min(dropped, d - 1)  # keep at least one direction
    basis = torch.eye(d) if dropped == 0 else vectors[:, dropped:].float()  # (D, K)
    summary = {
        "kept": d - dropped,
        "dropped": dropped,
        "dropped_variance": float(values[:dropped].sum()) / trace if trace else 0.0,
    }
    return basis, summary
