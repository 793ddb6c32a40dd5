"""A visualisation decoder: latents → pixels, trained afterwards on frozen latents.

It is never part of the JEPA loss and never changes the world model: `train_decoder` takes
latents already encoded (or predicted) and the frames they came from. It renders imagined
rollouts and the plans a planner considered. Saved as decoder.safetensors + decoder.json.

Why it is built this way (measured on the `make demo` model by benchmarks/decoder_diagnosis.py,
docs/report.md): the first version ended in a sigmoid and learned every pixel from scratch.
TwoRoom frames are mostly black floor, so within a few dozen Adam steps every pre-activation was
pushed far below zero, where the sigmoid's gradient is smaller than Adam's ε: learning stopped
and every decoded frame was black. This version decodes a *residual over the mean training
frame* with a linear output (clamped only when converted to pixels) whose last layer starts at
zero: at step 0 it draws the mean frame (the static scene), nothing can saturate, and training
only has to add what moves. Latents are centred and scaled by their RMS spread, so the decoder
suits any world model's latent scale.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from monde.io import atomic_save_safetensors, atomic_write_json, load_safetensors, read_json
from monde.precision import torch_threads
from monde.progress import tqdm

WEIGHTS_FILE = "decoder.safetensors"
CONFIG_FILE = "decoder.json"
DECODER_FORMAT = "monde.LatentDecoder/2"
MOVING_THRESHOLD = 0.1
"""a pixel 'moves' where the true frame differs from the mean frame by more than this (max over
channels, intensities in [0, 1]); the moving-content PSNR is measured over those pixels"""


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


class LatentDecoder(nn.Module):
    """mean frame + residual(z): linear to a (width, 4, 4) map, ×2 transposed-conv upsamplings
    (the last one straight to pixels, so the agent stays sharp), a resize only when image_size
    is not 4·2^k. Buffers: latent_mean (D,), latent_scale (), mean_frame (C, Hp, Wp)."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        if cfg.image_size < 8:
            raise ValueError(f"decoder image_size must be ≥ 8, got {cfg.image_size}")
        self.cfg = cfg
        ups = int(np.ceil(np.log2(cfg.image_size / 4)))  # 4·2^ups ≥ image_size
        self.fc = nn.Linear(cfg.latent_dim, cfg.width * 16)
        layers: list[nn.Module] = []
        ch = cfg.width
        for _ in range(ups - 1):
            out = max(16, ch // 2)
            layers += [nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1), nn.GELU()]
            ch = out
        last = nn.ConvTranspose2d(ch, cfg.channels, 4, stride=2, padding=1)
        nn.init.zeros_(last.weight)  # starts as the mean frame
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)
        size = cfg.image_size
        self.register_buffer("latent_mean", torch.zeros(cfg.latent_dim))
        self.register_buffer("latent_scale", torch.ones(()))
        self.register_buffer("mean_frame", torch.zeros(cfg.channels, size, size))

    def forward(self, z: Tensor) -> Tensor:
        """z (N, D) → images (N, C, Hp, Wp), about [0, 1] (not clamped: nothing saturates)."""
        z = (z.float() - self.latent_mean) / self.latent_scale
        x = self.fc(z).reshape(len(z), self.cfg.width, 4, 4)  # (N, width, 4, 4)
        x = self.net(x)  # (N, C, 4·2^ups, 4·2^ups)
        if x.shape[-1] != self.cfg.image_size:
            x = F.interpolate(x, size=self.cfg.image_size, mode="bilinear", align_corners=False)
        return self.mean_frame + x

    @torch.no_grad()
    def decode(self, z: Tensor, chunk: int = 512) -> np.ndarray:
        """z (..., D) → uint8 frames (..., Hp, Wp, C)."""
        lead = tuple(z.shape[:-1])
        flat = z.reshape(-1, z.shape[-1])  # (N, D)
        parts = [self(flat[i : i + chunk]) for i in range(0, len(flat), chunk)]
        img = torch.cat(parts) if parts else flat.new_zeros(0, self.cfg.channels, 1, 1)
        img = (img.clamp(0, 1).permute(0, 2, 3, 1) * 255).round().to(torch.uint8)  # (N,H,W,C)
        return img.reshape(*lead, *img.shape[1:]).cpu().numpy()


