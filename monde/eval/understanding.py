"""What the model learned, in numbers: probes, open-loop rollout error, surprise.

`evaluate_understanding` fits probes on latents of training episodes and scores them on held-out
episodes (encoded latents, and latents predicted k model steps ahead), measures open-loop rollout
error by horizon, and runs the violation-of-expectation test on paired clips from the
environment. It returns a JSON-able dict; it never changes the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from monde.envs.registry import env_entry
from monde.envs.violations import VIOLATION_KINDS, make_clip_pairs
from monde.eval.probes import fit_state_probes, state_r2, state_r2_with_angle_parts
from monde.eval.rollout_error import (
    Rollouts,
    collect_rollouts,
    latent_scale,
    model_steps,
    rollout_error,
)
from monde.eval.surprise import summarise_pairs, surprise_curves, to_model_rate
from monde.models.world_model import WorldModelProtocol, encode_frames
from monde.progress import tqdm
from monde.types import Episode


@dataclass
class UnderstandingConfig:
    horizon: int = 10
    """model steps of open-loop rollout (and of probes on predicted latents)"""
    probe_kinds: tuple[str, ...] = ("linear", "mlp")
    """probe families fitted on encoded and predicted latents"""
    mlp_steps: int = 1500
    """optimizer steps of each MLP probe"""
    surprise_pairs: int = 100
    """clip pairs per kind of impossible event"""
    surprise_kinds: tuple[str, ...] = VIOLATION_KINDS
    """kinds of impossible events tested"""
    clip_steps: int = 50
    """env steps per surprise clip"""
    event_step: int = 25
    """env step of the impossible event"""
    surprise_seed: int = 2_000_000
    """first seed of the surprise clips (far from collection and evaluation seeds)"""
    seed: int = 0
    """seed of the MLP probes"""


def probe_section(
    z_train: torch.Tensor,
    s_train: torch.Tensor,
    z_test: torch.Tensor,
    s_test: torch.Tensor,
    roll_train: Rollouts,
    roll_test: Rollouts,
    names: Sequence[str],
    cfg: UnderstandingConfig,
    progress: bool = True,
) -> tuple[dict, dict]:
    """R² of probes on encoded latents and on predicted latents per rollout step (an angle
    column's R² is that of its cos and sin, see `monde.probing.probe_targets`; each of the two
    apart in "encoded_angle_parts").

    → (section dict, encoded probes {kind: fn}) — the encoded probes also read rollouts.
    "predicted_refit": a probe fitted on predicted latents of training windows at that step;
    "predicted_encoder_probe": the probe of encoded latents applied to predicted latents.
    """
    encoded = fit_state_probes(z_train, s_train, names, cfg.probe_kinds, cfg.seed, cfg.mlp_steps)
    scored = {k: state_r2_with_angle_parts(s_test, p, z_test, names) for k, p in encoded.items()}
    out: dict = {
        "encoded": {k: per_name for k, (per_name, _) in scored.items()},
        "encoded_angle_parts": {k: parts for k, (_, parts) in scored.items()},
        "predicted_refit": {k: [] for k in cfg.probe_kinds},
        "predicted_encoder_probe": {k: [] for k in cfg.probe_kinds},
        "steps": list(range(1, cfg.horizon + 1)),
    }
    c = roll_train.context
    for h in tqdm(range(cfg.horizon), desc="probes on predictions", disable=not progress):
        x_tr, y_tr = roll_train.z_pred[:, h], roll_train.states[:, c + h]  # (W, D), (W, S)
        x_te, y_te = roll_test.z_pred[:, h], roll_test.states[:, c + h]
        refit = fit_state_probes(x_tr, y_tr, names, cfg.probe_kinds, cfg.seed, cfg.mlp_steps)
        for k in cfg.probe_kinds:
            out["predicted_refit"][k].append(state_r2(y_te, refit[k], x_te, names))
            out["predicted_encoder_probe"][k].append(state_r2(y_te, encoded[k], x_te, names))
    return out, encoded


def surprise_section(
    model: WorldModelProtocol, env_cfg, scale: float, cfg: UnderstandingConfig, progress: bool
) -> dict:
    """Per kind of impossible event: AUROC, paired accuracy, surprise curves around the event."""
    out = {}
    for kind in tqdm(cfg.surprise_kinds, desc="surprise", disable=not progress):
        pairs = make_clip_pairs(
            kind, cfg.surprise_pairs, env_cfg, cfg.clip_steps, cfg.event_step, cfg.surprise_seed
        )
        fs = model.frameskip
        phys, actions, event = to_model_rate(pairs.physical, pairs.actions, pairs.event, fs)
        imp, _, _ = to_model_rate(pairs.impossible, pairs.actions, pairs.event, fs)
        rate = np.arange(phys.shape[1]) * fs  # the env frames kept at the model's rate
        s_phys = surprise_curves(  # (B, M)
            model, phys, actions, scale, states=pairs.physical_states[:, rate]
        )
        s_imp = surprise_curves(model, imp, actions, scale, states=pairs.impossible_states[:, rate])
        out[kind] = summarise_pairs(s_phys, s_imp, event)
        out[kind]["event_env_step_median"] = float(np.median(pairs.event))
    return out


def split_states(
    model: WorldModelProtocol, episodes: Sequence[Episode], progress: bool, desc: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoded latents (N, D) and states (N, S) of every model-step frame of the episodes."""
    z, s = [], []
    for e in tqdm(episodes, desc=desc, unit="ep", disable=not progress):
        frames, _, states = model_steps(e, model.frameskip)
        z.append(encode_frames(model, frames, states))
        s.append(torch.from_numpy(states))
    return torch.cat(z), torch.cat(s).float()


