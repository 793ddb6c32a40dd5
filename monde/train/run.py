"""train_run(): wire a dataset, a model and fit() together for one configured run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from monde.config import RunConfig
from monde.config_io import save_config
from monde.data.collect import load_episodes
from monde.data.sampler import WindowSampler
from monde.data.store import EpisodeStore
from monde.models.checkpoint import save_model
from monde.models.world_model import WorldModel
from monde.train.fit import ProbeData, fit
from monde.types import Episode


def split_episodes(episodes: list[Episode], val_fraction: float) -> tuple[list, list]:
    """The last ⌈val_fraction·N⌉ episodes are held out (never trained on)."""
    n_val = int(np.ceil(val_fraction * len(episodes))) if val_fraction > 0 else 0
    n_val = min(n_val, len(episodes) - 1)
    return episodes[: len(episodes) - n_val], episodes[len(episodes) - n_val :]


def make_probe_data(
    train: list[Episode],
    val: list[Episode],
    state_names: list[str],
    frames: int = 2000,
    seed: int = 0,
) -> ProbeData | None:
    """Random frames of training and held-out episodes with their ground-truth states."""
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
        train_states[:, cols],
        val_frames,
        val_states[:, cols],
        tuple(state_names[i] for i in cols),
    )


def train_run(
    cfg: RunConfig,
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[WorldModel, dict]:
    """Train on the store at data_dir; writes run_dir/{config.yaml, metrics.jsonl, model/}."""
    run_dir = Path(run_dir)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    save_config(cfg, run_dir / "config.yaml")
    store = EpisodeStore(data_dir)
    info = store.meta["info"]
    if info.get("image_size") != cfg.model.image_size:
        raise ValueError(
            f"{store.path}: frames are {info.get('image_size')} px but model.image_size is "
            f"{cfg.model.image_size}"
        )
    if info.get("action_dim") != cfg.model.env_action_dim:
        raise ValueError(
            f"{store.path}: actions have {info.get('action_dim')} dims but "
            f"model.env_action_dim is {cfg.model.env_action_dim}"
        )
    episodes = load_episodes(data_dir, progress=progress)
    train_eps, val_eps = split_episodes(episodes, cfg.data.val_fraction)
    window = cfg.model.history + cfg.train.rollout_steps
    if cfg.model.predictor == "transformer" and window - 1 > cfg.model.max_context:
        raise ValueError(
            f"model.history + train.rollout_steps − 1 = {window - 1} frames exceed "
            f"model.max_context = {cfg.model.max_context}"
        )
    sampler = WindowSampler(train_eps, window, cfg.model.frameskip)
    state_names = info.get("state_names") or [f"s{i}" for i in range(episodes[0].states.shape[1])]
    probe = make_probe_data(train_eps, val_eps, state_names, seed=cfg.train.seed)
    torch.manual_seed(cfg.train.seed)  # initial weights
    model = WorldModel(cfg.model)
    metrics = fit(
        model,
        sampler,
        cfg.train,
        run_dir,
        probe=probe,
        resume=resume,
        progress=progress,
        stop_after=stop_after,
    )
    if stop_after is None:
        save_model(model, run_dir / "model")
    return model, metrics
