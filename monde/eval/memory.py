"""The planner's memory: a waypoint graph (monde.plan.waypoints) of a run's training frames.

Only training episodes (never the held-out validation split, never evaluation goals) are
remembered: the latents of their frames one model step apart, encoded by the model that plans.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.models.world_model import WorldModel, encode_frames
from monde.plan.waypoints import WaypointGraph


@torch.inference_mode()
def build_waypoint_graph(
    model: WorldModel, data_dir: str | Path, episodes: int, val_fraction: float
) -> WaypointGraph:
    """The first `episodes` training episodes of the store at `data_dir` → a WaypointGraph."""
    path = Path(data_dir)
    if not (path / "zarr.json").exists():
        raise FileNotFoundError(
            f"{path}: plan.waypoints needs the run's training episodes there (the store "
            "`monde demo`/`monde bench` collect into RUN/data); set plan.waypoints=0 without it"
        )
    store = EpisodeStore(path)
    train_ids, _ = split_episodes(list(range(len(store))), val_fraction)
    ids = store.usable(train_ids)[:episodes]
    frames, states, owners = [], [], []
    step = model.frameskip
    for i in ids:
        episode = store[i]
        frames.append(episode.frames[::step])  # (T', Hp, Wp, C): one model step apart
        states.append(episode.states[::step])  # (T', S)
        owners.append(np.full(len(frames[-1]), i))
    latents = encode_frames(model, np.concatenate(frames), np.concatenate(states))  # (N, D)
    return WaypointGraph(latents, np.concatenate(owners))
