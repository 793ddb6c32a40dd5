"""train_run(): wire a dataset, a model and fit() together for one configured run."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from monde.config import RunConfig
from monde.config_io import save_config, to_dict
from monde.data.lineage import record_training_data
from monde.data.sampler import WindowSampler
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.models.checkpoint import save_model, start_from_model
from monde.models.encoder_checkpoint import load_encoder_into
from monde.models.ensemble import WorldModelEnsemble
from monde.models.world_model import WorldModel
from monde.precision import torch_threads
from monde.runs import locked_run
from monde.train.distributed import (
    DistContext,
    is_main_process,
    setup_distributed,
    teardown_distributed,
)
from monde.train.fit import ProbeData, fit
from monde.types import Episode


def make_probe_data(
    train: list[Episode],
    val: list[Episode],
    state_names: list[str],
    frames: int = 2000,
    seed: int = 0,
    position: Sequence[str] = (),
) -> ProbeData | None:
    """Random frames of training and held-out episodes with their ground-truth states;
    `position`: the agent's position columns, whose low probe R² training warns about."""
    if not val:
        return None
    rng = np.random.default_rng(seed)

    def pick(episodes: list[Episode]) -> tuple[torch.Tensor, torch.Tensor]:
        all_frames = np.concatenate([e.frames for e in episodes])  # (N, Hp, Wp, C)
        all_states = np.concatenate([e.states for e in episodes])  # (N, S)
        idx = rng.choice(len(all_frames), size=min(frames, len(all_frames)), replace=False)
        return torch.from_numpy(all_frames[idx]), torch.from_numpy(all_states[idx])

    train_frames, train_states = pick(train)
    val_frames, val_states = pick(val)
    varying = (train_states.std(0) > 1e-6).numpy()  # constant columns (a fixed wall) say nothing
    cols = np.flatnonzero(varying)
    return ProbeData(
        train_frames,
        train_states,
        val_frames,
        val_states,
        tuple(state_names[i] for i in cols),
        tuple(int(i) for i in cols),
        tuple(position),
    )


HOST_ONLY = {
    "data": ("workers",),
    "train": ("device", "threads", "compile", "keep_checkpoints"),
    "pretrain": ("device", "threads", "keep_checkpoints"),
    "model": ("proprio_indices",),
    "plan": ("compile",),
}
"""settings that pick where and how fast a run collects, trains or plans and what it keeps, not
what it learns or plans (data.workers: the same seeds give the same episodes on any number of
workers). With `precision: auto`, device and threads also pick the number format a run
computes in; each run records the one it used (`precision` in its metrics and results)."""


def trains_alike(a: RunConfig, b: RunConfig) -> bool:
    """Whether two configs train the same model on the same data: only the env, data, model
    and train sections count, less the settings that pick where and how fast it runs and how
    many checkpoints it keeps."""

    def training_part(cfg: RunConfig) -> dict:
        part = {
            k: dict(v) for k, v in to_dict(cfg).items() if k in ("env", "data", "model", "train")
        }
        for section, keys in HOST_ONLY.items():
            for key in keys:
                part.get(section, {}).pop(key, None)
        return part

    return training_part(a) == training_part(b)


def train_run(
    cfg: RunConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    allow_incomplete_data: bool = False,
    position: Sequence[str] = (),
    recorded: RunConfig | None = None,
) -> tuple[WorldModel | WorldModelEnsemble | None, dict]:
    """Train on the store at data_dir; writes run_dir/{config.yaml, metrics.jsonl, model/}.

    config.yaml records `recorded` when given (a post-training stage: its run's config, both
    stages, so that the run resumes as a whole), else `cfg`.

    With `train.ensemble` > 1 it trains that many members in run_dir/members/<i> and writes
    their ensemble as run_dir/model (monde.train.ensemble; None with `stop_after`).

    `position` names the agent's position columns (the env's registry entry declares them): a
    held-out probe R² below 0.5 on them prints a warning that the encoder may be collapsing.

    An empty store stops with a StoreError naming it, and so does an incomplete one (an
    interrupted collection or a failed import) unless `allow_incomplete_data`.

    Under torchrun every process calls this; they join one process group (cfg.train.device
    picks the device) and rank 0 writes the files. The writing process holds run_dir's lock
    (monde.runs): a second run on the same folder stops with RunLockedError naming the holder.
    """
    if cfg.train.ensemble > 1:  # members trained one after another (monde.train.ensemble)
        from monde.train.ensemble import train_ensemble

        return train_ensemble(
            cfg, data_dir, run_dir, resume, progress, stop_after, allow_incomplete_data, position
        )
    EpisodeStore(data_dir, verify_reads=False).require_trainable(allow_incomplete_data)
    with locked_run(run_dir) if is_main_process() else contextlib.nullcontext():
        ctx = setup_distributed(cfg.train.device)
        try:
            # the thread count is this run's: restored after, for whatever runs next in-process
            with torch_threads(cfg.train.threads):
                out = _train_run(
                    cfg,
                    data_dir,
                    run_dir,
                    ctx,
                    resume,
                    progress,
                    stop_after,
                    tuple(position),
                    recorded or cfg,
                )
        except BaseException:
            teardown_distributed(ctx, wait=False)
            raise
        teardown_distributed(ctx)
    return out


