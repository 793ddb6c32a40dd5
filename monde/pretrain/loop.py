"""pretrain_run(): self-supervised pretraining of a token encoder on the frames of a store.

Frames of the training episodes (monde.data.splits, as `monde train` splits them) are drawn at
random; actions are never read, and states only by the linear probe of held-out frames that
says what the pooled tokens keep. The run folder mirrors `monde train`'s: the writer's lock
(monde.runs), config.yaml, metrics.jsonl, resumable checkpoints/step-NNNNNNNNN/ (frame order
and masks are functions of (seed, step), so a resumed run takes the steps an uninterrupted one
would have), and at the end encoder/ (monde.models.encoder_checkpoint) and results.json.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from monde._version import __version__
from monde.config import ModelConfig, PretrainConfig, RunConfig
from monde.config_io import save_config, to_dict
from monde.data.augment import random_shift
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.io import (
    atomic_folder,
    atomic_save_safetensors,
    atomic_write_json,
    load_safetensors,
    read_json,
)
from monde.models.encoder_checkpoint import pretrained_part, save_encoder
from monde.models.preprocess import frames_to_input
from monde.models.vit import PatchTransformer
from monde.models.world_model import build_encoder
from monde.precision import torch_threads
from monde.pretrain.ema import ema_momentum, ema_update
from monde.pretrain.masks import sample_masks, whole_grid
from monde.pretrain.objective import MaskedLatentObjective
from monde.probing import named_probe_r2
from monde.progress import tqdm
from monde.runs import (
    CHECKPOINTS,
    METRICS_FILE,
    append_metrics,
    checkpoint_name,
    list_checkpoints,
    locked_run,
    prune_checkpoints,
    truncate_metrics,
)
from monde.signals import stop_at_safe_point


class NonFiniteLossError(FloatingPointError, ValueError):
    """The pretraining loss became NaN or ±inf; no optimizer step was taken with it."""


ENCODER_DIR = "encoder"
RESULTS_FILE = "results.json"


def resolve_device(name: str) -> torch.device:
    """'auto' → the GPU when CUDA is present, else the CPU; 'cpu' / 'cuda' as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("pretrain.device is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


def learning_rate(step: int, cfg: PretrainConfig) -> float:
    """Linear warm-up to cfg.lr, then cosine decay to 10 % of it at cfg.steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


def frame_rows(store: EpisodeStore, ids: list[int], offset: int = 0) -> np.ndarray:
    """Global frame rows of the usable episodes `ids` that have a frame `offset` rows later in
    their episode → (ΣT − offset·E,) int64."""
    first, count = store.index[store.usable(ids)].T  # (E,) each
    if not len(first):
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(f, f + c - offset) for f, c in zip(first, count, strict=True)])


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of step `step`'s frames and masks: the same in a resumed run."""
    return np.random.default_rng([seed, step])


GRID_CELLS = 2
"""the spatial probe reads the tokens averaged onto at most GRID_CELLS × GRID_CELLS cells"""


def probe_features(tokens: Tensor, grid: int) -> dict[str, Tensor]:
    """Tokens (N, T, E) of a grid × grid patch grid → what the probes read: 'mean' (N, E), the
    mean token (where a thing is gets averaged away), and 'grid' (N, c²·E), the tokens averaged
    onto c × c cells, c = min(grid, GRID_CELLS) (keeps roughly where things are)."""
    n, _, e = tokens.shape
    cells = min(grid, GRID_CELLS)
    image = tokens.transpose(1, 2).reshape(n, e, grid, grid)  # (N, E, grid, grid)
    pooled = torch.nn.functional.adaptive_avg_pool2d(image, cells)  # (N, E, c, c)
    return {"mean": tokens.mean(1), "grid": pooled.flatten(1)}


class _Probe:
    """Frames and states of training and held-out episodes; R² of linear probes from the
    encoder's tokens (`probe_features`) to each varying state column."""

    def __init__(self, store: EpisodeStore, train_rows, val_rows, cfg: PretrainConfig):
        rng = np.random.default_rng([cfg.seed, 1 << 30])
        names = store.meta["info"].get("state_names") or [
            f"s{i}" for i in range(store.meta["features"]["states"]["shape"][0])
        ]
        self.names = tuple(names)
        self.sides = []
        for rows in (train_rows, val_rows) if self.names else ():  # a video has no states
            pick = np.sort(rng.choice(rows, size=min(cfg.probe_frames, len(rows)), replace=False))
            self.sides.append((store.read("frames", pick), store.read("states", pick)))

    @torch.no_grad()
    def __call__(self, backbone: PatchTransformer, image_size: int, channels: int) -> dict:
        if not self.sides:
            return {}
        was_training = backbone.training
        backbone.eval()
        device = next(backbone.parameters()).device
        features: list[dict[str, Tensor]] = []
        for frames, _ in self.sides:
            chunks = [
                probe_features(
                    backbone(frames_to_input(frames[i : i + 256], image_size, channels).to(device))
                    .float()
                    .cpu(),
                    backbone.grid,
                )
                for i in range(0, len(frames), 256)
            ]
            features.append({k: torch.cat([c[k] for c in chunks]) for k in chunks[0]})
        backbone.train(was_training)
        (_, train_states), (_, val_states) = self.sides
        out = {}
        for kind, prefix in (("mean", "probe_r2"), ("grid", "probe_r2_grid")):
            r2 = named_probe_r2(
                features[0][kind],
                torch.from_numpy(train_states),
                features[1][kind],
                torch.from_numpy(val_states),
                self.names,
            )
            out.update({f"{prefix}/{k}": v for k, v in r2.items()})
        return out


def _model_input(
    store: EpisodeStore, rows: np.ndarray, model: ModelConfig, device: torch.device
) -> Tensor:
    """The frames at global `rows` as the encoder's input (B, C, Hp, Wp) on `device`."""
    frames = store.read("frames", rows)
    return frames_to_input(frames, model.image_size, model.in_channels).to(device)


def _save_state(root: Path, step: int, objective, optimizer, keep: int) -> None:
    """checkpoints/step-N/{state.safetensors, state.json}, written under a temporary name and
    renamed into place; only the newest `keep` are kept."""
    state = optimizer.state_dict()
    tensors = {f"objective/{k}": v for k, v in objective.state_dict().items()}
    for index, slots in state["state"].items():
        tensors.update({f"optim/{index}/{name}": value for name, value in slots.items()})
    with atomic_folder(root / checkpoint_name(step)) as tmp:
        atomic_save_safetensors(tensors, tmp / "state.safetensors")
        atomic_write_json(tmp / "state.json", {"step": step, "param_groups": state["param_groups"]})
    prune_checkpoints(root, keep)


def _resume(root: Path, objective, optimizer) -> int:
    """Restore the newest readable checkpoint under root → its step (0 when there is none);
    an unreadable newer one is skipped with a line saying why."""
    for path in reversed(list_checkpoints(root)):
        try:
            tensors, _ = load_safetensors(path / "state.safetensors")
            meta = read_json(path / "state.json")
            step, groups = int(meta["step"]), meta["param_groups"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(f"skipping checkpoint {path}: {err}")
            continue
        objective.load_state_dict(
            {k[len("objective/") :]: v for k, v in tensors.items() if k.startswith("objective/")}
        )
        slots: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim/"):
                _, index, name = key.split("/", 2)
                slots.setdefault(int(index), {})[name] = value
        optimizer.load_state_dict({"state": slots, "param_groups": groups})
        print(f"resumed from {path} at step {step}")
        return step
    return 0


def _check_store(store: EpisodeStore, cfg: RunConfig) -> None:
    model = cfg.model
    size, _, channels = store.meta["features"]["frames"]["shape"]  # (Hp, Wp, C)
    if size != model.image_size:
        raise ValueError(
            f"{store.path}: frames are {size} px but model.image_size is {model.image_size}"
        )
    if channels != model.in_channels:
        raise ValueError(
            f"{store.path}: frames have {channels} channels but model.in_channels is "
            f"{model.in_channels}"
        )


def pretrain_run(
    cfg: RunConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict:
    """Pretrain cfg.model's encoder backbone on the frames of the store at `data_dir` with
    cfg.pretrain; writes run_dir/{config.yaml, metrics.jsonl, checkpoints/, encoder/,
    results.json} and returns the results (final loss parts, probe R², frames/s).

    `stop_after` ends the loop early without the final outputs (as a crash would); tests use
    it to check that `resume` reproduces an uninterrupted run.
    """
    store = EpisodeStore(data_dir, verify_reads=False)
    store.require_trainable()
    _check_store(store, cfg)
    with locked_run(run_dir):
        # the thread count is this run's: restored after, for whatever runs next in-process
        with torch_threads(cfg.pretrain.threads):
            return _pretrain(cfg, store, Path(run_dir), resume, progress, stop_after)


def _pretrain(
    cfg: RunConfig,
    store: EpisodeStore,
    run_dir: Path,
    resume: bool,
    progress: bool,
    stop_after: int | None,
) -> dict:
    p, model_cfg = cfg.pretrain, cfg.model
    device = resolve_device(p.device)
    train_ids, val_ids = split_episodes(list(range(len(store))), cfg.data.val_fraction)
    later_frames = max(p.target_offset, p.change_offset if p.change_floor > 0 else 0)
    train_rows = frame_rows(store, train_ids, later_frames)  # each with its later frames
    val_rows = frame_rows(store, val_ids) if val_ids else train_rows
    if len(train_rows) < p.batch_size:
        raise ValueError(
            f"{store.path}: {len(train_rows)} training frames, fewer than pretrain.batch_size "
            f"{p.batch_size}"
        )
    probe = _Probe(store, train_rows, val_rows, p)
    save_config(cfg, run_dir / "config.yaml")

    torch.manual_seed(p.seed)  # initial weights
    backbone = pretrained_part(build_encoder(model_cfg), model_cfg)
    if not isinstance(backbone, PatchTransformer):
        raise ValueError(f"model.encoder {model_cfg.encoder!r}: pretraining needs patch tokens")
    objective = MaskedLatentObjective(backbone, p).to(device).train()
    optimizer = torch.optim.AdamW(objective.trainable(), lr=p.lr, weight_decay=p.weight_decay)
    ckpt_root, metrics_path = run_dir / CHECKPOINTS, run_dir / METRICS_FILE
    step, seconds_before = 0, 0.0
    if resume:
        step = _resume(ckpt_root, objective, optimizer)
        seconds_before = truncate_metrics(metrics_path, step, p.batch_size)
    else:
        metrics_path.unlink(missing_ok=True)
        shutil.rmtree(ckpt_root, ignore_errors=True)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    image_size, channels = model_cfg.image_size, model_cfg.in_channels
    if step == 0:  # what the random initialisation keeps: the baseline of the probe
        append_metrics(metrics_path, {"step": 0, **probe(backbone, image_size, channels)})

    bar = tqdm(total=p.steps, initial=step, desc="pretrain", unit="step", disable=not progress)
    metrics: dict[str, float] = {}
    start, frames_seen, compute_seconds = time.perf_counter(), 0, 0.0
    logged_step, lr = step, 0.0  # the newest metrics.jsonl row's step; the last step's rate

    def log_row() -> None:
        """metrics.jsonl's row for the step just taken."""
        nonlocal logged_step
        elapsed = time.perf_counter() - start
        row = {
            "step": step,
            "lr": lr,
            **metrics,
            "frames_per_s": frames_seen / max(elapsed, 1e-9),
            "compute_frames_per_s": frames_seen / max(compute_seconds, 1e-9),
            "train_seconds": seconds_before + elapsed,
            "load_avg_1m": os.getloadavg()[0],
        }
        append_metrics(metrics_path, row)
        logged_step = step

    # Ctrl-C / SIGTERM: read between steps and after the last one
    with stop_at_safe_point() as request:
        while True:
            if request.signal is not None:  # between steps: nothing is half-updated
                if metrics and logged_step != step:  # its seconds, for --resume to add to
                    log_row()
                save = partial(
                    _save_state, ckpt_root, step, objective, optimizer, p.keep_checkpoints
                )
                saves = save if p.checkpoint_every else None
                raise request.stop_at(step, ckpt_root / checkpoint_name(step), saves)
            if step >= p.steps or (stop_after is not None and step >= stop_after):
                break
            rng = step_rng(p.seed, step)
            rows = np.sort(train_rows[rng.integers(0, len(train_rows), p.batch_size)])
            masks = sample_masks(backbone.grid, p.batch_size, p, rng)
            raw = torch.from_numpy(store.read("frames", rows))  # (B, Hp, Wp, C) uint8
            x = frames_to_input(raw, image_size, channels).to(device)
            view = None
            if p.view_shift:  # no masks: the whole translated frame predicts the whole frame
                masks = whole_grid(backbone.grid, p.batch_size)
                k = p.view_shift
                offsets = torch.from_numpy(rng.integers(-k, k + 1, (len(rows), 2)))  # (B, 2) px
                seen = random_shift(raw[:, None], offsets)[:, 0]  # (B, Hp, Wp, C)
                shifted = frames_to_input(seen, image_size, channels).to(device)
                view = (shifted, (offsets.float() / p.view_shift).to(device))
            # the same episodes' frames target_offset / change_offset steps on
            later = (
                _model_input(store, rows + p.target_offset, model_cfg, device)
                if p.target_offset
                else None
            )
            moved = (
                _model_input(store, rows + p.change_offset, model_cfg, device)
                if p.change_floor > 0
                else None
            )
            lr = learning_rate(step, p)
            for group in optimizer.param_groups:
                group["lr"] = lr
            tick = time.perf_counter()
            generator = torch.Generator(device=device).manual_seed(p.seed * 1_000_003 + step)
            loss, parts = objective(x, masks.to(device), generator, later, view, moved)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if p.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(objective.trainable(), p.grad_clip)
            momentum = ema_momentum(step, p.steps, *p.ema_momentum)
            metrics = {k: float(v) for k, v in parts.items()}
            if not math.isfinite(metrics["loss"]):
                raise NonFiniteLossError(
                    f"pretraining loss became {metrics['loss']} at step {step}; the last good "
                    f"checkpoint is in {ckpt_root}. Lower pretrain.lr, then resume with --resume."
                )
            optimizer.step()
            if objective.target is not None:
                ema_update(objective.target, objective.encoder, momentum)
                metrics["ema_momentum"] = momentum
            compute_seconds += time.perf_counter() - tick
            step += 1
            frames_seen += p.batch_size
            bar.update(1)
            last = step == p.steps
            probed = last or (p.probe_every > 0 and step % p.probe_every == 0)
            if probed:
                metrics.update(probe(backbone, image_size, channels))
            if step % p.log_every == 0 or last or probed:
                log_row()
                bar.set_postfix(loss=f"{metrics['loss']:.4f}")
            if p.checkpoint_every and (step % p.checkpoint_every == 0 or last):
                _save_state(ckpt_root, step, objective, optimizer, p.keep_checkpoints)
    bar.close()
    if step < p.steps:  # stopped early: no final outputs
        return metrics
    elapsed = time.perf_counter() - start
    results = {
        "monde_version": __version__,
        "data": str(store.path),
        "steps": p.steps,
        "anti_collapse": p.anti_collapse,
        "final": metrics,
        "frames_per_s": frames_seen / max(elapsed, 1e-9),
        "compute_frames_per_s": frames_seen / max(compute_seconds, 1e-9),
        "seconds_this_process": elapsed,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "load_avg_1m_end": os.getloadavg()[0],
    }
    record = {"data": str(store.path), "pretrain": to_dict(p), "final": metrics}
    save_encoder(backbone, model_cfg, run_dir / ENCODER_DIR, record)
    atomic_write_json(run_dir / RESULTS_FILE, results)
    return results
