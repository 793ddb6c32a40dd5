"""A keypoint encoder: the latent is where things are, read with sub-pixel precision.

Encoder 'cnn_keypoints' keeps the feature map at the stem's resolution (stride-1 stages after
the patchify stem), turns each of K output maps into a probability over its cells (a softmax),
and reads that map's expected (x, y): K keypoints, 2K coordinates in [−1, 1]. A linear layer
maps them to the latent. A keypoint moves continuously with what it attends to, so an object's
position — and, from two keypoints on one rigid object, its angle (their difference is
L·(cos θ, sin θ)) — is a linear function of the latent, where the flattened maps of 'cnn' hold
position only coarsely. Robot-learning encoders read images this way (spatial soft-argmax;
Levine et al. 2016, "End-to-end training of deep visuomotor policies").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from monde.config import ModelConfig
from monde.models.encoder import patchify_stem


class SpatialSoftArgmax(nn.Module):
    """(N, K, H, W) maps → (N, 2K): per map, the expected (x, y) of softmax(map / temperature)
    over its H·W cells, cell centres spanning [−1, 1]; written x₁, y₁, x₂, y₂, …"""

    def __init__(self, height: int, width: int):
        super().__init__()
        ys = torch.linspace(-1.0, 1.0, height) if height > 1 else torch.zeros(1)
        xs = torch.linspace(-1.0, 1.0, width) if width > 1 else torch.zeros(1)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
        self.register_buffer("grid", torch.stack([grid_x, grid_y], -1).reshape(-1, 2))  # (HW, 2)
        self.log_temperature = nn.Parameter(torch.zeros(()))  # learned sharpness

    def forward(self, maps: Tensor) -> Tensor:
        n, k = maps.shape[:2]
        with torch.autocast(maps.device.type, enabled=False):  # coordinates in fp32
            logits = maps.float().flatten(2) / self.log_temperature.exp()  # (N, K, HW)
            return (logits.softmax(-1) @ self.grid).reshape(n, 2 * k)  # (N, K, 2) → (N, 2K)


class KeypointEncoder(nn.Module):
    """(N, C, Hp, Wp) float → (N, D): a patchify stem, stride-1 3×3 stages (GroupNorm, ReLU)
    at the stem's resolution, a 1×1 conv to K maps, their soft-argmax, a linear map to D."""

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        channels: tuple[int, ...],
        latent_dim: int,
        keypoints: int,
        patch: int = 4,
    ):
        super().__init__()
        if keypoints < 1:
            raise ValueError(f"model.keypoints must be ≥ 1, got {keypoints}")
        layers = patchify_stem(image_size, in_channels, channels[0], patch)
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.GroupNorm(min(8, c_out), c_out),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(channels[-1], keypoints, 1))
        self.features = nn.Sequential(*layers)
        side = image_size // patch
        self.soft_argmax = SpatialSoftArgmax(side, side)
        self.projector = nn.Linear(2 * keypoints, latent_dim)

    def keypoints(self, x: Tensor) -> Tensor:
        """Frames (N, C, Hp, Wp) → keypoint coordinates (N, 2K), x and y in [−1, 1]."""
        return self.soft_argmax(self.features(x.contiguous(memory_format=torch.channels_last)))

    def forward(self, x: Tensor) -> Tensor:
        return self.projector(self.keypoints(x))


def build_cnn_keypoints(cfg: ModelConfig) -> KeypointEncoder:
    """model.encoder 'cnn_keypoints': model.keypoints soft-argmax keypoints, mapped linearly to
    the image part (D − P) of the latent."""
    return KeypointEncoder(
        cfg.image_size,
        cfg.in_channels,
        tuple(cfg.encoder_channels),
        cfg.latent_dim - cfg.proprio_dim,
        cfg.keypoints,
        cfg.encoder_patch,
    )
