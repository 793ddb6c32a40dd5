"""fit(): the training loop — sample windows, take optimizer steps, log, checkpoint, probe.

It knows nothing about environments or planning. Every `checkpoint_every` steps it writes a
resumable checkpoint; `resume=True` continues from the newest one and reproduces the run an
uninterrupted process would have made (same windows, same weights). Ctrl-C or SIGTERM (a
cluster's preemption) in one process ends the step under way, writes a checkpoint at that step
and stops, so `--resume` loses nothing; a second signal stops at once.

Under torchrun (a DistContext with world_size > 1) every rank trains on its rows of the same
global batch through DDP; rank 0 alone logs, probes and checkpoints. With
train.grad_accum_steps = k each rank's rows are split into k micro-batches whose gradients add
up before one optimizer step (monde.train.step).
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from monde.config import TrainConfig
from monde.data.sampler import WindowSampler
from monde.models.world_model import WorldModel, encode_frames
from monde.precision import resolve_precision
from monde.probing import named_probe_r2
from monde.progress import tqdm
from monde.runs import (
    CHECKPOINTS,
    METRICS_FILE,
    append_metrics,
    checkpoint_name,
    truncate_metrics,
)
from monde.signals import stop_at_safe_point
from monde.train.distributed import DistContext, barrier, resolve_device
from monde.train.state import resume_from_newest, save_checkpoint
from monde.train.step import TrainStep


class NonFiniteLossError(FloatingPointError, ValueError):
    """The loss became NaN or ±inf; no optimizer step was taken with it."""


@dataclass
class ProbeData:
    """Frames and ground-truth states for held-out probes: fit on `train`, score on `val`."""

    train_frames: torch.Tensor  # (N, Hp, Wp, C) uint8
    train_states: torch.Tensor  # (N, S) every state column (the encoder may read some)
    val_frames: torch.Tensor
    val_states: torch.Tensor
    state_names: tuple[str, ...]  # names of the probed columns
    columns: tuple[int, ...]  # the probed state columns (those that vary)
    position: tuple[str, ...] = ()  # the agent's position columns: a low R² on them warns


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to cfg.lr, then cosine decay to 10 % of it at cfg.steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


@torch.no_grad()
def run_probe(model: WorldModel, probe: ProbeData) -> dict[str, float]:
    """R² of a linear probe from encoded latents to each state column, on held-out frames."""
    model.eval()
    cols = list(probe.columns)
    r2 = named_probe_r2(
        encode_frames(model, probe.train_frames, probe.train_states),
        probe.train_states[:, cols],
        encode_frames(model, probe.val_frames, probe.val_states),
        probe.val_states[:, cols],
        probe.state_names,
    )
    model.train()
    return {f"probe_r2/{name}": v for name, v in r2.items()}


def fit(
    model: WorldModel,
    data: WindowSampler,
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    probe: ProbeData | None = None,
    resume: bool = False,
    progress: bool = True,
    device: str | torch.device | None = None,
    stop_after: int | None = None,
    dist: DistContext | None = None,
) -> dict[str, float]:
    """Train `model` on windows from `data` for cfg.steps steps; returns the last metrics.

    `dist` places this process in a torchrun run (default: one process on `device`, or on
    cfg.device when `device` is None). The loss metrics are those of the global batch
    (averaged over ranks) on every rank; only rank 0 probes and writes files.
    `stop_after` ends the process-level loop early (as a crash would) without a final
    checkpoint; tests use it to check that --resume reproduces an uninterrupted run.
    A Ctrl-C or SIGTERM in a one-process run stops after the step under way with a checkpoint
    at it (KeyboardInterrupt, or monde.signals.Terminated, naming it); under torchrun a signal
    stops at once and --resume continues from the last periodic checkpoint.
    """
    if dist is None:
        dev = torch.device(device) if device is not None else resolve_device(cfg.device)
        dist = DistContext(device=dev)
    dev, main = dist.device, dist.is_main
    run_dir = Path(run_dir)
    ckpt_root, metrics_path = run_dir / CHECKPOINTS, run_dir / METRICS_FILE
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model.to(dev).train()
    trainable = [p for p in model.parameters() if p.requires_grad]  # not a frozen encoder's
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_step = TrainStep(model, optimizer, cfg, dist)  # checks the batch split first
    precision, why = resolve_precision(cfg.precision, dev)  # what the objective autocasts to
    if main:
        print(f"precision: {precision} ({why})")
    step, seconds_before = 0, 0.0  # training seconds of earlier processes of this run
    if resume:
        # the newest intact checkpoint; rank 0 says which unreadable ones it skipped
        step, _ = resume_from_newest(
            ckpt_root, model, optimizer, set_aside=main, log=print if main else None
        )
        if main:
            seconds_before = truncate_metrics(metrics_path, step, cfg.batch_size)
    elif main:  # a fresh run: nothing of an earlier run in this folder may be mistaken for ours
        metrics_path.unlink(missing_ok=True)
        shutil.rmtree(ckpt_root, ignore_errors=True)
    barrier(dist)  # no rank starts before rank 0 has cleared or truncated the run folder

    metrics: dict[str, float] = {}
    last_probe: dict[str, float] = {}
    show = progress and main
    bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step", disable=not show)
    start, samples_seen = time.perf_counter(), 0
    batches = data.batches(
        cfg.batch_size, cfg.seed, start_step=step, rank=dist.rank, world_size=dist.world_size
    )
    logged_step = step  # the newest metrics.jsonl row's (a resumed run's: where it starts)

    def log_row() -> None:
        """metrics.jsonl's row for the step just taken."""
        nonlocal logged_step
        elapsed = time.perf_counter() - start
        row = {
            "step": step,
            "lr": learning_rate(step - 1, cfg),
            **metrics,
            "samples_per_s": samples_seen / max(elapsed, 1e-9),
            "train_seconds": seconds_before + elapsed,  # over every resume of the run
            "processes": dist.world_size,
            "precision": precision,
        }
        append_metrics(metrics_path, row)
        logged_step = step

    # the first Ctrl-C / SIGTERM is read between steps (one process: ranks could not agree),
    # and after the last one: a signal during the last step stops the run, too
    with stop_at_safe_point(active=dist.world_size == 1) as request:
        while True:
            if request.signal is not None:  # between steps: nothing is half-updated
                if main and metrics and logged_step != step:  # its seconds, for --resume to add to
                    log_row()
                save = partial(
                    save_checkpoint, ckpt_root, step, model, optimizer, keep=cfg.keep_checkpoints
                )
                keeps = main and cfg.checkpoint_every
                raise request.stop_at(
                    step, ckpt_root / checkpoint_name(step), save if keeps else None
                )
            if step >= cfg.steps or (stop_after is not None and step >= stop_after):
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, cfg)
            frames, actions, states = next(batches)  # this rank's rows: (B/W, L, Hp, Wp, C), …
            proprio = states if model.cfg.proprio else None  # (B/W, L, S): the encoder reads some
            metrics = train_step(frames, actions, step, proprio)  # steps only on a finite loss
            if not math.isfinite(metrics["loss"]):
                raise NonFiniteLossError(
                    f"loss became {metrics['loss']} at step {step}; no step was taken with it and "
                    f"the last good checkpoint is in {ckpt_root}. Lower train.lr or check the data "
                    "for NaN, then resume with --resume."
                )
            step += 1
            samples_seen += cfg.batch_size
            bar.update(1)

            last = step == cfg.steps
            probed = (
                main
                and probe is not None
                and cfg.probe_every > 0
                and (step % cfg.probe_every == 0 or last)
            )
            if probed:
                last_probe = run_probe(model, probe)
                metrics.update(last_probe)
                position = {f"probe_r2/{name}" for name in probe.position}
                agent = [v for k, v in last_probe.items() if k in position]
                if agent and min(agent) < 0.5 and step >= 2 * cfg.probe_every:
                    tqdm.write(
                        f"warning: step {step}: agent-position probe R² {min(agent):.2f} — the "
                        "encoder may be collapsing onto the static scene"
                    )
            if main and (step % cfg.log_every == 0 or last or probed):
                log_row()
                bar.set_postfix(loss=f"{metrics['loss']:.4f}")
            if main and cfg.checkpoint_every and (step % cfg.checkpoint_every == 0 or last):
                save_checkpoint(ckpt_root, step, model, optimizer, keep=cfg.keep_checkpoints)
    bar.close()
    return {**metrics, **last_probe}
