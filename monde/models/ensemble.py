"""An ensemble of world models that plans as one: members trained alike, differing in their seed.

The ensemble is a WorldModelProtocol: its latent is the members' latents side by side
(D = M · D_m) and its rollout rolls each member's part forward with that member's own
predictor. A planning cost that averages over latent dimensions (`plan.metric` l2 or l1, the
mean over D) and sums over the horizon is then exactly the mean of the members' costs, so a
candidate plan scores well only where the members on average predict it reaches the goal: a
push that one model's error makes look good, and the others do not, is less often chosen (PETS'
reason for ensembles, Chua et al. 2018). `plan.ensemble_cost` max scores a plan by its most
pessimistic member instead (monde.plan.cost.ensemble_goal_cost). Beyond that, nothing in
planning, evaluation or `monde serve` knows it is an ensemble.

Members must share one model config (architecture, frames, actions, proprioception): they
differ only in their weights. Their latents are not rescaled; members trained with the same
regulariser have latents of the same scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from monde.models.world_model import WorldModel, encode_observation


class WorldModelEnsemble(nn.Module):
    """M world models of one config; latents (…, M · D_m), member m's in slice m."""

    def __init__(self, members: Sequence[WorldModel], names: Sequence[str] | None = None):
        """`names` label the members in errors (their folders, when loaded)."""
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        names = list(names) if names is not None else [f"member {i}" for i in range(len(members))]
        first = members[0]
        for name, member in zip(names[1:], members[1:], strict=True):
            if member.cfg != first.cfg:
                raise ValueError(
                    f"{name}: its model config differs from {names[0]}'s; an ensemble's members "
                    "share one model config and differ only in their weights"
                )
        self.members = nn.ModuleList(members)
        self.cfg = first.cfg  # the members' shared config
        self.history = first.history
        self.frameskip = first.frameskip
        self.action_dim = first.action_dim
        self.image_size = first.image_size
        self.in_channels = first.in_channels
        self.member_dim = first.latent_dim
        self.latent_dim = len(members) * first.latent_dim

    @property
    def proprio(self) -> tuple[str, ...]:
        return self.members[0].proprio

    @property
    def proprio_indices(self) -> tuple[int, ...]:
        return self.members[0].proprio_indices

    def _parts(self, z: Tensor) -> tuple[Tensor, ...]:
        """(…, M · D_m) → M tensors (…, D_m), member by member."""
        if z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"latents have {z.shape[-1]} dims; this ensemble's are {self.latent_dim} "
                f"({len(self.members)} members × {self.member_dim})"
            )
        return torch.split(z, self.member_dim, dim=-1)

    def encode(
        self, frames: np.ndarray | Tensor, states: np.ndarray | Tensor | None = None
    ) -> Tensor:
        """uint8 frames (B, T, Hp, Wp, C) or (B, Hp, Wp, C) → latents (B, T, M·D_m) or (B, M·D_m);
        `states` as WorldModel.encode takes them (read only with proprioception)."""
        return torch.cat([encode_observation(m, frames, states) for m in self.members], dim=-1)

    def rollout(self, z_ctx: Tensor, actions: Tensor, a_ctx: Tensor | None = None) -> Tensor:
        """z_ctx (B, Tc, M·D_m), actions (B, H, A) → (B, H, M·D_m), each member on its part."""
        parts = zip(self.members, self._parts(z_ctx), strict=True)
        return torch.cat([m.rollout(z, actions, a_ctx) for m, z in parts], dim=-1)

    def rollout_samples(
        self, z_ctx: Tensor, actions: Tensor, a_ctx: Tensor | None = None
    ) -> Tensor:
        """The planner's fast path: z_ctx (B, Tc, M·D_m), actions (B, S, H, A) →
        (B, S, H, M·D_m)."""
        parts = zip(self.members, self._parts(z_ctx), strict=True)
        return torch.cat([m.rollout_samples(z, actions, a_ctx) for m, z in parts], dim=-1)

    def predict(self, z: Tensor, actions: Tensor) -> Tensor:
        """Teacher-forced: z (B, T, M·D_m), actions (B, T, A) → ẑ (B, T, M·D_m)."""
        parts = zip(self.members, self._parts(z), strict=True)
        return torch.cat([m.predict(zm, actions) for m, zm in parts], dim=-1)
