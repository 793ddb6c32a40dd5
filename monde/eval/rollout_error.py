"""Open-loop rollout error by horizon: encode, roll out with the true actions, compare.

Episodes are viewed at the model's rate (every `frameskip`-th frame, the `frameskip` env actions
in between concatenated into one model action), exactly as the window sampler trains on them.
From each window start the model encodes `history` context frames, rolls out H model steps with
the recorded actions, and the predicted latents are compared with the encodings of the true
frames (normalised latent error) and, through a probe, with the true states (state error).
This module knows nothing about environments or planning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from monde.models.world_model import WorldModelProtocol, encode_frames
from monde.probing import is_angle
from monde.progress import tqdm
from monde.types import Episode


def model_steps(episode: Episode, frameskip: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One episode at the model's rate → frames (M+1, Hp, Wp, C), actions (M, fs·A_env), states.

    M = num_steps // frameskip; frame m is env frame m·frameskip.
    """
    m = episode.num_steps // frameskip
    if m < 1:
        raise ValueError(
            f"episode {episode.meta.get('index', '?')} has {episode.num_steps} steps, fewer than "
            f"one model step of frameskip {frameskip}"
        )
    idx = np.arange(m + 1) * frameskip  # (M+1,)
    actions = episode.actions[: m * frameskip].reshape(m, -1)  # (M, fs·A_env)
    return episode.frames[idx], actions, episode.states[idx]


def latent_scale(z: Tensor) -> float:
    """Mean squared distance of latents z (N, D) from their mean: the unit of latent errors."""
    return float((z - z.mean(0)).square().sum(1).mean())


@dataclass
class Rollouts:
    """Open-loop rollouts from W windows: C context frames, then H predicted model steps."""

    z_true: Tensor  # (W, C+H, D) encodings of the true frames
    z_pred: Tensor  # (W, H, D) predicted latents of frames C … C+H−1
    states: Tensor  # (W, C+H, S) ground-truth states of the window's frames
    episode: Tensor  # (W,) index of the episode in the list given to `collect_rollouts`
    start: Tensor  # (W,) model step of the window's first frame
    context: int  # C


@torch.no_grad()
def collect_rollouts(
    model: WorldModelProtocol,
    episodes: Sequence[Episode],
    horizon: int,
    stride: int = 1,
    progress: bool = True,
    desc: str = "rollouts",
) -> Rollouts:
    """Roll out every window of history + horizon model steps (starts `stride` apart)."""
    fs, c = model.frameskip, model.history
    z_true, z_pred, states, ep_idx, starts = [], [], [], [], []
    for e, episode in enumerate(tqdm(episodes, desc=desc, unit="ep", disable=not progress)):
        frames, actions, st = model_steps(episode, fs)
        z = encode_frames(model, frames, st)  # (M+1, D)
        first = np.arange(0, len(frames) - (c + horizon) + 1, stride)  # window starts
        if len(first) == 0:
            raise ValueError(
                f"episode {episode.meta.get('index', e)}: {len(frames)} model-step frames are "
                f"too few for {c} context + {horizon} predicted steps"
            )
        frame_idx = first[:, None] + np.arange(c + horizon)  # (W_e, C+H)
        action_idx = first[:, None] + np.arange(c - 1 + horizon)  # (W_e, C−1+H)
        zw = z[frame_idx]  # (W_e, C+H, D)
        aw = torch.from_numpy(actions[action_idx]).to(zw)  # (W_e, C−1+H, A)
        pred = model.rollout(zw[:, :c], aw[:, c - 1 :], a_ctx=aw[:, : c - 1]).float().cpu()
        z_true.append(zw)
        z_pred.append(pred)  # (W_e, H, D)
        states.append(torch.from_numpy(st[frame_idx]))
        ep_idx.append(torch.full((len(first),), e))
        starts.append(torch.from_numpy(first))
    return Rollouts(
        torch.cat(z_true),
        torch.cat(z_pred),
        torch.cat(states).float(),
        torch.cat(ep_idx),
        torch.cat(starts),
        c,
    )


def state_error(pred: Tensor, truth: Tensor, names: Sequence[str]) -> Tensor:
    """pred − truth (..., S); an angle column's difference wrapped into [−π, π)."""
    diff = pred - truth
    for i, name in enumerate(names):
        if is_angle(name):
            diff[..., i] = torch.remainder(diff[..., i] + math.pi, 2 * math.pi) - math.pi
    return diff


def rollout_error(
    rollouts: Rollouts,
    scale: float,
    probe: Callable[[Tensor], Tensor] | None = None,
    state_names: Sequence[str] = (),
    position: Sequence[str] = (),
    wall: tuple[str, str] | None = None,
) -> dict:
    """Error of the predicted latents per rollout step (1 … H).

    latent: mean ‖ẑ − z‖² / scale (0 perfect; about 2 for an unrelated frame when scale comes
    from `latent_scale`). With a probe (latents → states): the RMSE per state column of
    probe(ẑ) against the true state, and the same for probe(z) of the true frames (the floor),
    plus the agent-position error when state_names hold the `position` columns, and with
    `wall` = (agent column X, wall column) the fraction of windows whose predicted agent is on
    the wrong side of the wall and the share of X's squared error those windows carry
    (`X_sq_error_share_wrong_side`). The environment's registry entry declares both.
    """
    c = rollouts.context
    target = rollouts.z_true[:, c:]  # (W, H, D)
    sq = (rollouts.z_pred - target).square().sum(-1) / scale  # (W, H)
    out: dict = {
        "steps": list(range(1, sq.shape[1] + 1)),
        "windows": int(sq.shape[0]),
        "latent": sq.mean(0).tolist(),
        "latent_p90": sq.quantile(0.9, dim=0).tolist(),
    }
    if probe is None:
        return out
    truth = rollouts.states[:, c:].double()  # (W, H, S)
    pred_state = probe(rollouts.z_pred)  # (W, H, S)
    floor_state = probe(target)
    names = list(state_names) or [f"s{i}" for i in range(truth.shape[-1])]
    rmse = state_error(pred_state, truth, names).square().mean(0).sqrt()  # (H, S)
    floor = state_error(floor_state, truth, names).square().mean(0).sqrt()
    out["state_rmse"] = {n: rmse[:, i].tolist() for i, n in enumerate(names)}
    out["state_rmse_encoded"] = {n: floor[:, i].tolist() for i, n in enumerate(names)}
    if position and all(n in names for n in position):
        cols = [names.index(n) for n in position]
        dist = (pred_state[..., cols] - truth[..., cols]).norm(dim=-1)  # (W, H)
        out["agent_position_error"] = dist.mean(0).tolist()
    if wall is not None and all(n in names for n in wall):  # which side of the wall?
        ix, iw = names.index(wall[0]), names.index(wall[1])
        wall_at = truth[..., iw]  # (W, H)
        wrong = (pred_state[..., ix] < wall_at) != (truth[..., ix] < wall_at)  # (W, H)
        sq = (pred_state[..., ix] - truth[..., ix]).square()  # (W, H)
        out["agent_wrong_side_fraction"] = wrong.double().mean(0).tolist()
        out[f"{wall[0]}_sq_error_share_wrong_side"] = (
            (sq * wrong).sum(0) / sq.sum(0).clamp_min(1e-12)
        ).tolist()
    return out
