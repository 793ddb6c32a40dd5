"""Frame encoders: one latent vector per frame. They know nothing about actions or time.

An encoder may fuse proprioception (the robot's own sensor vector of the same instant) with the
image: the vector is embedded by a small MLP and concatenated to the flattened conv features
before the projector. Depth, where recorded, is one more image channel.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CNNEncoder(nn.Module):
    """A small CNN: (N, C, Hp, Wp) float → (N, D).

    A patchify stem (conv with kernel = stride = `patch`) cuts the resolution by `patch`; each
    further stage halves it (conv 3×3 stride 2, GroupNorm, ReLU); a linear projector maps the
    flattened map to the latent. The stem is for speed on a CPU: convolutions and elementwise
    passes at full resolution cost more than all later stages together. With `proprio_dim` > 0,
    forward takes (N, P) normalised proprioception too, embedded and fused before the projector.
    """

    PROPRIO_EMBED = 64  # width of the proprioception embedding

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        channels: tuple[int, ...],
        latent_dim: int,
        patch: int = 4,
        proprio_dim: int = 0,
    ):
        super().__init__()
        if image_size % patch:
            raise ValueError(f"image_size {image_size} must be divisible by the stem patch {patch}")
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels[0], patch, stride=patch),
            nn.ReLU(inplace=True),
        ]
        size, c_in = image_size // patch, channels[0]
        for c_out in channels[1:]:
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                nn.GroupNorm(min(8, c_out), c_out),
                nn.ReLU(inplace=True),
            ]
            size, c_in = (size + 1) // 2, c_out
        self.features = nn.Sequential(*layers)
        self.proprio = (
            nn.Sequential(nn.Linear(proprio_dim, self.PROPRIO_EMBED), nn.ReLU(inplace=True))
            if proprio_dim
            else None
        )
        fused = c_in * size * size + (self.PROPRIO_EMBED if proprio_dim else 0)
        self.projector = nn.Sequential(
            nn.Flatten(),  # a no-op on the fused (N, F) rows; kept for checkpoint key names
            nn.Linear(fused, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, latent_dim),
        )

    def forward(self, x: Tensor, proprio: Tensor | None = None) -> Tensor:
        """x (N, C, Hp, Wp), proprio (N, P) or None → (N, D)."""
        h = self.features(x.contiguous(memory_format=torch.channels_last)).flatten(1)  # (N, F)
        if self.proprio is not None:
            if proprio is None:
                raise ValueError("this encoder fuses proprioception: pass it (N, P)")
            h = torch.cat([h, self.proprio(proprio.to(h.dtype))], dim=1)  # (N, F + 64)
        return self.projector(h)
