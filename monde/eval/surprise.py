"""Surprise (violation of expectation): the model's prediction error over time on paired clips.

Surprise at model step t is ‖ẑ_t − z_t‖² / scale, where ẑ_t is the teacher-forced prediction of
frame t from the true frames before it and the actions, and z_t the encoding of frame t. A clip's
score is its largest surprise; the AUROC says how well the scores tell impossible clips from
physical ones (1 perfect, 0.5 chance). This module knows nothing about how clips are made.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from monde.models.world_model import WorldModelProtocol, encode_observation


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve of scores: P(positive > negative) + ½ P(tie) (Mann–Whitney U).

    negatives (N,), positives (P,) → a float in [0, 1]. Exact, by average ranks.
    """
    neg = np.asarray(negatives, dtype=np.float64).ravel()
    pos = np.asarray(positives, dtype=np.float64).ravel()
    if len(neg) == 0 or len(pos) == 0:
        raise ValueError(f"auroc needs scores of both classes, got {len(neg)} and {len(pos)}")
    if not (np.isfinite(neg).all() and np.isfinite(pos).all()):
        raise ValueError("auroc: scores contain NaN or inf")
    scores = np.concatenate([neg, pos])
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average rank (1-based) over runs of ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(neg) * len(pos)))


def sign_test_p(wins: int, n: int) -> float:
    """One-sided sign test: P(X ≥ wins) for X ~ Binomial(n, ½); ties should be left out of n."""
    if not 0 <= wins <= n:
        raise ValueError(f"need 0 ≤ wins ≤ n, got {wins}, {n}")
    return math.fsum(math.comb(n, k) for k in range(wins, n + 1)) / 2.0**n


@torch.no_grad()
def surprise_curves(
    model: WorldModelProtocol,
    frames: np.ndarray,
    actions: np.ndarray,
    scale: float,
    chunk: int = 64,
    states: np.ndarray | None = None,
) -> Tensor:
    """Clips at the model's rate → surprise (B, T): entry t−1 is the surprise of frame t.

    frames (B, T+1, Hp, Wp, C) uint8, actions (B, T, A) model actions; states (B, T+1, S) of
    the frames, read by a model with proprioception.
    """
    out = []
    for i in range(0, len(frames), chunk):
        st = None if states is None else states[i : i + chunk]
        z = encode_observation(model, frames[i : i + chunk], st).float()  # (b, T+1, D)
        a = torch.as_tensor(actions[i : i + chunk]).to(z)  # (b, T, A)
        pred = model.predict(z[:, :-1], a).float()  # (b, T, D): pred[:, t] predicts z[:, t+1]
        out.append(((pred - z[:, 1:]).square().sum(-1) / scale).cpu())
    return torch.cat(out)


def to_model_rate(
    frames: np.ndarray, actions: np.ndarray, event: np.ndarray, frameskip: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Env-rate clips → model-rate clips.

    frames (B, T+1, ...), actions (B, T, A_env), event (B,) env step → frames (B, M+1, ...),
    actions (B, M, fs·A_env), event (B,) first model frame at or after the env event.
    """
    b, t = actions.shape[:2]
    m = t // frameskip
    idx = np.arange(m + 1) * frameskip
    model_actions = actions[:, : m * frameskip].reshape(b, m, -1)  # (B, M, fs·A_env)
    model_event = -(-np.asarray(event) // frameskip)  # ceil(event / fs)
    return frames[:, idx], model_actions, model_event


def summarise_pairs(
    physical: Tensor, impossible: Tensor, event: np.ndarray, window: tuple[int, int] = (-3, 5)
) -> dict:
    """Surprise curves (B, T) of paired clips, event (B,) model frame → the reported numbers.

    Pairs whose clips never differ (event beyond the clip) are left out. Scores are the maximum
    surprise over the clip. Curves are means over pairs at offsets window[0] … window[1] from the
    event (offset 0 is the surprise of the first changed frame).
    """
    t = physical.shape[1]
    keep = np.flatnonzero(np.asarray(event) <= t)
    phys, imp = physical[keep].double().numpy(), impossible[keep].double().numpy()
    ev = np.asarray(event)[keep]
    s_phys, s_imp = phys.max(1), imp.max(1)
    wins = int((s_imp > s_phys).sum())
    ties = int((s_imp == s_phys).sum())
    offsets = list(range(window[0], window[1] + 1))
    curves = {}
    for name, values in (("physical", phys), ("impossible", imp)):
        rows = []
        for o in offsets:
            col = ev - 1 + o  # surprise of frame ev + o sits at column ev + o − 1
            ok = (col >= 0) & (col < t)
            rows.append(float(values[ok, col[ok]].mean()) if ok.any() else None)
        curves[name] = rows
    return {
        "pairs": int(len(keep)),
        "dropped_identical_pairs": int(len(event) - len(keep)),
        "auroc": auroc(s_phys, s_imp),
        "paired_accuracy": wins / max(1, len(keep)),
        "sign_test_p": sign_test_p(wins, len(keep) - ties),
        "score_physical_median": float(np.median(s_phys)),
        "score_impossible_median": float(np.median(s_imp)),
        "curve_offsets": offsets,
        "curve_physical": curves["physical"],
        "curve_impossible": curves["impossible"],
    }
