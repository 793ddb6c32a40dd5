"""Masked latent prediction over patch tokens (I-JEPA), with EMA or SIGReg against collapse.

The context encoder sees the context patches only; a narrow predictor gets its tokens plus one
mask token per target patch (a learned vector + that patch's position code) and predicts the
target encoder's tokens of the target blocks. All blocks are predicted in one pass (I-JEPA runs
one pass per block; on a CPU one pass is cheaper).

- anti_collapse 'ema': the target encoder is a moving average of the online one (monde.pretrain
  .ema), no gradient flows through it, and its tokens are layer-normalised (I-JEPA).
- anti_collapse 'sigreg': the target is the online encoder on the whole frame, gradient and
  all, and SIGReg (monde.models.regularizers) pulls its tokens (pretrain.sigreg_on: tokens),
  or each frame's mean token (frames), towards an isotropic Gaussian (LeJEPA, LeWM).

With pretrain.change_floor ρ > 0, relu(ρ − change_ratio) keeps what changes within an episode
(a small moving agent) from fading against what differs between episodes (walls, door).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monde.config import PretrainConfig
from monde.models.regularizers import sigreg
from monde.models.vit import Block, PatchTransformer, gather_tokens, sincos_2d
from monde.pretrain.masks import Masks


class Predictor(nn.Module):
    """Context tokens (B, Kc, E) at patches (B, Kc) → predicted tokens (B, Kt, E) at the
    target patches (B, Kt), through `depth` blocks of width `dim`."""

    def __init__(
        self, grid: int, encoder_dim: int, dim: int, depth: int, heads: int, views: bool = False
    ):
        super().__init__()
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.register_buffer("pos", sincos_2d(grid, dim).unsqueeze(0), persistent=False)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, encoder_dim)
        # the context view's shift (pretrain.view_shift), told to every token
        self.view = nn.Linear(2, dim) if views else None

    def forward(
        self, context: Tensor, context_idx: Tensor, target_idx: Tensor, shift: Tensor | None = None
    ) -> Tensor:
        """`shift` (B, 2): the context view's (dy, dx) over pretrain.view_shift, told to every
        token."""
        b = context.shape[0]
        pos = self.pos.expand(b, -1, -1)  # (B, T, dim)
        x = self.embed(context) + gather_tokens(pos, context_idx)  # (B, Kc, dim)
        queries = self.mask_token + gather_tokens(pos, target_idx)  # (B, Kt, dim)
        x = torch.cat([x, queries], dim=1)  # (B, Kc + Kt, dim)
        if shift is not None and self.view is not None:
            x = x + self.view(shift.to(x.dtype))[:, None, :]  # (B, 1, dim) onto every token
        for block in self.blocks:
            x = block(x)
        return self.out(self.norm(x[:, context.shape[1] :]))  # (B, Kt, E)


def change_ratio(now: Tensor, moved: Tensor) -> Tensor:
    """Tokens (B, T, E) of frames and of the same episodes' frames some steps on → the mean
    distance between the two of an episode over the mean distance between frames of different
    episodes: each frame against the one half a batch away, in a batch drawn from many episodes
    and sorted by row. Tokens are layer-normalised first, so scaling them changes nothing."""
    a = F.layer_norm(now, now.shape[-1:]).flatten(1)  # (B, T·E)
    b = F.layer_norm(moved, moved.shape[-1:]).flatten(1)  # (B, T·E)
    within = (a - b).norm(dim=1).mean()
    between = (a - a.roll(a.shape[0] // 2, dims=0)).norm(dim=1).mean()
    return within / between.clamp_min(1e-12)


class MaskedLatentObjective(nn.Module):
    """The pretraining loss of an encoder backbone (`encoder` is trained in place)."""

    def __init__(self, encoder: PatchTransformer, cfg: PretrainConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder
        self.predictor = Predictor(
            encoder.grid,
            encoder.dim,
            cfg.predictor_dim,
            cfg.predictor_depth,
            cfg.predictor_heads,
            views=cfg.view_shift > 0,
        )
        self.target: PatchTransformer | None = None
        if cfg.anti_collapse == "ema":
            self.target = copy.deepcopy(encoder).requires_grad_(False)

    def trainable(self) -> list[nn.Parameter]:
        """The parameters the optimizer steps: encoder and predictor (never the EMA target)."""
        return [*self.encoder.parameters(), *self.predictor.parameters()]

    def target_tokens(self, x: Tensor) -> Tensor:
        """Tokens of whole frames (B, T, E) that the predictions are scored against."""
        if self.target is None:
            return self.encoder(x)
        with torch.no_grad():
            tokens = self.target(x)
            return F.layer_norm(tokens, tokens.shape[-1:])

    def forward(
        self,
        x: Tensor,
        masks: Masks,
        generator: torch.Generator | None = None,
        later: Tensor | None = None,
        view: tuple[Tensor, Tensor] | None = None,
        moved: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Frames (B, C, Hp, Wp) in [−1, 1] and their masks → (loss, its parts). With `later`
        (B, C, Hp, Wp), the frames pretrain.target_offset steps on, the targets are theirs.
        With `view` = (the frames translated, their shifts (B, 2) scaled to [−1, 1]), the
        context encoder sees the translated frames and the predictor is told the shift. With
        `moved` (B, C, Hp, Wp), the frames pretrain.change_offset steps on, the change floor
        (pretrain.change_floor) is added."""
        full = self.target_tokens(x if later is None else later)  # (B, T, E)
        targets = gather_tokens(full, masks.targets)  # (B, Kt, E)
        seen, shift = view if view is not None else (x, None)
        context = self.encoder(seen, masks.context)  # (B, Kc, E)
        predicted = self.predictor(context, masks.context, masks.targets, shift)  # (B, Kt, E)
        prediction = F.smooth_l1_loss(predicted, targets)
        parts = {"prediction": prediction.detach()}
        loss = prediction
        if self.cfg.anti_collapse == "sigreg":
            spread = (  # (B·T, E): every token of the batch, or (B, E): one per frame
                full.reshape(-1, full.shape[-1]) if self.cfg.sigreg_on == "tokens" else full.mean(1)
            )
            reg = sigreg(spread, self.cfg.sigreg_projections, generator)
            loss = loss + self.cfg.sigreg_weight * reg
            parts["sigreg"] = reg.detach()
        if moved is not None and self.cfg.change_floor > 0:
            # SIGReg's targets are already the online encoder's tokens of x: not encoded twice
            now = full if self.target is None and later is None else self.encoder(x)
            ratio = change_ratio(now, self.encoder(moved))
            floor = F.relu(self.cfg.change_floor - ratio)
            loss = loss + self.cfg.change_weight * floor
            parts["change_ratio"] = ratio.detach()
        # collapse monitor: spread across the batch of the mean token, averaged over dims
        parts["target_std"] = full.detach().mean(1).float().std(0).mean()
        parts["loss"] = loss.detach()
        return loss, parts
