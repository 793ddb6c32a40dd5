"""A small vision transformer over patch tokens, sized for a CPU (model.encoder 'vit').

`PatchTransformer` is the part that sees: a patchify stem (conv with kernel = stride =
`encoder_patch`) cuts the frame into a grid of tokens, a learned position embedding (started
at 2-D sine-cosine) marks where each lies, and pre-norm transformer blocks mix them. Its
`tokens(x)` → (N, T, E) is what self-supervised pretraining (monde.pretrain) learns and what a
token latent can read; `tokens(x, keep)` encodes only the patches `keep` names (the context of
a masked-prediction objective).

With a conv stem (model.encoder 'conv_vit') the tokens come from the CNN encoder's feature
stages instead (monde.models.encoder.conv_stages: a patchify conv, then 3×3 stride-2 convs),
one token per cell of their output map, projected to the token width: convolutions find small
things (TwoRoom's agent, a few pixels wide) that one linear map of a 16 px patch misses, and the
grid they leave (4 × 4 for 64 px frames) keeps the transformer cheap.

`ViTEncoder` adds the readout the world model uses today: tokens → one pooled vector of the
image latent's D − P dims (`encoder_pool`: the mean token, or all tokens flattened, which keeps
where things are). A pretrained checkpoint holds the backbone only
(monde.models.encoder_checkpoint); the readout is always trained with the world model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from monde.config import ModelConfig
from monde.models.encoder import conv_stages


def sincos_2d(grid: int, dim: int) -> Tensor:
    """2-D sine-cosine position codes of a grid × grid patch grid (row-major) → (grid², dim).

    Half the channels code the row, half the column; each half is [sin(p·ω_k), cos(p·ω_k)]
    with ω_k = 10000^(−k/(dim/4)), k < dim/4 (as in MAE and I-JEPA). `dim` must be a multiple
    of 4.
    """
    if dim % 4:
        raise ValueError(f"position-code width {dim} must be a multiple of 4")
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)  # (dim/4,)
    pos = torch.arange(grid, dtype=torch.float64)
    rows, cols = torch.meshgrid(pos, pos, indexing="ij")  # (grid, grid) each

    def code(p: Tensor) -> Tensor:
        angles = p.reshape(-1, 1) * omega  # (grid², dim/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)  # (grid², dim/2)

    return torch.cat([code(rows), code(cols)], dim=1).float()  # (grid², dim)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"token width {dim} must be divisible by the {heads} heads")
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        n, t, e = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, e // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (N, H, T, E/H) each
        attended = F.scaled_dot_product_attention(q, k, v)  # (N, H, T, E/H)
        x = x + self.proj(attended.transpose(1, 2).reshape(n, t, e))
        return x + self.mlp(self.norm2(x))


def gather_tokens(x: Tensor, index: Tensor) -> Tensor:
    """x (N, T, E), index (N, K) long → the K tokens each row names, (N, K, E)."""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class PatchTransformer(nn.Module):
    """(N, C, Hp, Wp) float frames → patch tokens (N, T, E), T = grid².

    The stem: a patchify conv (T = (Hp / patch)²), or with `conv_channels` the CNN's conv
    stages (patch stem, then a 3×3 stride-2 conv per further channel count) and a 1 × 1 conv to
    the token width, one token per cell of their output map.
    """

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        patch: int,
        dim: int,
        depth: int,
        heads: int,
        conv_channels: tuple[int, ...] | None = None,
    ):
        super().__init__()
        if image_size % patch:
            raise ValueError(f"image_size {image_size} must be divisible by the patch {patch}")
        self.dim, self.image_size = dim, image_size
        if conv_channels:
            stages, self.grid = conv_stages(image_size, in_channels, tuple(conv_channels), patch)
            self.patch_embed: nn.Module = nn.Sequential(
                *stages, nn.Conv2d(conv_channels[-1], dim, 1)
            )
        else:
            self.grid = image_size // patch
            self.patch_embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.conv_stem = bool(conv_channels)
        self.pos_embed = nn.Parameter(sincos_2d(self.grid, dim).unsqueeze(0))  # (1, T, E)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    @property
    def num_tokens(self) -> int:
        """T: tokens per frame."""
        return self.grid * self.grid

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Frames (N, C, Hp, Wp) → tokens (N, T, E); with `keep` (N, K) token indices, only
        those patches are encoded (they attend to each other alone) → (N, K, E). A conv stem's
        cells see beyond their own pixels, so there the pixels of the other cells are zeroed
        first: what `keep` leaves out stays unseen."""
        if self.conv_stem:
            if keep is not None:
                x = x * self.pixel_mask(keep, x.shape[0]).to(x.dtype)
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, T, E), row-major patches
        x = x + self.pos_embed
        if keep is not None:
            x = gather_tokens(x, keep)  # (N, K, E)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def pixel_mask(self, keep: Tensor, n: int) -> Tensor:
        """Token indices (N, K) → (N, 1, Hp, Wp) ones on the pixels of those grid cells."""
        cells = torch.zeros(n, self.grid * self.grid, device=keep.device)
        cells.scatter_(1, keep, 1.0)
        cells = cells.reshape(n, 1, self.grid, self.grid)  # row-major cells → their grid
        return F.interpolate(cells, size=(self.image_size, self.image_size), mode="nearest")


class ViTEncoder(nn.Module):
    """Patch transformer + pooled readout: (N, C, Hp, Wp) float → (N, latent_dim)."""

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        latent_dim: int,
        patch: int = 8,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        pool: str = "mean",
        conv_channels: tuple[int, ...] | None = None,
    ):
        super().__init__()
        self.backbone = PatchTransformer(
            image_size, in_channels, patch, dim, depth, heads, conv_channels
        )
        self.pool = pool
        width = dim if pool == "mean" else dim * self.backbone.num_tokens
        hidden = max(latent_dim, min(256, width))
        self.head = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, latent_dim)
        )
        nn.init.trunc_normal_(self.head[0].weight, std=1.0 / math.sqrt(width))

    def tokens(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Frames (N, C, Hp, Wp) → patch tokens (N, T, E) (or the K of `keep` (N, K))."""
        return self.backbone(x, keep)

    def pooled(self, tokens: Tensor) -> Tensor:
        """Tokens (N, T, E) → the vector the readout takes: (N, E) mean, or (N, T·E) flat."""
        return tokens.mean(1) if self.pool == "mean" else tokens.flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pooled(self.tokens(x)))


def build_vit(cfg: ModelConfig, conv_channels: tuple[int, ...] | None = None) -> ViTEncoder:
    """model.encoder 'vit': the ViT above, its latent the image part (D − P) of the model's."""
    return ViTEncoder(
        cfg.image_size,
        cfg.in_channels,
        cfg.latent_dim - cfg.proprio_dim,  # the rest of the latent is the proprioception
        patch=cfg.encoder_patch,
        dim=cfg.encoder_dim,
        depth=cfg.encoder_depth,
        heads=cfg.encoder_heads,
        pool=cfg.encoder_pool,
        conv_channels=conv_channels,
    )


def build_conv_vit(cfg: ModelConfig) -> ViTEncoder:
    """model.encoder 'conv_vit': the ViT with the CNN's conv stages as its stem
    (model.encoder_patch, model.encoder_channels), a token per cell of their output map."""
    return build_vit(cfg, conv_channels=tuple(cfg.encoder_channels))
