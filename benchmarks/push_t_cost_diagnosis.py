"""PushT: is the failure the learned dynamics or the latent distance used as the planning cost?

A diagnostic, not a result row: the planner's cost here reads ground-truth labels through probes.
It takes a trained PushT run (`monde bench push_t`), fits a linear probe from its latents to the
pusher and block pose of its training episodes (the angle as cos, sin; targets standardised),
and plans with the same model, CEM and budget under three costs:

- `latent`: the distance between predicted and goal latents (what `monde bench` measures);
- `probe_state`: the distance between the probe's reading of the predicted latents and of the
  goal latent, over pusher and block pose (the latent itself weighs 0);
- `probe_block`: the same over the block pose only.

If a probe cost plans where the latent cost fails, the predictor models pushes well enough and
the latent geometry is what is missing: the latent distance does not track the block's pose.

    python benchmarks/push_t_cost_diagnosis.py --run runs/bench/push_t_quick
writes benchmarks/results/experiments/push_t_cost_diagnosis.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from monde.config import RunConfig
from monde.config_io import load_config
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.envs.push_t import angle_gap
from monde.envs.registry import close_env
from monde.eval.goal_reaching import PlannerPolicy, run_episodes, summarise
from monde.eval.probes import fit_probes
from monde.eval.protocols import evaluation_env
from monde.io import atomic_write_json
from monde.models.checkpoint import load_model
from monde.models.world_model import WorldModel, encode_frames
from monde.probing import LinearProbe, probe_targets, r2_score
from monde.report import provenance

PROBED = ("pusher_x", "pusher_y", "block_x", "block_y", "block_angle")
TARGETS = ("pusher_x", "pusher_y", "block_x", "block_y", "block_cos", "block_sin")
COSTS = {  # cost weight of each probe target; the latent's own dims weigh 0 in probe costs
    "probe_state": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "probe_block": (0.0, 0.0, 1.0, 1.0, 1.0, 1.0),
}


class ProbeReadout:
    """A world model whose latent is [z (D), probe(z) (K)]: planning on it can weigh either."""

    def __init__(self, model: WorldModel, probe: LinearProbe, mean: Tensor, std: Tensor):
        self.model, self.probe, self.mean, self.std = model, probe, mean, std
        self.history, self.frameskip = model.history, model.frameskip
        self.action_dim = model.action_dim

    def read(self, z: Tensor) -> Tensor:
        """z (..., D) → standardised probe targets (..., K)."""
        return ((self.probe(z) - self.mean) / self.std).to(z.dtype)

    def encode(self, frames: np.ndarray | Tensor) -> Tensor:
        z = self.model.encode(frames)  # (..., D)
        return torch.cat([z, self.read(z)], dim=-1)  # (..., D + K)

    def rollout_samples(self, z_ctx: Tensor, actions: Tensor, a_ctx: Tensor) -> Tensor:
        d = self.model.cfg.latent_dim
        pred = self.model.rollout_samples(z_ctx[..., :d], actions, a_ctx=a_ctx)  # (B, S, H, D)
        return torch.cat([pred, self.read(pred)], dim=-1)  # (B, S, H, D + K)


def fit_readout(model: WorldModel, run: Path, cfg: RunConfig) -> tuple[ProbeReadout, dict]:
    """Probe of the run's training episodes (every model step), scored on its held-out ones."""
    store = EpisodeStore(run / "data")
    train_ids, val_ids = split_episodes(list(range(len(store))), cfg.data.val_fraction)
    names = list(store.meta["info"]["state_names"])
    cols = [names.index(n) for n in PROBED]

    def encoded(ids: list[int]) -> tuple[Tensor, Tensor]:
        z, y = [], []
        for i in store.usable(ids):
            episode = store[i]
            frames = episode.frames[:: model.frameskip]  # (T', Hp, Wp, C)
            states = episode.states[:: model.frameskip]
            z.append(encode_frames(model, frames, states))
            y.append(probe_targets(torch.from_numpy(states[:, cols]).double(), PROBED)[0])
        return torch.cat(z), torch.cat(y)  # (N, D), (N, K)

    z_train, y_train = encoded(train_ids)
    z_val, y_val = encoded(val_ids)
    probe = LinearProbe.fit(z_train, y_train)
    r2 = r2_score(y_val, probe(z_val)).tolist()
    mlp = fit_probes(z_train, y_train, ("mlp",))["mlp"]  # is the pose there, if not linearly?
    mlp_r2 = r2_score(y_val, mlp(z_val).double()).tolist()
    readout = ProbeReadout(model, probe, y_train.mean(0), y_train.std(0).clamp_min(1e-6))
    info = {
        "held_out_r2": dict(zip(TARGETS, r2, strict=True)),
        "held_out_r2_mlp": dict(zip(TARGETS, mlp_r2, strict=True)),
        "frames": len(z_train),
    }
    return readout, info


