"""The JEPA training objective: latent prediction + anti-collapse terms. No pixels in the loss.

loss = w_tf · ‖P(z_{<L}, a) − z_{>0}‖²               teacher-forced one-step prediction
     + w_ro · ‖rollout(z_{≤Tc}, a) − z_{>Tc}‖²       multi-step autoregressive rollout
     + regulariser(z)                                 VICReg variance/covariance or SIGReg
     + w_id · ‖g(z_t, z_{t+1}) − a_t‖²                inverse dynamics (keeps the agent in z)
     + w_ts · ‖z_{t+1} − z_t‖²                        time similarity (smooth trajectories)
     + w_tc · InfoNCE(z_t → z_{t+1} vs z_s, |s − t| ≥ 2)  time contrast (what moves stays in z)

The regulariser is a statistic of the whole batch: under data parallelism the latents of all
ranks are gathered (with gradients) first, so it sees the same global batch as one process.
The other terms are means over rows; DDP's gradient averaging makes them global means.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monde.config import TrainConfig
from monde.models.regularizers import sigreg, vicreg_covariance, vicreg_variance
from monde.models.world_model import WorldModel
from monde.precision import resolve_precision
from monde.train.distributed import all_gather_with_grad


def jepa_terms(
    model: WorldModel,
    frames: Tensor,
    actions: Tensor,
    cfg: TrainConfig,
    generator: torch.Generator | None = None,
    states: Tensor | None = None,
    bf16: bool | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """frames (B, L, Hp, Wp, C) uint8, actions (B, L−1, A) → scalar loss and its parts (and
    "loss") as detached 0-d tensors (no device sync). `states` (B, L, S) feed a model with
    proprioception (its `proprio` columns only). `bf16`: autocast the forward pass to bf16;
    None resolves cfg.precision for the frames' device.

    Under torchrun, frames and actions are this rank's rows; the regulariser is computed on
    the latents of all ranks' rows (all-gathered with gradients).
    """
    tc = model.history
    b, length = frames.shape[:2]
    if bf16 is None:
        bf16 = resolve_precision(cfg.precision, frames.device)[0] == "bf16"  # probed once
    with torch.autocast(frames.device.type, dtype=torch.bfloat16, enabled=bf16):
        z = model.encode(frames, states)  # (B, L, D)
        z_teacher = model.predict(z[:, :-1], actions)  # (B, L−1, D)
        z_rollout = model.rollout(z[:, :tc], actions[:, tc - 1 :], a_ctx=actions[:, : tc - 1])
        a_inferred = None
        if model.inverse_dynamics is not None and cfg.inverse_dynamics_weight > 0:
            pairs = torch.cat([z[:, :-1], z[:, 1:]], dim=-1)  # (B, L−1, 2D)
            a_inferred = model.inverse_dynamics(pairs)
    z, z_teacher, z_rollout = z.float(), z_teacher.float(), z_rollout.float()

    parts: dict[str, Tensor] = {
        "teacher_forcing": F.mse_loss(z_teacher, z[:, 1:]),
        "rollout": F.mse_loss(z_rollout, z[:, tc:]),  # (B, L−Tc, D)
    }
    loss = cfg.teacher_forcing_weight * parts["teacher_forcing"]
    loss = loss + cfg.rollout_weight * parts["rollout"]
    flat = all_gather_with_grad(z.reshape(b * length, -1))  # (W·B·L, D): every rank's rows
    if cfg.regularizer == "vicreg":
        parts["variance"] = vicreg_variance(flat)
        parts["covariance"] = vicreg_covariance(flat)
        loss = loss + cfg.variance_weight * parts["variance"]
        loss = loss + cfg.covariance_weight * parts["covariance"]
    else:
        parts["sigreg"] = sigreg(flat, cfg.sigreg_projections, generator=generator)
        loss = loss + cfg.sigreg_weight * parts["sigreg"]
    if a_inferred is not None:
        parts["inverse_dynamics"] = F.mse_loss(a_inferred.float(), actions)
        loss = loss + cfg.inverse_dynamics_weight * parts["inverse_dynamics"]
    if cfg.time_similarity_weight > 0:
        parts["time_similarity"] = (z[:, 1:] - z[:, :-1]).square().mean()
        loss = loss + cfg.time_similarity_weight * parts["time_similarity"]
    if cfg.time_contrast_weight > 0:
        parts["time_contrast"] = time_contrast(z, cfg.time_contrast_temperature)
        loss = loss + cfg.time_contrast_weight * parts["time_contrast"]
    if cfg.batch_contrast_weight > 0:
        tau = cfg.batch_contrast_temperature
        parts["batch_contrast"] = batch_contrast(z_teacher, z[:, 1:], tau)
        loss = loss + cfg.batch_contrast_weight * parts["batch_contrast"]
    metrics = {k: v.detach() for k, v in parts.items()}
    metrics["loss"] = loss.detach()
    return loss, metrics


def batch_contrast(predicted: Tensor, target: Tensor, temperature: float) -> Tensor:
    """Contrastive one-step prediction across windows: predicted and target (B, T, D) → scalar.

    At each step t, window b's prediction is the anchor, window b's target latent the positive,
    and the other windows' target latents at step t the negatives; logits are
    −mean_d (predicted_{b,t} − target_{b',t})² / temperature (InfoNCE, averaged over b and t).
    The windows of a batch come from other episodes, so their scenes and still objects differ:
    the term keeps in the latent what tells them apart, as C-SWM's contrastive loss keeps
    objects' positions (Kipf et al. 2020).
    """
    if predicted.shape != target.shape or predicted.shape[0] < 2:
        raise ValueError(
            f"batch_contrast needs predictions and targets of one shape (B ≥ 2, T, D), got "
            f"{tuple(predicted.shape)} and {tuple(target.shape)}"
        )
    b, t = predicted.shape[:2]
    anchors, keys = predicted.transpose(0, 1), target.transpose(0, 1)  # (T, B, D) each
    dist = (anchors[:, :, None] - keys[:, None, :]).square().mean(-1)  # (T, B, B)
    labels = torch.arange(b, device=predicted.device).repeat(t)  # (T·B,): the own window
    return F.cross_entropy((-dist / temperature).reshape(t * b, b), labels)


def time_contrast(z: Tensor, temperature: float) -> Tensor:
    """Time-contrastive InfoNCE within windows: z (B, L, D), L ≥ 3 → scalar.

    Each step t < L − 1 of a window with a negative is an anchor; its positive is step t + 1
    and its negatives are the steps s of the same window with |s − t| ≥ 2 (t − 1, as near in
    time as t + 1, is neither). Logits are −mean_d (z_t − z_s)² / temperature. The frames of
    one window share their scene and their still objects, so only what moves tells the steps
    apart: the term keeps it in the latent (TCN's time-contrastive idea, Sermanet et al. 2018).
    A mean over windows: under DDP, gradient averaging makes it the global mean.
    """
    length = z.shape[1]
    if length < 3:
        raise ValueError(f"time_contrast needs windows of ≥ 3 steps, got {length}")
    # anchors: steps before the last with a step two or more away (a function of L alone, so
    # no data-dependent shapes under torch.compile)
    anchors = [t for t in range(length - 1) if t >= 2 or t + 2 < length]
    dist = (z[:, :, None] - z[:, None, :]).square().mean(-1)  # (B, L, L) mean squared distance
    steps = torch.arange(length, device=z.device)
    gap = steps[None, :] - steps[:, None]  # (L, L): s − t
    allowed = (gap == 1) | (gap.abs() >= 2)  # the positive and the negatives of each anchor t
    logits = (-dist / temperature).masked_fill(~allowed, float("-inf"))[:, anchors]  # (B, K, L)
    targets = torch.tensor(anchors, device=z.device) + 1  # (K,): the next step of each anchor
    return F.cross_entropy(logits.reshape(-1, length), targets.repeat(z.shape[0]))


class JEPAObjective(nn.Module):
    """The model and its loss as one module, so DDP and torch.compile see one forward pass.

    forward(frames (B, L, Hp, Wp, C) uint8, actions (B, L−1, A), generator, states (B, L, S)
    or None) → (loss, parts).
    """

    def __init__(self, model: WorldModel, cfg: TrainConfig, device: torch.device | None = None):
        super().__init__()
        self.model = model
        self.cfg = cfg
        # cfg.precision resolved here for the device the batches go to, outside torch.compile
        # (None: resolved per call for the frames' device)
        self.bf16: bool | None = None
        if device is not None:
            self.bf16 = resolve_precision(cfg.precision, device)[0] == "bf16"

    def forward(
        self,
        frames: Tensor,
        actions: Tensor,
        generator: torch.Generator | None = None,
        states: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return jepa_terms(self.model, frames, actions, self.cfg, generator, states, self.bf16)
