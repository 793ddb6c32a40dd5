"""Pretraining throughput: frames/s of `monde pretrain`'s step and its fraction of the peak.

    python benchmarks/pretrain_throughput.py [--config configs/pretrain/two_room_random_wall.yaml]
        [--steps 10] [--warmup 3] [--device cpu|cuda|auto]

One step is what monde.pretrain.loop takes, less reading frames: masks sampled, the masked
latent objective forward + backward, AdamW, and the EMA update (anti_collapse 'ema'), on the
preset's encoder and batch of synthetic frames, with the preset's pretrain.threads (torch's
default, every core, where it is 0), for each anti_collapse (SIGReg on tokens and on frames);
the fastest timed step is kept (others' load only slows steps down). FLOPs per step are counted
by FlopCounterMode on one fp32 forward + backward (matmuls, convolutions, attention); the peak
is the measured fp32 matmul rate of this device with every thread (train_throughput's
denominator), so a one-thread row can reach at most 1 / cores of it.

The rows go under `pretraining` in this device's entry of benchmarks/results/train_throughput.json
(kept when train_throughput.py measures the entry again), and docs/scaling.md is regenerated
from it (train_throughput.render_doc). The 1-minute load average before and after each row is
recorded: this is a shared machine.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import train_throughput as tt

from monde.config import RunConfig
from monde.config_io import load_config
from monde.io import atomic_write_json, read_json
from monde.models.world_model import build_encoder
from monde.pretrain.ema import ema_update
from monde.pretrain.masks import sample_masks
from monde.pretrain.objective import MaskedLatentObjective
from monde.report import provenance

PRESET = tt.ROOT / "configs" / "pretrain" / "two_room_random_wall.yaml"


def _setup(cfg: RunConfig, device: torch.device):
    torch.manual_seed(0)
    backbone = build_encoder(cfg.model).backbone
    objective = MaskedLatentObjective(backbone, cfg.pretrain).to(device).train()
    optimizer = torch.optim.AdamW(objective.trainable(), lr=cfg.pretrain.lr)
    size, channels = cfg.model.image_size, cfg.model.in_channels
    frames = torch.rand(cfg.pretrain.batch_size, channels, size, size, device=device) * 2 - 1
    return objective, optimizer, frames


def flops_per_step(cfg: RunConfig, device: torch.device) -> int:
    """Matmul/conv/attention FLOPs of one fp32 forward + backward of the objective."""
    from torch.utils.flop_counter import FlopCounterMode

    objective, _, frames = _setup(cfg, device)
    masks = sample_masks(
        objective.encoder.grid, len(frames), cfg.pretrain, np.random.default_rng(0)
    )
    counter = FlopCounterMode(display=False)
    with counter:
        loss, _ = objective(frames, masks.to(device), torch.Generator(device).manual_seed(0))
        loss.backward()
    return int(counter.get_total_flops())


def time_steps(cfg: RunConfig, device: torch.device, steps: int, warmup: int) -> float:
    """Seconds per step, the fastest of `steps` steps after `warmup`."""
    objective, optimizer, frames = _setup(cfg, device)
    times = []
    for step in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        masks = sample_masks(
            objective.encoder.grid, len(frames), cfg.pretrain, np.random.default_rng(step)
        )
        generator = torch.Generator(device).manual_seed(step)
        loss, _ = objective(frames, masks.to(device), generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if objective.target is not None:
            ema_update(objective.target, objective.encoder, 0.996)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return min(times)


def measure(config: Path, device: torch.device, steps: int, warmup: int, peak: float) -> list:
    rows, default_threads = [], torch.get_num_threads()
    for mode, spread in (("ema", "tokens"), ("sigreg", "tokens"), ("sigreg", "frames")):
        overrides = [f"pretrain.anti_collapse={mode}", f"pretrain.sigreg_on={spread}"]
        cfg = load_config(RunConfig, config, overrides)
        torch.set_num_threads(cfg.pretrain.threads or default_threads)
        before = os.getloadavg()[0]
        seconds = time_steps(cfg, device, steps, warmup)
        flops = flops_per_step(cfg, device)
        batch = cfg.pretrain.batch_size
        achieved = flops / seconds / 1e9
        row = {
            "preset": str(config.relative_to(tt.ROOT)),
            "anti_collapse": mode if mode == "ema" else f"{mode} on {spread}",
            "image_size": cfg.model.image_size,
            "tokens": (cfg.model.image_size // cfg.model.encoder_patch) ** 2,
            "encoder": {k: getattr(cfg.model, k) for k in ("encoder_dim", "encoder_depth")},
            "batch_size": batch,
            "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "step_ms": 1000 * seconds,
            "frames_per_s": batch / seconds,
            "flops_per_step": flops,
            "achieved_gflops": achieved,
            "fraction_of_peak": achieved / peak,
            "measured_steps": steps,
            "warmup_steps": warmup,
            "load_average_before": before,
            "load_average_after": os.getloadavg()[0],
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=PRESET, help="a configs/pretrain preset")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--out", type=Path, default=tt.OUT, help="results JSON")
    args = parser.parse_args()
    device = tt.resolve_device(args.device)
    config = args.config.resolve()
    data = read_json(args.out) if args.out.exists() else {}
    key = tt.entry_key(device, tt.cpu_flags())
    entry = data.setdefault(key, {})
    peak = tt.matmul_gflops(device, torch.float32, 2048, 3)  # every thread
    rows = measure(config, device, args.steps, args.warmup, peak)
    entry["pretraining"] = {
        "command": "python " + shlex.join(["benchmarks/pretrain_throughput.py", *sys.argv[1:]]),
        "device": tt.cpu_model() if device.type == "cpu" else torch.cuda.get_device_name(device),
        "peak_fp32_matmul_gflops": peak,
        "rows": rows,
        "provenance": provenance(),
    }
    atomic_write_json(args.out, data)
    print(f"wrote {args.out}")
    if args.out == tt.OUT:
        tt.render_doc(data)


if __name__ == "__main__":
    main()
