"""Planning costs as pure functions of latent tensors.

These functions see only tensors: predicted latents and a goal latent. They know nothing about
pixels, models, environments, logging or files, and they compute on the device and dtype of
their inputs.

Shape letters (see ``monde.types``): H horizon (model steps), D latent dimension; ``...`` is any
number of leading dims, e.g. (B, S) for B episodes times S candidate action sequences.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

METRICS: tuple[str, ...] = ("l2", "l1", "cosine")
REDUCE_MODES: tuple[str, ...] = ("sum", "last", "discounted", "min")
ENSEMBLE_COSTS: tuple[str, ...] = ("joint", "mean", "max")

# Norm floor of the cosine metric: a zero vector has cosine similarity 0 (distance 1) to anything.
_COSINE_EPS = 1e-8


def _check_latent_dims(pred: Tensor, goal: Tensor, weights: Tensor | None) -> None:
    """ValueError unless goal (..., D) and weights (D,) (when given) match pred (..., H, D)."""
    if pred.shape[-1] != goal.shape[-1]:
        raise ValueError(
            f"latent dims differ: pred {tuple(pred.shape)} has D={pred.shape[-1]}, "
            f"goal {tuple(goal.shape)} has D={goal.shape[-1]}"
        )
    if weights is not None and weights.shape != (pred.shape[-1],):
        raise ValueError(f"weights must be (D,) = ({pred.shape[-1]},), got {tuple(weights.shape)}")


def latent_distance(
    pred: Tensor, goal: Tensor, metric: str = "l2", weights: Tensor | None = None
) -> Tensor:
    """Per-step distance between predicted latents and a goal latent.

    Formulas, with ``d = pred[..., h, :] - goal[..., :]`` over the D latent dims:

    - ``"l2"``: mean squared error, ``mean_D(d**2)`` (not square-rooted, not summed over D).
    - ``"l1"``: mean absolute error, ``mean_D(|d|)``.
    - ``"cosine"``: ``1 - cos(pred_h, goal)`` with ``cos = <x, y> / max(|x| * |y|, 1e-8)``, in
      [0, 2]; a zero vector is at distance 1 from everything.

    With ``weights`` w (D,), each dimension counts w times: ``mean_D(w * d**2)`` and
    ``mean_D(w * |d|)``; the cosine compares ``sqrt(w) * pred_h`` with ``sqrt(w) * goal``. A
    weight of 0 leaves a dimension out (e.g. a velocity column of the proprioception when the
    goal is at rest).

    Steps:
        1. goal (..., D) -> (..., 1, D), a singleton H axis.
        2. Broadcast against pred (..., H, D); the leading dims follow the usual right-aligned
           broadcasting rule, so for pred (B, S, H, D) pass goal (B, 1, D) (or (D,) for one goal).
        3. Reduce over D with the chosen metric -> (..., H).

    Args:
        pred: (..., H, D) predicted latents, one per planning step.
        goal: (..., D) goal latent, without an H axis.
        metric: one of ``"l2"``, ``"l1"``, ``"cosine"``.
        weights: None (every dimension weight 1) or (D,) finite weights ≥ 0.

    Returns:
        (..., H) distance per step, in the broadcast leading shape.

    Raises:
        ValueError: unknown metric, pred with fewer than 2 dims, goal with no dims,
            mismatched D, or weights that are not (D,) finite and ≥ 0.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; valid metrics are {list(METRICS)}")
    if pred.ndim < 2:
        raise ValueError(
            f"pred must be (..., H, D) with at least 2 dims, got shape {tuple(pred.shape)}"
        )
    if goal.ndim < 1:
        raise ValueError("goal must be (..., D) with at least 1 dim, got a 0-dim tensor")
    _check_latent_dims(pred, goal, weights)
    g = goal.unsqueeze(-2)  # (..., 1, D)
    if weights is not None:
        if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
            raise ValueError("weights must be finite and >= 0")
        weights = weights.to(pred)
        if metric == "cosine":  # compare the rescaled vectors
            root = weights.sqrt()
            pred, g = pred * root, g * root
    if metric == "l2":
        sq = (pred - g).square()
        return (sq if weights is None else sq * weights).mean(dim=-1)
    if metric == "l1":
        ab = (pred - g).abs()
        return (ab if weights is None else ab * weights).mean(dim=-1)
    # cosine
    pred_b, g_b = torch.broadcast_tensors(pred, g)
    return 1.0 - F.cosine_similarity(pred_b, g_b, dim=-1, eps=_COSINE_EPS)


