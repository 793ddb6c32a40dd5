"""Frame encoders: one latent vector per frame. They know nothing about actions or time.

'cnn' maps the whole feature map to one vector; 'cnn_grid' keeps space: it pools the map to a
g × g grid and maps each cell to a token of its own, written row-major into the latent (the
token latent that predictor 'token_transformer' reads, `model.latent_tokens` = g²).

Proprioception is not fused here: WorldModel appends it to the image latent (see its `encode`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from monde.config import ModelConfig


def patchify_stem(image_size: int, in_channels: int, width: int, patch: int) -> list[nn.Module]:
    """A conv with kernel = stride = `patch` to `width` channels, then ReLU: the resolution cut
    by `patch` (which must divide image_size)."""
    if image_size % patch:
        raise ValueError(f"image_size {image_size} must be divisible by the stem patch {patch}")
    return [nn.Conv2d(in_channels, width, patch, stride=patch), nn.ReLU(inplace=True)]


def conv_stages(
    image_size: int, in_channels: int, channels: tuple[int, ...], patch: int
) -> tuple[nn.Sequential, int]:
    """The CNN's feature stages: a patchify stem (kernel = stride = `patch`), then a conv 3×3
    stride 2 + GroupNorm + ReLU per further channel count → (stages, side of their output map)."""
    layers = patchify_stem(image_size, in_channels, channels[0], patch)
    size, c_in = image_size // patch, channels[0]
    for c_out in channels[1:]:
        layers += [
            nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
            nn.GroupNorm(min(8, c_out), c_out),
            nn.ReLU(inplace=True),
        ]
        size, c_in = (size + 1) // 2, c_out
    return nn.Sequential(*layers), size


class CNNEncoder(nn.Module):
    """A small CNN: (N, C, Hp, Wp) float → (N, D).

    A patchify stem (conv with kernel = stride = `patch`) cuts the resolution by `patch`; each
    further stage halves it (conv 3×3 stride 2, GroupNorm, ReLU); a linear projector maps the
    flattened map to the latent. The stem is for speed on a CPU: convolutions and elementwise
    passes at full resolution cost more than all later stages together.
    """

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        channels: tuple[int, ...],
        latent_dim: int,
        patch: int = 4,
    ):
        super().__init__()
        self.features, size = conv_stages(image_size, in_channels, channels, patch)
        c_in = channels[-1]
        self.projector = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * size * size, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, latent_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.projector(self.features(x.contiguous(memory_format=torch.channels_last)))


def build_cnn(cfg: ModelConfig) -> CNNEncoder:
    """model.encoder 'cnn': the CNN above, its latent the image part (D − P) of the model's."""
    return CNNEncoder(
        cfg.image_size,
        cfg.in_channels,
        tuple(cfg.encoder_channels),
        cfg.latent_dim - cfg.proprio_dim,  # the rest of the latent is the proprioception
        cfg.encoder_patch,
    )


class CNNGridEncoder(nn.Module):
    """The CNN's feature stages, read out per cell: (N, C, Hp, Wp) float → (N, g² · E).

    The feature map is average-pooled to g × g cells and a per-cell MLP (1 × 1 convolutions)
    maps each cell's features to a token of E dims; the latent is the tokens in row-major cell
    order, so a token stays tied to where in the image its features come from.
    """

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        channels: tuple[int, ...],
        latent_dim: int,
        tokens: int,
        patch: int = 4,
    ):
        super().__init__()
        grid = round(tokens**0.5)
        if tokens < 1 or grid * grid != tokens or latent_dim % tokens:
            raise ValueError(
                f"model.latent_tokens {tokens} must be a square (g × g cells) that divides the "
                f"image latent's {latent_dim} dims, for model.encoder 'cnn_grid'"
            )
        self.features, _ = conv_stages(image_size, in_channels, channels, patch)
        width = channels[-1]
        self.readout = nn.Sequential(
            nn.AdaptiveAvgPool2d(grid),
            nn.Conv2d(width, 2 * width, 1),
            nn.GELU(),
            nn.Conv2d(2 * width, latent_dim // tokens, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        cells = self.readout(self.features(x.contiguous(memory_format=torch.channels_last)))
        return cells.permute(0, 2, 3, 1).flatten(1)  # (N, E, g, g) → (N, g·g·E), row-major


def build_cnn_grid(cfg: ModelConfig) -> CNNGridEncoder:
    """model.encoder 'cnn_grid': the CNN's stages read out as model.latent_tokens cell tokens."""
    return CNNGridEncoder(
        cfg.image_size,
        cfg.in_channels,
        tuple(cfg.encoder_channels),
        cfg.latent_dim - cfg.proprio_dim,
        cfg.latent_tokens,
        cfg.encoder_patch,
    )
