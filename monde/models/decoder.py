"""A visualisation decoder: latents → pixels, trained afterwards on frozen latents.

It is never part of the JEPA loss and never changes the world model: `train_decoder` takes
latents already encoded (or predicted) and the frames they came from. It renders imagined
rollouts and the plans a planner considered. Saved as decoder.safetensors + decoder.json.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from monde.io import atomic_save_safetensors, atomic_write_json, load_safetensors, read_json
from monde.progress import tqdm

WEIGHTS_FILE = "decoder.safetensors"
CONFIG_FILE = "decoder.json"
FORMAT = "monde.LatentDecoder/1"


@dataclass
class DecoderConfig:
    latent_dim: int = 64
    """D: latent size of the world model it decodes"""
    image_size: int = 64
    """output frame side in pixels (≥ 8)"""
    channels: int = 3
    """output image channels"""
    width: int = 32
    """channels of the first 4×4 feature map; halved at each upsampling (at least 16)"""
    internal_size: int = 32
    """side the convolutions decode to (≤ image_size); bilinearly resized to image_size, which
    keeps the decoder cheap on a CPU (simple scenes lose little)"""


class LatentDecoder(nn.Module):
    """Linear to a (width, 4, 4) map, ×2 transposed-conv upsamplings, a resize to image_size."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        size = min(cfg.image_size, cfg.internal_size)
        if size < 8:
            raise ValueError(f"decoder image_size and internal_size must be ≥ 8, got {size}")
        self.cfg = cfg
        ups = int(np.ceil(np.log2(size / 4)))  # 4·2^ups ≥ size; resized to image_size at the end
        self.fc = nn.Linear(cfg.latent_dim, cfg.width * 16)
        layers: list[nn.Module] = []
        ch = cfg.width
        for _ in range(ups):
            out = max(16, ch // 2)
            layers += [nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1), nn.GELU()]
            ch = out
        layers.append(nn.Conv2d(ch, cfg.channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """z (N, D) → images (N, C, Hp, Wp) in [0, 1]."""
        x = self.fc(z.float()).reshape(len(z), self.cfg.width, 4, 4)  # (N, width, 4, 4)
        x = self.net(x)  # (N, C, 4·2^ups, 4·2^ups)
        if x.shape[-1] != self.cfg.image_size:
            x = F.interpolate(x, size=self.cfg.image_size, mode="bilinear", align_corners=False)
        return torch.sigmoid(x)

    @torch.no_grad()
    def decode(self, z: Tensor, chunk: int = 512) -> np.ndarray:
        """z (..., D) → uint8 frames (..., Hp, Wp, C)."""
        lead = tuple(z.shape[:-1])
        flat = z.reshape(-1, z.shape[-1])  # (N, D)
        parts = [self(flat[i : i + chunk]) for i in range(0, len(flat), chunk)]
        img = torch.cat(parts) if parts else flat.new_zeros(0, self.cfg.channels, 1, 1)
        img = (img.permute(0, 2, 3, 1) * 255).round().clamp(0, 255).to(torch.uint8)  # (N,H,W,C)
        return img.reshape(*lead, *img.shape[1:]).cpu().numpy()


def frames_to_target(frames: np.ndarray | Tensor) -> Tensor:
    """uint8 frames (N, Hp, Wp, C) → float targets (N, C, Hp, Wp) in [0, 1]."""
    x = torch.as_tensor(np.ascontiguousarray(frames))
    return x.permute(0, 3, 1, 2).float() / 255.0


def train_decoder(
    latents: Tensor,
    frames: np.ndarray,
    cfg: DecoderConfig,
    steps: int = 2000,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    threads: int | None = 1,
) -> tuple[LatentDecoder, list[float]]:
    """Fit a decoder on frozen latents (N, D) and their frames (N, Hp, Wp, C) uint8.

    Loss: per-pixel MSE weighted by 1 + 30·(how far the pixel is from the mean training frame,
    max over channels), so small moving content (the agent) is not drowned by the static floor.
    → (decoder in eval mode, loss per step). Deterministic given seed.
    `threads` torch threads while training (None: leave as is); one is the safe choice on a
    shared machine, where intra-op threads of small convolutions mostly wait on each other.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(latents, frames, cfg, steps, batch_size, lr, seed, progress)
    finally:
        torch.set_num_threads(previous)


def _train(
    latents: Tensor, frames: np.ndarray, cfg: DecoderConfig, steps: int, batch_size: int,
    lr: float, seed: int, progress: bool,
) -> tuple[LatentDecoder, list[float]]:  # fmt: skip
    if len(latents) != len(frames):
        raise ValueError(f"train_decoder: {len(latents)} latents for {len(frames)} frames")
    if latents.shape[1] != cfg.latent_dim:
        raise ValueError(f"latents have {latents.shape[1]} dims, the decoder {cfg.latent_dim}")
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        decoder = LatentDecoder(cfg)
    opt = torch.optim.AdamW(decoder.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    latents = latents.detach().float()
    probe = np.random.default_rng(seed).choice(len(frames), min(len(frames), 2000), replace=False)
    mean_frame = frames_to_target(frames[np.sort(probe)]).mean(0, keepdim=True)  # (1, C, Hp, Wp)
    losses = []
    for _ in tqdm(range(steps), desc="decoder", disable=not progress):
        idx = torch.randint(len(latents), (min(batch_size, len(latents)),), generator=g)
        target = frames_to_target(frames[idx.numpy()])  # (b, C, Hp, Wp)
        weight = 1.0 + 30.0 * (target - mean_frame).abs().amax(1, keepdim=True)  # (b,1,Hp,Wp)
        loss = (weight * (decoder(latents[idx]) - target).square()).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return decoder.eval(), losses


def file_digest(path: str | Path) -> str:
    """sha256 of a file, to tie a decoder to the exact world-model weights it was trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_decoder(decoder: LatentDecoder, directory: str | Path, info: dict | None = None) -> None:
    """decoder.safetensors + decoder.json (config and `info`, e.g. the world model's digest)."""
    directory = Path(directory)
    tensors = {k: v.detach().cpu() for k, v in decoder.state_dict().items()}
    atomic_save_safetensors(tensors, directory / WEIGHTS_FILE, metadata={"format": FORMAT})
    atomic_write_json(
        directory / CONFIG_FILE,
        {"format": FORMAT, "config": asdict(decoder.cfg), "info": info or {}},
    )


def load_decoder(directory: str | Path) -> tuple[LatentDecoder, dict]:
    """→ (decoder in eval mode, info); mismatched files are named in the error."""
    directory = Path(directory)
    meta = read_json(directory / CONFIG_FILE)
    if meta.get("format") != FORMAT or not isinstance(meta.get("config"), dict):
        raise ValueError(f"{directory / CONFIG_FILE}: not a Monde decoder config ({FORMAT!r})")
    try:
        cfg = DecoderConfig(**meta["config"])
    except TypeError as err:
        raise ValueError(f"{directory / CONFIG_FILE}: bad decoder config: {err}") from err
    decoder = LatentDecoder(cfg)
    tensors, _ = load_safetensors(directory / WEIGHTS_FILE)
    expected = decoder.state_dict()
    bad = sorted(
        k for k in set(expected) | set(tensors)
        if k not in tensors or k not in expected or tensors[k].shape != expected[k].shape
    )  # fmt: skip
    if bad:
        raise ValueError(
            f"{directory / WEIGHTS_FILE}: tensors {bad[:5]} do not match the decoder of "
            f"{directory / CONFIG_FILE}"
        )
    decoder.load_state_dict(tensors)
    return decoder.eval(), meta.get("info", {})