def reduce_horizon(
    dist: Tensor, mode: str = "sum", discount: float = 1.0, mean_weight: float = 0.0
) -> Tensor:
    """Reduce per-step distances over the horizon to one cost per sequence.

    Modes, over ``h = 0 .. H-1``:

    - ``"sum"``: ``sum_h dist[..., h]``.
    - ``"last"``: ``dist[..., H-1]`` (only the final predicted step counts).
    - ``"discounted"``: ``sum_h discount**h * dist[..., h]`` (the first step has weight 1).
    - ``"min"``: ``min_h dist[..., h]`` (the closest predicted step counts, whenever it comes:
      a goal reached at any step is a success, however long the plan stays there).

    ``discount`` is used only by ``"discounted"`` and ignored by the other modes.
    ``mean_weight`` w adds ``w * mean_h dist[..., h]`` to the reduction of any mode: with
    ``"min"``, it ranks plans whose closest steps are equally close by how close they stay over
    the whole horizon (w = 0: the plain reduction).

    Args:
        dist: (..., H) per-step distances, H >= 1.
        mode: one of ``"sum"``, ``"last"``, ``"discounted"``, ``"min"``.
        discount: finite, >= 0.
        mean_weight: finite, >= 0.

    Returns:
        (...) cost per sequence.

    Raises:
        ValueError: unknown mode, 0-dim dist, H == 0, or a negative / non-finite discount or
            mean_weight.
    """
    if mode not in REDUCE_MODES:
        raise ValueError(f"unknown reduce mode {mode!r}; valid modes are {list(REDUCE_MODES)}")
    if dist.ndim < 1 or dist.shape[-1] == 0:
        raise ValueError(f"dist must be (..., H) with H >= 1, got shape {tuple(dist.shape)}")
    if not math.isfinite(discount) or discount < 0:
        raise ValueError(f"discount must be finite and >= 0, got {discount}")
    if not math.isfinite(mean_weight) or mean_weight < 0:
        raise ValueError(f"mean_weight must be finite and >= 0, got {mean_weight}")
    if mode == "sum":
        cost = dist.sum(dim=-1)
    elif mode == "last":
        cost = dist[..., -1]
    elif mode == "min":
        cost = dist.amin(dim=-1)
    else:  # discounted
        h = torch.arange(dist.shape[-1], device=dist.device, dtype=dist.dtype)
        weights = torch.full_like(h, discount).pow(h)  # (H,), discount**0 == 1 for discount 0
        cost = (dist * weights).sum(dim=-1)
    return cost + mean_weight * dist.mean(dim=-1) if mean_weight else cost


def goal_cost(
    pred: Tensor,
    goal: Tensor,
    metric: str = "l2",
    mode: str = "sum",
    discount: float = 1.0,
    weights: Tensor | None = None,
    mean_weight: float = 0.0,
) -> Tensor:
    """Cost of predicted latent trajectories with respect to a goal latent.

    Steps:
        1. ``latent_distance(pred, goal, metric, weights)``: (..., H, D) x (..., D) -> (..., H).
        2. ``reduce_horizon(dist, mode, discount, mean_weight)``: (..., H) -> (...).

    For a planner, pred is (B, S, H, D) and goal (B, 1, D), giving the (B, S) cost that
    ``monde.plan.cem`` expects from its cost function.
    """
    dist = latent_distance(pred, goal, metric, weights)
    return reduce_horizon(dist, mode, discount, mean_weight)


def ensemble_goal_cost(
    pred: Tensor,
    goal: Tensor,
    members: int,
    combine: str = "joint",
    metric: str = "l2",
    mode: str = "sum",
    discount: float = 1.0,
    weights: Tensor | None = None,
    mean_weight: float = 0.0,
) -> Tensor:
    """Cost of an ensemble's predicted latents, its M members' latents side by side (M · Dm).

    Combinations, with ``c_m`` the ``goal_cost`` of member m's slice ``[m·Dm, (m+1)·Dm)`` alone:

    - ``"joint"``: ``goal_cost`` of the whole latent. With l2 or l1 each step's distance is the
      mean of the members' distances, so with a linear reduction (sum, last, discounted) the
      cost is ``mean_m c_m``; with ``"min"`` it is the closest step of the members' mean
      distance, which can lie above every member's own closest step.
    - ``"mean"``: ``mean_m c_m``.
    - ``"max"``: ``max_m c_m``: a plan scores as its most pessimistic member predicts, so a
      plan only some members believe reaches the goal is not chosen.

    One member (M = 1) is ``goal_cost`` under every combination.

    Args:
        pred: (..., H, M·Dm) predicted latents.
        goal: (..., M·Dm) goal latent.
        members: M ≥ 1, dividing the latent dimension (any M for ``"joint"``).
        combine: one of ``"joint"``, ``"mean"``, ``"max"``.
        metric, mode, discount, mean_weight: as ``goal_cost``.
        weights: None or (M·Dm,), each member's slice weighting that member's dims.

    Returns:
        (...) cost per sequence.

    Raises:
        ValueError: unknown combination, M < 1 or not dividing the latent dimension, and what
            ``goal_cost`` refuses.
    """
    if combine not in ENSEMBLE_COSTS:
        raise ValueError(
            f"unknown ensemble cost {combine!r}; valid ones are {list(ENSEMBLE_COSTS)}"
        )
    if members < 1:
        raise ValueError(f"an ensemble has at least 1 member, got {members}")
    if combine == "joint" or members == 1:
        return goal_cost(pred, goal, metric, mode, discount, weights, mean_weight)
    if pred.shape[-1] % members:
        raise ValueError(
            f"{members} members do not split a latent of {pred.shape[-1]} dims into equal parts"
        )
    _check_latent_dims(pred, goal, weights)  # before the latent is split by member
    size = pred.shape[-1] // members
    parts = [None] * members if weights is None else torch.split(weights, size)
    costs = torch.stack(  # (..., M)
        [
            goal_cost(p, g, metric, mode, discount, w, mean_weight)
            for p, g, w in zip(
                torch.split(pred, size, dim=-1), torch.split(goal, size, dim=-1), parts, strict=True
            )
        ],
        dim=-1,
    )
    return costs.mean(dim=-1) if combine == "mean" else costs.amax(dim=-1)
