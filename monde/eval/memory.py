"""The planner's memory of a run's training frames: a waypoint graph (monde.plan.waypoints) and
the basis of a planning cost that leaves out what the action moves (monde.plan.action_subspace).

Only training episodes (never the held-out validation split, never evaluation goals) are
remembered: the latents of their frames one model step apart, encoded by the model that plans.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    latents, _, owners = episode_latents(model, store, store.usable(train_ids)[:episodes])
    return latents, owners


def episode_latents(
    model: WorldModel, store: EpisodeStore, ids: Sequence[int]
) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """The episodes `ids` of `store`, one model step apart → (latents (N, D) on the CPU, their
    states (N, S), the episode of each (N,))."""
    frames, states, owners = [], [], []
    step = model.frameskip
    for i in ids:
        episode = store[i]
        frames.append(episode.frames[::step])  # (T', Hp, Wp, C): one model step apart
        states.append(episode.states[::step])  # (T', S)
        owners.append(np.full(len(frames[-1]), i))
    states_all = np.concatenate(states)  # (N, S)
    latents = encode_frames(model, np.concatenate(frames), states_all)  # (N, D)
    return latents, states_all, np.concatenate(owners)


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
    covariance = action_covariance_of(model, latents, plan_cfg)
    basis, summary = cost_basis(covariance, plan_cfg.drop_action_variance)
    return basis, {**summary, "latents": len(latents)}


def action_covariance_of(model: WorldModel, latents: Tensor, plan_cfg: PlanConfig) -> Tensor:
    """The action-driven covariance (D, D) of CPU latents (N, D), measured on the model's device
    with actions searched as `plan_cfg.repeat_actions` says."""
    repeat = model.frameskip if plan_cfg.repeat_actions else 1
    device = next(model.parameters()).device
    return action_driven_covariance(model, latents.to(device), repeat=repeat)


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