def evaluate_understanding(
    model: WorldModelProtocol,
    train: Sequence[Episode],
    test: Sequence[Episode],
    state_names: Sequence[str],
    env_cfg=None,
    cfg: UnderstandingConfig | None = None,
    progress: bool = True,
    env: str | None = None,
) -> tuple[dict, dict]:
    """Probes, rollout error and (with env_cfg, the config of an env whose registry entry offers
    surprise clips) surprise; `env` (a registry name) says which state columns the rollout
    error reads as the agent's position and wall.

    → (results dict, extras {"probes": encoded probe fns, "test_rollouts": Rollouts,
    "scale": float}) — the extras feed the report's plots and GIFs.
    """
    cfg = cfg or UnderstandingConfig()
    entry = env_entry(env) if env is not None else None
    position, wall = (entry.position, entry.wall) if entry is not None else ((), None)
    with torch.no_grad():
        z_train, s_train = split_states(model, train, progress, "encode train")
        z_test, s_test = split_states(model, test, progress, "encode held-out")
        scale = latent_scale(z_train)
        roll_train = collect_rollouts(model, train, cfg.horizon, progress=progress)
        roll_test = collect_rollouts(model, test, cfg.horizon, progress=progress, desc="held-out")
    probes, encoded = probe_section(
        z_train, s_train, z_test, s_test, roll_train, roll_test, state_names, cfg, progress
    )
    linear = encoded.get("linear") or next(iter(encoded.values()))
    held_out = rollout_error(roll_test, scale, linear, state_names, position, wall)
    # the same error on training windows: a held-out error far above it is a model that fits
    # its training episodes' dynamics more than the environment's
    held_out["latent_train"] = rollout_error(roll_train, scale)["latent"]
    results = {
        "frameskip": model.frameskip,
        "history": model.history,
        "latent_scale": scale,
        "split": {
            "train_episodes": len(train),
            "test_episodes": len(test),
            "train_frames": len(z_train),
            "test_frames": len(z_test),
            "train_windows": int(len(roll_train.z_pred)),
            "test_windows": int(len(roll_test.z_pred)),
        },
        "probes": probes,
        "rollout_error": held_out,
    }
    if env_cfg is not None:
        results["surprise"] = surprise_section(model, env_cfg, scale, cfg, progress)
    extras = {"probes": encoded, "test_rollouts": roll_test, "scale": scale}
    return results, extras