class RecordingPolicy(PlannerPolicy):
    """PlannerPolicy that keeps the start states of its episodes."""

    def start(self, env, frames: np.ndarray) -> None:
        self.start_states = env.state().copy()  # (B, S)
        super().start(env, frames)


def block_progress(start: np.ndarray, final: np.ndarray, goal: np.ndarray, radius: float) -> dict:
    """Where the block ended against where it started, both measured to its goal pose.

    States (B, S) are rows [pusher_x, pusher_y, block_x, block_y, block_angle] (PushT's)."""
    d_start = np.linalg.norm(start[:, 2:4] - goal[:, 2:4], axis=1)  # (B,) pixels
    d_final = np.linalg.norm(final[:, 2:4] - goal[:, 2:4], axis=1)
    turn_final = np.abs(angle_gap(final[:, 4], goal[:, 4]))
    return {
        "block_distance_start_mean": float(d_start.mean()),
        "block_distance_final_mean": float(d_final.mean()),
        "block_closer_fraction": float((d_final < d_start).mean()),
        "block_within_radius_fraction": float((d_final < radius).mean()),
        "block_angle_gap_start_mean": float(np.abs(angle_gap(start[:, 4], goal[:, 4])).mean()),
        "block_angle_gap_final_mean": float(turn_final.mean()),
    }


def evaluate(policy_model, weights: Tensor | None, cfg: RunConfig, episodes: int) -> dict:
    """Goal reaching on the run's evaluation seeds, the planner's cost weighted by `weights`."""
    seeds = [cfg.eval.seed + i for i in range(episodes)]
    env = evaluation_env(cfg.env, cfg.eval, episodes, cfg.data.policy)
    policy = RecordingPolicy(policy_model, cfg.plan, seed=cfg.eval.seed)
    policy.planner.dim_weights = weights
    success, steps = run_episodes(env, seeds, policy, policy_model.frameskip, cfg.eval.max_steps)
    radius = env.task.cfg.success_distance
    progress = block_progress(policy.start_states, env.state(), env.goal_state(), radius)
    close_env(env)
    return {**summarise(success, steps, policy.plan_times), **progress}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/bench/push_t_quick"))
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/experiments/push_t_cost_diagnosis.json"),
    )
    args = parser.parse_args()
    cfg = load_config(RunConfig, args.run / "config.yaml")
    if cfg.env.name != "push_t":
        raise ValueError(f"{args.run}: a push_t run is needed, this one is {cfg.env.name!r}")
    model = load_model(args.run / "model")
    start = time.perf_counter()
    readout, probe_info = fit_readout(model, args.run, cfg)
    d = model.cfg.latent_dim
    results = {"latent": evaluate(model, None, cfg, args.episodes)}
    print(f"latent: {results['latent']}")
    for name, target_weights in COSTS.items():
        weights = torch.cat([torch.zeros(d), torch.tensor(target_weights)])  # (D + K,)
        results[name] = evaluate(readout, weights, cfg, args.episodes)
        print(f"{name}: {results[name]}")
    atomic_write_json(
        args.out,
        {
            "command": f"python benchmarks/push_t_cost_diagnosis.py --run {args.run} "
            f"--episodes {args.episodes}",
            "run": str(args.run),
            "episodes": args.episodes,
            "probe": probe_info,
            "results": results,
            "seconds": time.perf_counter() - start,
            "provenance": provenance(),
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
