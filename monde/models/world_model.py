"""The WorldModel facade and the protocol planners and evaluators program against.

A world model has two verbs: `encode` frames into latents, and `rollout` latents forward under
actions. Costs are separate functions of latents (monde.plan.cost). Anything with these two
methods — a loaded checkpoint, a frozen pretrained encoder with a new predictor — plugs into
planning and evaluation without subclassing.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from monde.config import ModelConfig
from monde.models.preprocess import frames_to_input
from monde.registry import ENCODERS, PREDICTORS, resolve


@runtime_checkable
class WorldModelProtocol(Protocol):
    history: int  # context frames the predictor conditions on
    frameskip: int  # environment steps per model step
    action_dim: int  # A: dims of one model action (frameskip env actions, concatenated)
    image_size: int  # Hp = Wp: the side of the frames `encode` takes, in pixels
    in_channels: int  # C: channels of those frames (3 RGB, 4 RGB + depth)
    latent_dim: int  # D: dims of one frame's latent
    proprio: tuple[str, ...]  # state columns read as proprioception, by name (() pixels only)
    proprio_indices: tuple[int, ...]  # where those columns lie in the env's state vector

    def encode(self, frames: np.ndarray | Tensor) -> Tensor:
        """uint8 frames (B, T, Hp, Wp, C) → latents (B, T, D). A model that also reads
        proprioception takes `states` (B, T, S) as a second argument (see `encode_observation`)."""
        ...

    def rollout(self, z_ctx: Tensor, actions: Tensor, a_ctx: Tensor | None = None) -> Tensor:
        """z_ctx (B, Tc, D), actions (B, H, A), a_ctx (B, Tc−1, A) → predicted (B, H, D)."""
        ...


def encode_observation(
    model: WorldModelProtocol,
    frames: np.ndarray | Tensor,
    states: np.ndarray | Tensor | None = None,
) -> Tensor:
    """model.encode(frames), passing the frames' `states` only to a model with proprioception
    (`model.proprio`), so that pixels-only models from elsewhere need no states argument."""
    if model.proprio:
        return model.encode(frames, states)  # type: ignore[call-arg]
    return model.encode(frames)


@torch.no_grad()
def encode_frames(
    model: WorldModelProtocol,
    frames: np.ndarray | Tensor,
    states: np.ndarray | Tensor | None = None,
    chunk: int = 512,
) -> Tensor:
    """uint8 frames (N, Hp, Wp, C) (+ their states (N, S), read by a model with
    proprioception) → latents (N, D) float32 on the CPU, encoded `chunk` frames at a time."""
    return torch.cat(
        [
            encode_observation(
                model, frames[i : i + chunk], None if states is None else states[i : i + chunk]
            )
            .float()
            .cpu()
            for i in range(0, len(frames), chunk)
        ]
    )


def build_encoder(cfg: ModelConfig) -> nn.Module:
    """The frame encoder `cfg.encoder` names in monde.registry.ENCODERS, built from cfg: it maps
    (N, C, Hp, Wp) float frames to (N, D − P) image latents (the rest is proprioception)."""
    return resolve(ENCODERS, "model.encoder", cfg.encoder)(cfg)


def build_predictor(cfg: ModelConfig) -> nn.Module:
    """The predictor `cfg.predictor` names in monde.registry.PREDICTORS, built from cfg."""
    return resolve(PREDICTORS, "model.predictor", cfg.predictor)(cfg)


class WorldModel(nn.Module):
    """CNN encoder + action-conditioned predictor (+ an inverse-dynamics head for training)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.history = cfg.history
        self.frameskip = cfg.frameskip
        self.action_dim = cfg.action_dim
        self.image_size = cfg.image_size
        self.in_channels = cfg.in_channels
        self.latent_dim = cfg.latent_dim
        self.encoder = build_encoder(cfg)
        if cfg.proprio and len(cfg.proprio_indices) != cfg.proprio_dim:
            raise ValueError(
                f"model.proprio {cfg.proprio} has no model.proprio_indices: resolve them from "
                "the data's state names first (ModelConfig.resolve_proprio)"
            )
        if cfg.proprio:  # normalisation of the proprioception, from training data (saved)
            self.register_buffer("proprio_mean", torch.zeros(cfg.proprio_dim))
            self.register_buffer("proprio_std", torch.ones(cfg.proprio_dim))
        self.predictor = build_predictor(cfg)
        self.inverse_dynamics = (
            nn.Sequential(
                nn.Linear(2 * cfg.latent_dim, 256), nn.GELU(), nn.Linear(256, cfg.action_dim)
            )
            if cfg.inverse_dynamics
            else None
        )

    @property
    def proprio(self) -> tuple[str, ...]:
        """State columns read as proprioception, by name (empty for pixels only)."""
        return tuple(self.cfg.proprio)

    @property
    def proprio_indices(self) -> tuple[int, ...]:
        """Where the `proprio` columns lie in the state vector of the training data."""
        return tuple(self.cfg.proprio_indices)

    def encode(
        self, frames: np.ndarray | Tensor, states: np.ndarray | Tensor | None = None
    ) -> Tensor:
        """uint8 frames (B, T, Hp, Wp, C) or (B, Hp, Wp, C) → latents (B, T, D) or (B, D).

        `states` (B, T, S) or (B, S) are the environment's state rows of the same frames; a
        model with proprioception reads only its `cfg.proprio` columns of them (the robot's own
        sensors), a pixels-only model ignores them. The latent is then [image latent (D − P),
        normalised proprioception (P)]: appended, not mixed in, so that training cannot drop it
        (a JEPA loss alone may discard what the dynamics do not need, such as the absolute
        shoulder angle of a rotation-symmetric arm), as DINO-WM appends its proprio embedding.
        """
        lead = tuple(frames.shape[:-3])
        device = next(self.parameters()).device
        x = frames_to_input(frames, self.cfg.image_size, self.cfg.in_channels).to(device)
        z = self.encoder(x)  # (N, D − P)
        proprio = self._proprio(states, lead, device)  # (N, P) or None
        if proprio is not None:
            z = torch.cat([z, proprio.to(z.dtype)], dim=-1)  # (N, D)
        return z.reshape(*lead, -1)

    def _proprio(
        self, states: np.ndarray | Tensor | None, lead: tuple, device: torch.device
    ) -> Tensor | None:
        """State rows (*lead, S) → normalised proprioception (N, P), or None without it."""
        if not self.cfg.proprio:
            return None
        if states is None:
            raise ValueError(
                f"this model fuses proprioception {self.cfg.proprio}: pass the states of the "
                "frames to encode"
            )
        states = torch.as_tensor(states, device=device)
        if tuple(states.shape[:-1]) != lead or states.shape[-1] <= max(self.cfg.proprio_indices):
            raise ValueError(
                f"states {tuple(states.shape)} do not match frames {lead} with state columns "
                f"{self.cfg.proprio_indices} ({self.cfg.proprio})"
            )
        p = states[..., self.cfg.proprio_indices].float().reshape(-1, self.cfg.proprio_dim)
        if not self.training and not torch.isfinite(p).all():  # training data is verified
            raise ValueError(f"proprioception {self.cfg.proprio} contains NaN or inf")
        return (p - self.proprio_mean) / self.proprio_std  # (N, P)

    @torch.no_grad()
    def set_proprio_stats(self, states: np.ndarray | Tensor) -> None:
        """Normalise proprioception by the mean and std of training state rows (N, S)."""
        if not self.cfg.proprio:
            return
        p = torch.as_tensor(states)[:, self.cfg.proprio_indices].double()  # (N, P)
        self.proprio_mean.copy_(p.mean(0))
        self.proprio_std.copy_(p.std(0).clamp_min(1e-3))  # a constant column stays near 0

    def rollout(self, z_ctx: Tensor, actions: Tensor, a_ctx: Tensor | None = None) -> Tensor:
        """Autoregressive prediction: z_ctx (B, Tc, D), actions (B, H, A) → (B, H, D)."""
        if actions.shape[-1] != self.action_dim:
            raise ValueError(
                f"actions have {actions.shape[-1]} dims; this model takes {self.action_dim} "
                f"(frameskip {self.cfg.frameskip} × {self.cfg.env_action_dim})"
            )
        return self.predictor.rollout(z_ctx, a_ctx, actions)

    def rollout_samples(
        self, z_ctx: Tensor, actions: Tensor, a_ctx: Tensor | None = None
    ) -> Tensor:
        """The planner's fast path: z_ctx (B, Tc, D), actions (B, S, H, A) → (B, S, H, D).

        Equals `rollout` on the context repeated S times (to float rounding); context work runs
        once per episode, and the transformer keeps a KV cache.
        """
        if actions.shape[-1] != self.action_dim:
            raise ValueError(
                f"actions have {actions.shape[-1]} dims; this model takes {self.action_dim} "
                f"(frameskip {self.cfg.frameskip} × {self.cfg.env_action_dim})"
            )
        return self.predictor.rollout_samples(z_ctx, a_ctx, actions)

    def predict(self, z: Tensor, actions: Tensor) -> Tensor:
        """Teacher-forced: z (B, T, D), actions (B, T, A) → ẑ (B, T, D), ẑ_t predicts z_{t+1}."""
        return self.predictor(z, actions)