def frames_to_target(frames: np.ndarray | Tensor) -> Tensor:
    """uint8 frames (N, Hp, Wp, C) → float targets (N, C, Hp, Wp) in [0, 1]."""
    x = torch.as_tensor(np.ascontiguousarray(frames))
    return x.permute(0, 3, 1, 2).float() / 255.0


def mean_frame(frames: np.ndarray, chunk: int = 1024) -> Tensor:
    """uint8 frames (N, Hp, Wp, C) → their mean (C, Hp, Wp) in [0, 1], summed in float64."""
    total = np.zeros(frames.shape[1:], np.float64)  # (Hp, Wp, C)
    for i in range(0, len(frames), chunk):
        total += frames[i : i + chunk].sum(0, dtype=np.float64)
    return torch.from_numpy(total / (255.0 * max(1, len(frames)))).float().permute(2, 0, 1)


def train_decoder(
    latents: Tensor,
    frames: np.ndarray,
    cfg: DecoderConfig,
    steps: int = 1000,
    batch_size: int = 32,
    lr: float = 1e-2,
    seed: int = 0,
    progress: bool = True,
    threads: int | None = 1,
    moving_weight: float = 30.0,
) -> tuple[LatentDecoder, list[float]]:
    """Fit a decoder on frozen latents (N, D) and their frames (N, Hp, Wp, C) uint8.

    Loss: per-pixel MSE weighted by 1 + moving_weight·(how far the true pixel is from the mean
    training frame, max over channels), so small moving content (the agent) is not drowned by
    the static floor. AdamW with a one-cycle schedule peaking at `lr`.
    → (decoder in eval mode, loss per step). Deterministic given seed.
    `threads` torch threads while training (None: leave as is); one is the safe choice on a
    shared machine, where intra-op threads of small convolutions mostly wait on each other.
    """
    with torch_threads(threads):
        return _train(latents, frames, cfg, steps, batch_size, lr, seed, progress, moving_weight)


def _train(
    latents: Tensor, frames: np.ndarray, cfg: DecoderConfig, steps: int, batch_size: int,
    lr: float, seed: int, progress: bool, moving_weight: float,
) -> tuple[LatentDecoder, list[float]]:  # fmt: skip
    if len(latents) != len(frames):
        raise ValueError(f"train_decoder: {len(latents)} latents for {len(frames)} frames")
    if len(frames) == 0:
        raise ValueError("train_decoder: no frames to fit")
    if latents.shape[1] != cfg.latent_dim:
        raise ValueError(f"latents have {latents.shape[1]} dims, the decoder {cfg.latent_dim}")
    expected = (cfg.image_size, cfg.image_size, cfg.channels)
    if tuple(frames.shape[1:]) != expected:
        raise ValueError(f"train_decoder: frames are {frames.shape[1:]}, the decoder {expected}")
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        decoder = LatentDecoder(cfg)
    latents = latents.detach().float()
    mu = latents.mean(0)  # (D,)
    scale = (latents - mu).square().sum(1).mean().sqrt() / math.sqrt(cfg.latent_dim)  # RMS
    decoder.latent_mean.copy_(mu)
    decoder.latent_scale.copy_(scale.clamp_min(1e-8))
    decoder.mean_frame.copy_(mean_frame(frames))
    mean = decoder.mean_frame[None]  # (1, C, Hp, Wp)
    opt = torch.optim.AdamW(decoder.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(1, steps), pct_start=0.1)
    losses = []
    for _ in tqdm(range(steps), desc="decoder", disable=not progress):
        idx = torch.randint(len(latents), (min(batch_size, len(latents)),), generator=g)
        target = frames_to_target(frames[idx.numpy()])  # (b, C, Hp, Wp)
        weight = 1.0 + moving_weight * (target - mean).abs().amax(1, keepdim=True)  # (b,1,H,W)
        loss = (weight * (decoder(latents[idx]) - target).square()).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return decoder.eval(), losses


