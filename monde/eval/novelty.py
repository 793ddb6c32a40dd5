"""How far the evaluation scenes lie from the scenes a model was trained on.

The training scenes are read from the episode store the model was trained on (its recorded
states at the first frame of each training episode), never rebuilt by resetting an environment
with a config: an evaluation-time override of the environment (a wall range, a maze) must show up
as distance, and only the data can say what was trained on. This module knows nothing about
models or planning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monde.config import EnvConfig
from monde.data.lineage import TRAINING_DATA_FILE, training_data_of
from monde.data.store import EpisodeStore
from monde.envs import make_env
from monde.envs.registry import close_env, env_entry


def training_scenes(
    store_path: str | Path, train_ids: Sequence[int] | None, names: Sequence[str]
) -> np.ndarray | None:
    """(N, len(names)) state columns `names` at the first frame of each training episode.

    `train_ids` None means every usable episode of the store (conservative: held-out episodes
    then count as seen). None when the store's states do
    not carry all of `names` (the environment has no such scene columns).
    """
    store = EpisodeStore(store_path)
    state_names = list(store.meta["features"]["states"].get("names") or [])
    if not all(n in state_names for n in names):
        return None
    ids = store.usable(range(len(store)) if train_ids is None else train_ids)
    first_rows = store.index[ids, 0]  # (N,) global row of each episode's first frame
    states = store.read("states", first_rows)  # (N, S)
    return states[:, [state_names.index(n) for n in names]]


def evaluation_scenes(env_cfg: EnvConfig, eval_seeds: range, names: Sequence[str]) -> np.ndarray:
    """(N, len(names)) state columns `names` of the evaluation environment at `eval_seeds`."""
    env = make_env(env_cfg.name, len(eval_seeds), **env_cfg.env_kwargs("eval"))
    try:
        env.reset(list(eval_seeds))
        state_names = list(env.state_names)
        return env.state()[:, [state_names.index(n) for n in names]]
    finally:
        close_env(env)


def scene_novelty(
    model_dir: str | Path,
    env_cfg: EnvConfig,
    eval_seeds: range,
    names: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
) -> dict | None:
    """Smallest and median distance from an evaluation scene to its nearest training scene.

    The training scenes come from the store the model was trained on (`data_dir`, else what its
    run folder recorded); `names` defaults to the scene columns the environment's registry entry
    declares. None when there are none or the store's states lack them, and a dict with only
    `unavailable` (the reason) when no training store can be found.
    """
    found = training_data_of(model_dir)
    if data_dir is not None:  # given explicitly: the recorded split only if it is this store
        same = found is not None and Path(found[0]).resolve() == Path(data_dir).resolve()
        found = (Path(data_dir), found[1] if same else None)
    if found is None:
        return {
            "unavailable": f"no training store recorded for {model_dir} "
            f"({Path(model_dir).parent / TRAINING_DATA_FILE} missing)"
        }
    store_path, train_ids = found
    if names is None:
        names = env_entry(env_cfg.name).scene
    train = training_scenes(store_path, train_ids, names) if names else None
    if train is None:
        return None
    if len(train) == 0:
        return {"unavailable": f"{store_path} holds no usable training episodes"}
    test = evaluation_scenes(env_cfg, eval_seeds, names)
    nearest = np.sqrt(((test[:, None] - train[None]) ** 2).sum(-1)).min(1)  # (N_eval,)
    return {
        "columns": list(names),
        "training_store": str(store_path),
        "training_scenes": len(train),
        "min_distance_to_training": float(nearest.min()),
        "median_distance_to_training": float(np.median(nearest)),
        "identical_scenes": int((nearest == 0).sum()),
    }
