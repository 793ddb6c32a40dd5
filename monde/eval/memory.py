"""The planner's memory of a run's training frames: a waypoint graph (monde.plan.waypoints) and
the basis of a planning cost that leaves out what the action moves (monde.plan.action_subspace).

Only training episodes (never the held-out validation split, never evaluation goals) are
remembered: the latents of their frames one model step apart, encoded by the model that plans.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from monde.config import PlanConfig
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.models.world_model import WorldModel, encode_frames
from monde.plan.action_subspace import action_driven_covariance, cost_basis
from monde.plan.waypoints import WaypointGraph


def training_latents(
    model: WorldModel, data_dir: str | Path, episodes: int, val_fraction: float, purpose: str
) -> tuple[Tensor, np.ndarray]:
    """The first `episodes` training episodes of the store at `data_dir`, encoded one model
    step apart → (latents (N, D), the episode of each (N,)). `purpose` names the setting that
    asked, for the error when the store is missing."""
    path = Path(data_dir)
    if not (path / "zarr.json").exists():
        raise FileNotFoundError(
            f"{path}: {purpose} needs the run's training episodes there (the store "
            f"`monde demo`/`monde bench` collect into RUN/data); set {purpose}=0 without it"
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
    return latents, np.concatenate(owners)


@torch.inference_mode()
def build_waypoint_graph(
    model: WorldModel, data_dir: str | Path, episodes: int, val_fraction: float
) -> WaypointGraph:
    """The first `episodes` training episodes of the store at `data_dir` → a WaypointGraph."""
    latents, owners = training_latents(model, data_dir, episodes, val_fraction, "plan.waypoints")
    return WaypointGraph(latents, owners)


@torch.inference_mode()
def build_cost_basis(
    model: WorldModel, data_dir: str | Path, plan_cfg: PlanConfig, val_fraction: float
) -> tuple[Tensor, dict]:
    """The planning cost's basis for `plan_cfg.drop_action_variance` (monde.plan.action_subspace):
    the action-driven covariance measured on the latents of `plan_cfg.metric_episodes` training
    episodes → (basis (D, K), summary with kept, dropped, dropped_variance and latents)."""
    latents, _ = training_latents(
        model, data_dir, plan_cfg.metric_episodes, val_fraction, "plan.drop_action_variance"
    )
    repeat = model.frameskip if plan_cfg.repeat_actions else 1
    covariance = action_driven_covariance(model, latents, repeat=repeat)
    basis, summary = cost_basis(covariance, plan_cfg.drop_action_variance)
    return basis, {**summary, "latents": len(latents)}


def planner_memory(
    model: WorldModel, data_dir: str | Path, plan_cfg: PlanConfig, val_fraction: float
) -> tuple[WaypointGraph | None, Tensor | None, dict]:
    """What `plan_cfg` asks the planner to remember of the training episodes at `data_dir`:
    (the waypoint graph or None, the cost basis or None, a summary for the results)."""
    waypoints, basis, summary = None, None, {}
    if plan_cfg.waypoints:
        waypoints = build_waypoint_graph(model, data_dir, plan_cfg.waypoints, val_fraction)
        summary["waypoints"] = len(waypoints)
    if plan_cfg.drop_action_variance > 0:
        basis, summary["cost_basis"] = build_cost_basis(model, data_dir, plan_cfg, val_fraction)
    return waypoints, basis, summary