def psnr_db(mse: float) -> float:
    """Peak signal-to-noise ratio of a mean squared error of intensities in [0, 1]."""
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


@torch.no_grad()
def reconstruction_quality(
    decoder: LatentDecoder, latents: Tensor, frames: np.ndarray, chunk: int = 512
) -> dict:
    """How well decoder(latents (N, D)) reproduces frames (N, Hp, Wp, C) uint8 (held-out ones).

    PSNRs over all pixels of all frames (from the pooled MSE of intensities in [0, 1]), of the
    decoded frames (rounded to uint8, as shown) and, as baselines, of an all-black image and of
    the decoder's mean training frame; the same over the *moving* pixels only (where the true
    frame differs from the mean frame by more than MOVING_THRESHOLD), which the two baselines
    cannot reproduce: a decoder that draws only the static scene scores as low there as they do.
    """
    if len(latents) != len(frames) or len(frames) == 0:
        raise ValueError(f"reconstruction_quality: {len(latents)} latents, {len(frames)} frames")
    mean = decoder.mean_frame.permute(1, 2, 0)  # (Hp, Wp, C)
    sums = dict.fromkeys(("decoded", "black", "mean_frame"), 0.0)
    moving_sums = dict(sums)
    n_moving = 0
    for i in range(0, len(frames), chunk):
        true = torch.from_numpy(np.ascontiguousarray(frames[i : i + chunk])).double() / 255
        dec = torch.from_numpy(decoder.decode(latents[i : i + chunk])).double() / 255
        moving = ((true - mean.double()).abs().amax(-1) > MOVING_THRESHOLD)[..., None]  # (n,H,W,1)
        moving = moving.expand_as(true)
        n_moving += int(moving.sum())
        for key, pred in (("decoded", dec), ("black", torch.zeros_like(true)),
                          ("mean_frame", mean.double().expand_as(true))):  # fmt: skip
            err = (pred - true).square()
            sums[key] += float(err.sum())
            moving_sums[key] += float(err[moving].sum())
    n = frames.size
    out: dict = {"frames": len(frames), "moving_pixel_fraction": n_moving / n}
    for key in sums:
        suffix = "" if key == "decoded" else f"_{key}"
        out[f"psnr_db{suffix}"] = psnr_db(sums[key] / n)
        out[f"moving_psnr_db{suffix}"] = psnr_db(moving_sums[key] / n_moving) if n_moving else None
    return out


def save_decoder(decoder: LatentDecoder, directory: str | Path, info: dict | None = None) -> None:
    """decoder.safetensors + decoder.json (config and `info`, e.g. the world model's digest)."""
    directory = Path(directory)
    tensors = {k: v.detach().cpu() for k, v in decoder.state_dict().items()}
    atomic_save_safetensors(tensors, directory / WEIGHTS_FILE, metadata={"format": DECODER_FORMAT})
    atomic_write_json(
        directory / CONFIG_FILE,
        {"format": DECODER_FORMAT, "config": asdict(decoder.cfg), "info": info or {}},
    )


def load_decoder(directory: str | Path) -> tuple[LatentDecoder, dict]:
    """→ (decoder in eval mode, info); mismatched files are named in the error."""
    directory = Path(directory)
    meta = read_json(directory / CONFIG_FILE)
    if meta.get("format") != DECODER_FORMAT or not isinstance(meta.get("config"), dict):
        raise ValueError(
            f"{directory / CONFIG_FILE}: format {meta.get('format')!r} is not a Monde decoder "
            f"config ({DECODER_FORMAT!r}); `monde report` trains a new one"
        )
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
