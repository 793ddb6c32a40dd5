"""Why the report's first visualisation decoder drew black frames, measured on a real model.

    python benchmarks/decoder_diagnosis.py [--run runs/demo] [--steps 300]

On the run's frozen latents (the `make demo` model by default: train it with `monde demo
--config configs/two_room.yaml --run runs/demo`) this trains, for the same steps, batches and
seed, the sigmoid decoder that `monde report` shipped before issue 19 ("v1": per-pixel sigmoid
output, loss weighted by 1 + 30·|frame − mean frame|, AdamW at lr 2e-3 on a cosine schedule)
and variants that each change one suspect — the learning rate, the loss weighting, latent
normalisation, the number of steps — then the decoder of `monde.models.decoder` ("v2": mean
frame + a linearly decoded residual whose last layer starts at zero). For each it records the
held-out PSNR (all pixels, and the moving pixels where a frame differs from the mean frame),
the output pre-activations, the share of them where the sigmoid's gradient is below Adam's ε
(1e-8: no update can move them), and seconds per step; for v1 also the CPU seconds per
step once saturated, with subnormal floats kept and flushed to zero (torch.set_flush_denormal).
Baselines: an all-black image and the mean training frame, and the weighted loss an all-black
image scores (the collapsed value).

Writes benchmarks/results/decoder_diagnosis.json; `python benchmarks/render_report.py` puts it in
docs/report.md.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from monde.io import atomic_write_json
from monde.models.decoder import (
    DecoderConfig,
    frames_to_target,
    mean_frame,
    reconstruction_quality,
    train_decoder,
)
from monde.models.world_model import encode_frames
from monde.report import provenance
from monde.report.build import load_run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "decoder_diagnosis.json"
ADAM_EPS = 1e-8
V1_BATCH = 64  # the v1 decoder's batch size


class SigmoidDecoder(nn.Module):
    """The v1 decoder as shipped: linear → (32, 4, 4), transposed convs to 32×32, a 3×3 conv,
    a bilinear resize to the image size, a sigmoid."""

    def __init__(self, latent_dim: int, image_size: int, mean: torch.Tensor, width: int = 32):
        super().__init__()
        self.width, self.image_size = width, image_size
        self.fc = nn.Linear(latent_dim, width * 16)
        layers: list[nn.Module] = []
        ch = width
        for _ in range(3):  # 4 → 32
            out = max(16, ch // 2)
            layers += [nn.ConvTranspose2d(ch, out, 4, stride=2, padding=1), nn.GELU()]
            ch = out
        layers.append(nn.Conv2d(ch, 3, 3, padding=1))
        self.net = nn.Sequential(*layers)
        self.register_buffer("mean_frame", mean.clone())  # for reconstruction_quality only
        self.norm: tuple[torch.Tensor, torch.Tensor] | None = None

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        if self.norm is not None:
            z = (z - self.norm[0]) / self.norm[1]
        x = self.net(self.fc(z).reshape(len(z), self.width, 4, 4))  # (N, 3, 32, 32)
        return F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> np.ndarray:
        img = torch.cat([self(z[i : i + 512]) for i in range(0, len(z), 512)])
        return (img.permute(0, 2, 3, 1) * 255).round().clamp(0, 255).to(torch.uint8).numpy()


@dataclass
class Variant:
    name: str
    changes: str
    lr: float = 2e-3
    weight: float = 30.0
    normalise: bool = False
    steps_factor: int = 1


VARIANTS = [
    Variant("v1", "as shipped"),
    Variant("v1, lr ÷10", "learning rate 2e-4", lr=2e-4),
    Variant("v1, unweighted", "plain MSE (no 1 + 30·|frame − mean| weight)", weight=0.0),
    Variant("v1, normalised latents", "latents centred and scaled to unit RMS", normalise=True),
    Variant("v1, 3× steps", "three times the steps", steps_factor=3),
]


def train_v1(
    v: Variant, z: torch.Tensor, frames: np.ndarray, mean: torch.Tensor, steps: int,
    z_test: torch.Tensor, test: np.ndarray, probe_every: int, subnormal_check: bool = False,
) -> dict:  # fmt: skip
    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        dec = SigmoidDecoder(z.shape[1], frames.shape[1], mean)
    if v.normalise:
        mu = z.mean(0)
        dec.norm = (mu, (z - mu).square().sum(1).mean().sqrt() / z.shape[1] ** 0.5)
    opt = torch.optim.AdamW(dec.parameters(), lr=v.lr, weight_decay=1e-4)
    total = steps * v.steps_factor
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    probe_z = z_test[:: max(1, len(z_test) // 256)]
    trace, losses, times = [], [], []

    def step() -> float:
        idx = torch.randint(len(z), (V1_BATCH,), generator=g)
        target = frames_to_target(frames[idx.numpy()])  # (B, C, Hp, Wp)
        w = 1.0 + v.weight * (target - mean[None]).abs().amax(1, keepdim=True)
        loss = (w * (dec(z[idx]) - target).square()).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        return float(loss.detach())

    for step_i in range(total):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
        if (step_i + 1) % probe_every == 0 or step_i == 0:
            with torch.no_grad():
                lg = dec.logits(probe_z)
                sig = torch.sigmoid(lg)
            trace.append({
                "step": step_i + 1,
                "loss": float(np.mean(losses[-probe_every:])),
                "preactivation_mean": float(lg.mean()),
                "preactivation_max": float(lg.max()),
                "dead_fraction": float((sig * (1 - sig) < ADAM_EPS).float().mean()),
            })  # fmt: skip
    q = reconstruction_quality(dec, z_test, test)  # type: ignore[arg-type]
    out = summary(v.name, v.changes, total, losses, times, q, trace)
    if subnormal_check:  # CPU s/step of the trained decoder with subnormal floats kept / flushed
        cpu: dict[str, list[float]] = {"kept": [], "flushed": []}
        for flush in (False, True, False, True):
            torch.set_flush_denormal(flush)
            t0 = time.process_time()
            for _ in range(20):
                step()
            cpu["flushed" if flush else "kept"].append((time.process_time() - t0) / 20)
        torch.set_flush_denormal(False)
        out["cpu_s_per_step_subnormals_kept"] = float(np.mean(cpu["kept"]))
        out["cpu_s_per_step_subnormals_flushed"] = float(np.mean(cpu["flushed"]))
    return out


def summary(name, changes, steps, losses, times, q, trace, batch=V1_BATCH) -> dict:  # noqa: ANN001
    n = len(times)
    return {
        "name": name,
        "changes": changes,
        "steps": steps,
        "batch_size": batch,
        "final_loss": float(np.mean(losses[-min(50, n) :])),
        "psnr_db": q["psnr_db"],
        "moving_psnr_db": q["moving_psnr_db"],
        "seconds_per_step_first_30": float(np.mean(times[: min(30, n)])),
        "seconds_per_step_last_100": float(np.mean(times[-min(100, n) :])),
        "trace": trace,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, default=ROOT / "runs" / "demo")
    p.add_argument("--steps", type=int, default=300, help="decoder steps of each variant")
    p.add_argument("--frames", type=int, default=20000, help="training frames (a random subset)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # as train_decoder
    start = time.time()
    run = load_run(args.run, progress=False)
    frames = np.concatenate([e.frames for e in run.train])[..., :3]  # (N, Hp, Wp, 3)
    states = np.concatenate([e.states for e in run.train])
    pick = np.sort(np.random.default_rng(0).choice(len(frames), min(args.frames, len(frames)),
                                                    replace=False))  # fmt: skip
    frames, states = np.ascontiguousarray(frames[pick]), states[pick]
    z = encode_frames(run.model, frames, states)  # (N, D)
    test = np.ascontiguousarray(np.concatenate([e.frames for e in run.test])[..., :3])
    z_test = encode_frames(run.model, test, np.concatenate([e.states for e in run.test]))
    mean = mean_frame(frames)  # (C, Hp, Wp)
    t = frames_to_target(test)  # (M, C, Hp, Wp)
    w = 1.0 + 30.0 * (t - mean[None]).abs().amax(1, keepdim=True)
    baseline = {
        "weighted_loss_all_black": float((w * t.square()).mean()),
        "weighted_loss_mean_frame": float((w * (t - mean[None]).square()).mean()),
        "black_pixel_fraction": float((t.amax(1) == 0).float().mean()),
    }
    probe_every = max(1, args.steps // 10)
    rows = []
    for v in VARIANTS:
        print(f"{v.name} ...", file=sys.stderr, flush=True)
        rows.append(train_v1(v, z, frames, mean, args.steps, z_test, test, probe_every,
                             subnormal_check=v.name == "v1"))  # fmt: skip
    print("v2 ...", file=sys.stderr, flush=True)
    cfg = DecoderConfig(latent_dim=z.shape[1], image_size=frames.shape[1])
    v2_batch = inspect.signature(train_decoder).parameters["batch_size"].default
    t0 = time.perf_counter()
    dec, losses = train_decoder(z, frames, cfg, steps=args.steps, progress=False)
    per_step = (time.perf_counter() - t0) / max(1, args.steps)
    q = reconstruction_quality(dec, z_test, test)
    rows.append(summary("v2", "monde.models.decoder: mean frame + a linear residual whose "
                        "last layer starts at zero, normalised latents, one-cycle schedule up "
                        "to lr 1e-2", args.steps, losses,
                        [per_step] * args.steps, q, [], v2_batch))  # fmt: skip
    baseline.update({k: q[k] for k in q if k.endswith(("_black", "_mean_frame"))})
    baseline["moving_pixel_fraction"] = q["moving_pixel_fraction"]
    result = {
        "run": str(args.run),
        "train_frames": len(frames),
        "test_frames": len(test),
        "latent_dim": int(z.shape[1]),
        "latent_std_per_dim_mean": float(z.std(0).mean()),
        "latent_mean_abs": float(z.mean(0).abs().mean()),
        "adam_eps": ADAM_EPS,
        "baselines": baseline,
        "variants": rows,
        "seconds": time.time() - start,
        "load_average": list(os.getloadavg()),
        "cpus": os.cpu_count(),
        "command": "python benchmarks/decoder_diagnosis.py " + " ".join(argv or sys.argv[1:]),
        "provenance": provenance(),
    }
    atomic_write_json(args.out, result)
    for r in rows:
        print(f"{r['name']:24s} PSNR {r['psnr_db']:5.1f} dB, moving {r['moving_psnr_db']:5.1f} dB, "
              f"{r['seconds_per_step_last_100']:.3f} s/step")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
