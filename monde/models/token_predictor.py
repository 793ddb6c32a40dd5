"""A predictor over latents made of tokens (model.predictor 'token_transformer').

The image part of a latent (its first D − P dims) is read as `latent_tokens` tokens of
E = (D − P) / latent_tokens dims each — a grid of patch features, in the order the encoder
wrote them (DINO-WM's choice: a latent that keeps where things are) — and the proprioception
(the last P dims), when the model has any, as one more token. Every token of frame t attends to
every token of frames ≤ t (frame-causal), and is modulated by the action taken after frame t
(AdaLN-zero), so a token can move what it holds to where the action sends it. Like the other
predictors it predicts a residual, ẑ_{t+1} = z_t + f(·), and the flattened latent stays the
(B, T, D) the rest of Monde sees: costs, probes and the planner need no change.

Cost on a CPU grows with tokens × history: keep the grid small (e.g. 4 × 4) and the width
narrow; `rollout_samples` runs the fixed context once per episode and keeps a KV cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from monde.models.predictors import (
    AdaLNBlock,
    _check_rollout_shapes,
    _check_sample_shapes,
    _repeat_rollout,
)

if TYPE_CHECKING:
    from monde.config import ModelConfig


class TokenPredictor(nn.Module):
    """Frame-causal transformer over the tokens of each latent, AdaLN action conditioning."""

    def __init__(
        self,
        latent_dim: int,
        proprio_dim: int,
        tokens: int,
        action_dim: int,
        dim: int,
        depth: int,
        heads: int,
        max_context: int,
    ):
        super().__init__()
        if dim % heads:
            raise ValueError(f"model.predictor_dim {dim} must be divisible by {heads} heads")
        image_dim = latent_dim - proprio_dim
        if tokens < 1 or image_dim % tokens:
            raise ValueError(
                f"model.latent_tokens {tokens} must be ≥ 1 and divide the image latent's "
                f"{image_dim} dims (model.latent_dim {latent_dim} − {proprio_dim} proprioceptive)"
            )
        self.tokens, self.token_dim, self.proprio_dim = tokens, image_dim // tokens, proprio_dim
        self.per_frame = tokens + (1 if proprio_dim else 0)  # M: tokens of one frame
        self.max_context = max_context
        self.embed = nn.Linear(self.token_dim, dim)
        self.proprio_embed = nn.Linear(proprio_dim, dim) if proprio_dim else None
        self.action_embed = nn.Sequential(
            nn.Linear(action_dim, dim), nn.GELU(), nn.Linear(dim, dim)
        )
        self.space = nn.Parameter(torch.randn(1, 1, self.per_frame, dim) * 0.02)  # which token
        self.time = nn.Parameter(torch.zeros(1, max_context, 1, dim))  # which frame
        self.blocks = nn.ModuleList(AdaLNBlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.output = nn.Linear(dim, self.token_dim)
        self.proprio_output = nn.Linear(dim, proprio_dim) if proprio_dim else None
        for head in (self.output, self.proprio_output):
            if head is not None:  # an untrained predictor starts at "nothing moves"
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def _embed(self, z: Tensor, first_frame: int) -> Tensor:
        """Latents (B, T, D) of frames first_frame … → tokens (B, T·M, dim)."""
        b, t, _ = z.shape
        image = z[..., : self.tokens * self.token_dim].reshape(b, t, self.tokens, self.token_dim)
        x = self.embed(image)  # (B, T, N, dim)
        if self.proprio_embed is not None:
            proprio = self.proprio_embed(z[..., -self.proprio_dim :]).unsqueeze(2)  # (B, T, 1, ·)
            x = torch.cat([x, proprio], dim=2)  # (B, T, M, dim)
        x = x + self.space + self.time[:, first_frame : first_frame + t]
        return x.reshape(b, t * self.per_frame, -1)

    def _delta(self, x: Tensor, frames: int) -> Tensor:
        """Tokens (B, T·M, dim) → residual latents (B, T, D)."""
        b = x.shape[0]
        x = self.norm(x).reshape(b, frames, self.per_frame, -1)  # (B, T, M, dim)
        delta = self.output(x[:, :, : self.tokens]).reshape(b, frames, -1)  # (B, T, N·E)
        if self.proprio_output is not None:
            delta = torch.cat([delta, self.proprio_output(x[:, :, -1])], dim=-1)  # (B, T, D)
        return delta

    def _cond(self, a: Tensor) -> Tensor:
        """Actions (B, T, A) → the condition of each token of their frames (B, T·M, dim)."""
        return self.action_embed(a).repeat_interleave(self.per_frame, dim=1)

    def _frame_causal(self, frames: int, device: torch.device) -> Tensor:
        """(T·M, T·M) bool: a token sees the tokens of its own and of earlier frames."""
        frame = torch.arange(frames, device=device).repeat_interleave(self.per_frame)
        return frame[None, :] <= frame[:, None]

    def forward(self, z: Tensor, a: Tensor) -> Tensor:
        """Teacher-forced: z (B, T, D), a (B, T, A) → ẑ (B, T, D), ẑ_t predicts z_{t+1}."""
        t = z.shape[1]
        if t > self.max_context:
            raise ValueError(f"sequence of {t} frames exceeds model.max_context {self.max_context}")
        x, cond, mask = self._embed(z, 0), self._cond(a), self._frame_causal(t, z.device)
        for block in self.blocks:
            x, _ = block.forward_cached(x, cond, None, mask)
        return z + self._delta(x, t)

    def rollout(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        """z_ctx (B, Tc, D), a_ctx (B, Tc−1, A), actions (B, H, A) → (B, H, D)."""
        a_ctx = _check_rollout_shapes(z_ctx, a_ctx, actions)
        zs, acts, preds = z_ctx, a_ctx, []
        for k in range(actions.shape[1]):
            acts = torch.cat([acts, actions[:, k : k + 1]], dim=1)  # (B, T, A)
            window = slice(-self.max_context, None)
            z_next = self(zs[:, window], acts[:, window])[:, -1:]  # (B, 1, D)
            preds.append(z_next)
            zs = torch.cat([zs, z_next], dim=1)
        return torch.cat(preds, dim=1)  # (B, H, D)

    def rollout_samples(self, z_ctx: Tensor, a_ctx: Tensor | None, actions: Tensor) -> Tensor:
        """S rollouts per context, KV-cached: z_ctx (B, Tc, D), actions (B, S, H, A) →
        (B, S, H, D). The Tc − 1 context frames (their actions fixed) run once per episode;
        each step then runs one frame's M tokens per sample, attending to the cache and to each
        other. Rollouts longer than max_context fall back to `rollout` on a repeated context."""
        a_ctx = _check_sample_shapes(z_ctx, a_ctx, actions)
        b, s, h, _ = actions.shape
        tc = z_ctx.shape[1]
        if tc + h - 1 > self.max_context:
            return _repeat_rollout(self, z_ctx, a_ctx, actions)
        caches: list[tuple[Tensor, Tensor] | None] = [None] * len(self.blocks)
        if tc > 1:  # the fixed prefix, once per episode
            x = self._embed(z_ctx[:, :-1], 0)  # (B, (Tc−1)·M, dim)
            cond, mask = self._cond(a_ctx), self._frame_causal(tc - 1, z_ctx.device)
            for i, block in enumerate(self.blocks):
                x, (k, v) = block.forward_cached(x, cond, None, mask)  # k, v (B, heads, ·, ·)
                caches[i] = (k.repeat_interleave(s, 0), v.repeat_interleave(s, 0))  # (B·S, ·)
        z = z_ctx[:, -1:].expand(b, s, -1).reshape(b * s, 1, -1)  # (B·S, 1, D)
        acts = actions.reshape(b * s, h, -1)  # (B·S, H, A)
        preds = []
        for k in range(h):  # one frame per step
            x = self._embed(z, tc - 1 + k)  # (B·S, M, dim)
            cond = self._cond(acts[:, k : k + 1])  # (B·S, M, dim)
            seen = (tc - 1 + k) * self.per_frame  # cached tokens: every earlier frame's
            everywhere = torch.ones(self.per_frame, seen + self.per_frame, dtype=torch.bool)
            for i, block in enumerate(self.blocks):
                x, caches[i] = block.forward_cached(x, cond, caches[i], everywhere.to(x.device))
            z = z + self._delta(x, 1)  # (B·S, 1, D)
            preds.append(z)
        return torch.cat(preds, dim=1).reshape(b, s, h, -1)  # (B, S, H, D)


def build_token_transformer(cfg: ModelConfig) -> TokenPredictor:
    """model.predictor 'token_transformer': the image latent as model.latent_tokens tokens
    (0: one token, a frame-causal transformer over whole latents)."""
    return TokenPredictor(
        cfg.latent_dim,
        cfg.proprio_dim,
        max(cfg.latent_tokens, 1),
        cfg.action_dim,
        cfg.predictor_dim,
        cfg.predictor_depth,
        cfg.predictor_heads,
        cfg.max_context,
    )