def _train_run(
    cfg: RunConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    ctx: DistContext,
    resume: bool,
    progress: bool,
    stop_after: int | None,
    position: tuple[str, ...] = (),
    recorded: RunConfig | None = None,
) -> tuple[WorldModel, dict]:
    run_dir = Path(run_dir)
    progress = progress and ctx.is_main
    store = EpisodeStore(data_dir)
    info = store.meta["info"]
    if info.get("image_size") != cfg.model.image_size:
        raise ValueError(
            f"{store.path}: frames are {info.get('image_size')} px but model.image_size is "
            f"{cfg.model.image_size}"
        )
    channels = store.meta["features"]["frames"]["shape"][-1]
    if channels != cfg.model.in_channels:
        raise ValueError(
            f"{store.path}: frames have {channels} channels but model.in_channels is "
            f"{cfg.model.in_channels} (4 for RGB + depth; env.frame_stack × that for stacked "
            "frames)"
        )
    if info.get("action_dim") != cfg.model.env_action_dim:
        raise ValueError(
            f"{store.path}: actions have {info.get('action_dim')} dims but "
            f"model.env_action_dim is {cfg.model.env_action_dim}"
        )
    # episodes are read lazily from the store; the split is by episode index ranges
    train_ids, val_ids = split_episodes(list(range(len(store))), cfg.data.val_fraction)
    window = cfg.model.history + cfg.train.rollout_steps
    if cfg.model.predictor == "transformer" and window - 1 > cfg.model.max_context:
        raise ValueError(
            f"model.history + train.rollout_steps − 1 = {window - 1} frames exceed "
            f"model.max_context = {cfg.model.max_context}"
        )
    sampler = WindowSampler.from_store(store, window, cfg.model.frameskip, episodes=train_ids)
    num_states = store.meta["features"]["states"]["shape"][0]
    state_names = info.get("state_names") or [f"s{i}" for i in range(num_states)]
    probe = make_probe_data(  # at most 20k frames per side in RAM (all of a small dataset)
        store.episodes_within(train_ids, seed=cfg.train.seed),
        store.episodes_within(val_ids, seed=cfg.train.seed),
        state_names,
        seed=cfg.train.seed,
        position=position,
    )
    if cfg.model.proprio:
        cfg.model.resolve_proprio(state_names, f"{store.path} (info.state_names)")
    if ctx.is_main:  # the resolved config: what model/config.json will hold too
        save_config(recorded or cfg, run_dir / "config.yaml")
        record_training_data(run_dir, store, store.usable(train_ids))  # for novelty figures
    torch.manual_seed(cfg.train.seed)  # initial weights
    model = WorldModel(cfg.model)
    if cfg.train.encoder_init:  # a `monde pretrain` encoder: fine-tuned, or frozen (no grad)
        load_encoder_into(
            model.encoder, cfg.model, cfg.train.encoder_init, freeze=cfg.train.freeze_encoder
        )
    if cfg.train.model_init:  # a trained model, post-trained here (its statistics kept)
        start_from_model(model, cfg.train.model_init, freeze_encoder=cfg.train.freeze_encoder)
    elif cfg.model.proprio:  # normalise proprioception by training episodes' statistics
        first, count = store.index[store.usable(train_ids)].T  # (N,) each, as the sampler
        rows = np.concatenate([np.arange(f, f + c) for f, c in zip(first, count, strict=True)])
        model.set_proprio_stats(store.read("states", rows))  # (ΣT, S)
    metrics = fit(
        model,
        sampler,
        cfg.train,
        run_dir,
        probe=probe,
        resume=resume,
        progress=progress,
        stop_after=stop_after,
        dist=ctx,
    )
    if stop_after is None and ctx.is_main:
        save_model(model, run_dir / "model", train_step=cfg.train.steps)
    return model, metrics
