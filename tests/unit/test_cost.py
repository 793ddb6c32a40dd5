"""Exact values of monde.plan.cost on hand-computed small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from monde.plan import (
    ENSEMBLE_COSTS,
    ensemble_goal_cost,
    goal_cost,
    latent_distance,
    reduce_horizon,
)


def test_l2_is_mean_squared_error_over_d() -> None:
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # (H=2, D=2)
    goal = torch.tensor([1.0, 0.0])
    # step 0: (0^2 + 2^2) / 2 = 2; step 1: (2^2 + 4^2) / 2 = 10
    torch.testing.assert_close(latent_distance(pred, goal, "l2"), torch.tensor([2.0, 10.0]))
    torch.testing.assert_close(latent_distance(pred, goal), torch.tensor([2.0, 10.0]))  # default


def test_l1_is_mean_absolute_error_over_d() -> None:
    pred = torch.tensor([[1.0, 2.0], [3.0, -4.0]])
    goal = torch.tensor([1.0, 0.0])
    # step 0: (0 + 2) / 2 = 1; step 1: (2 + 4) / 2 = 3
    torch.testing.assert_close(latent_distance(pred, goal, "l1"), torch.tensor([1.0, 3.0]))


def test_cosine_is_one_minus_cos() -> None:
    pred = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    goal = torch.tensor([5.0, 0.0])
    expected = torch.tensor([0.0, 1.0, 2.0, 1.0 - 1.0 / math.sqrt(2.0), 1.0])  # zero vector -> 1
    torch.testing.assert_close(latent_distance(pred, goal, "cosine"), expected)


def test_leading_dims_broadcast_for_planner_shapes() -> None:
    B, S, H, D = 2, 3, 4, 5
    pred = torch.randn(B, S, H, D, generator=torch.Generator().manual_seed(0))
    goal = torch.randn(B, 1, D, generator=torch.Generator().manual_seed(1))
    for metric in ("l2", "l1", "cosine"):
        out = latent_distance(pred, goal, metric)
        assert out.shape == (B, S, H)
        # episode b is compared with its own goal
        ref = latent_distance(pred[1, 2], goal[1, 0], metric)
        torch.testing.assert_close(out[1, 2], ref)
    assert goal_cost(pred, goal).shape == (B, S)


def test_reduce_modes_exact() -> None:
    dist = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 8.0]])
    torch.testing.assert_close(reduce_horizon(dist, "sum"), torch.tensor([6.0, 12.0]))
    torch.testing.assert_close(reduce_horizon(dist), torch.tensor([6.0, 12.0]))  # default
    torch.testing.assert_close(reduce_horizon(dist, "last"), torch.tensor([3.0, 8.0]))
    torch.testing.assert_close(reduce_horizon(dist, "min"), torch.tensor([1.0, 0.0]))
    # 1 + 0.5*2 + 0.25*3 = 2.75; 4 + 0 + 0.25*8 = 6
    torch.testing.assert_close(reduce_horizon(dist, "discounted", 0.5), torch.tensor([2.75, 6.0]))
    # discount 0 keeps only the first step (0**0 == 1); discount 1 equals sum
    torch.testing.assert_close(reduce_horizon(dist, "discounted", 0.0), torch.tensor([1.0, 4.0]))
    torch.testing.assert_close(reduce_horizon(dist, "discounted", 1.0), reduce_horizon(dist))
    # a discount above 1 weighs later steps more: 1 + 2*2 + 4*3 = 17; 4 + 0 + 4*8 = 36
    torch.testing.assert_close(reduce_horizon(dist, "discounted", 2.0), torch.tensor([17.0, 36.0]))
    # discount ignored by the other modes
    torch.testing.assert_close(reduce_horizon(dist, "sum", 0.5), torch.tensor([6.0, 12.0]))
    # mean_weight adds w × the mean over the horizon to any mode: means 2 and 4
    torch.testing.assert_close(
        reduce_horizon(dist, "min", mean_weight=0.5), torch.tensor([2.0, 2.0])
    )
    torch.testing.assert_close(
        reduce_horizon(dist, "sum", 0.5, mean_weight=0.25), torch.tensor([6.5, 13.0])
    )


def test_goal_cost_composes_distance_and_reduce() -> None:
    pred = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # (1, H=2, D=2)
    goal = torch.tensor([[1.0, 0.0]])  # (1, D)
    torch.testing.assert_close(goal_cost(pred, goal), torch.tensor([12.0]))  # l2: 2 + 10
    torch.testing.assert_close(goal_cost(pred, goal, mode="last"), torch.tensor([10.0]))
    torch.testing.assert_close(
        goal_cost(pred, goal, metric="l1", mode="discounted", discount=0.5),
        torch.tensor([1.0 + 0.5 * 3.0]),
    )


def test_float64_in_float64_out() -> None:
    pred = torch.ones(2, 3, dtype=torch.float64)
    goal = torch.zeros(3, dtype=torch.float64)
    for metric in ("l2", "l1"):
        assert goal_cost(pred, goal, metric, "discounted", 0.9).dtype == torch.float64


def test_unknown_names_and_bad_inputs_raise() -> None:
    pred, goal = torch.zeros(2, 3), torch.zeros(3)
    with pytest.raises(ValueError, match=r"unknown metric 'l3'.*'l2', 'l1', 'cosine'"):
        latent_distance(pred, goal, "l3")
    with pytest.raises(ValueError, match=r"unknown reduce mode 'mean'.*'sum', 'last'"):
        reduce_horizon(torch.zeros(2), "mean")
    with pytest.raises(ValueError, match="unknown metric"):
        goal_cost(pred, goal, metric="L2")
    with pytest.raises(ValueError, match="latent dims differ"):
        latent_distance(pred, torch.zeros(4))
    with pytest.raises(ValueError, match="at least 2 dims"):
        latent_distance(torch.zeros(3), goal)
    with pytest.raises(ValueError, match="H >= 1"):
        reduce_horizon(torch.zeros(2, 0))
    with pytest.raises(ValueError, match="discount"):
        reduce_horizon(torch.zeros(2), "discounted", -0.1)
    with pytest.raises(ValueError, match="discount"):
        reduce_horizon(torch.zeros(2), "discounted", float("nan"))
    with pytest.raises(ValueError, match="mean_weight"):
        reduce_horizon(torch.zeros(2), "min", mean_weight=-1.0)


def test_weights_scale_each_dimension() -> None:
    pred = torch.tensor([[1.0, 2.0], [3.0, -4.0]])  # (H=2, D=2)
    goal = torch.tensor([1.0, 0.0])
    w = torch.tensor([2.0, 0.0])  # the second dimension left out
    # l2 step 0: (2·0 + 0·4) / 2 = 0; step 1: (2·4 + 0·16) / 2 = 4
    torch.testing.assert_close(latent_distance(pred, goal, "l2", w), torch.tensor([0.0, 4.0]))
    # l1 step 1: (2·2 + 0·4) / 2 = 2
    torch.testing.assert_close(latent_distance(pred, goal, "l1", w), torch.tensor([0.0, 2.0]))
    # cosine on sqrt(w)-scaled vectors: only the first dimension is left, both positive -> 0
    torch.testing.assert_close(latent_distance(pred, goal, "cosine", w), torch.tensor([0.0, 0.0]))
    ones = torch.ones(2)
    for metric in ("l2", "l1", "cosine"):
        torch.testing.assert_close(
            latent_distance(pred, goal, metric, ones), latent_distance(pred, goal, metric)
        )
    torch.testing.assert_close(goal_cost(pred, goal, "l2", "sum", weights=w), torch.tensor(4.0))


@pytest.mark.parametrize(
    "weights", [torch.ones(3), torch.tensor([1.0, -1.0]), torch.tensor([1.0, float("nan")])]
)
def test_bad_weights_raise(weights: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="weights"):
        latent_distance(torch.zeros(2, 2), torch.zeros(2), "l2", weights)


def test_mean_weight_ranks_plans_equally_close_at_their_closest_step() -> None:
    """With reduce 'min', two plans both touching the goal once tie; the mean breaks the tie
    for the one that stays near it."""
    goal = torch.zeros(1, 1, 2)  # (b, 1, D)
    pred = torch.tensor([[[[0.0, 0.0], [3.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]]]])  # (1, S=2, H=2, D)
    plain = goal_cost(pred, goal, "l2", "min")
    assert plain[0, 0] == plain[0, 1] == 0.0
    mixed = goal_cost(pred, goal, "l2", "min", mean_weight=0.1)
    torch.testing.assert_close(mixed, torch.tensor([[0.1 * 4.5 / 2, 0.1 * 0.5 / 2]]))


def _two_members() -> tuple[torch.Tensor, torch.Tensor]:
    """pred (1, H=2, 2 members × 2 dims), goal 0: member 0 is near at step 0, member 1 at 1."""
    pred = torch.tensor([[[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0]]])
    return pred, torch.zeros(1, 4)


def test_ensemble_costs_exact() -> None:
    pred, goal = _two_members()
    # member 0's l2 per step: 1, 0; member 1's: 0, 4; the joint latent's: 0.5, 2
    expected = {
        ("sum", "joint"): 2.5,
        ("sum", "mean"): 2.5,  # a linear reduction: joint is the members' mean
        ("sum", "max"): 4.0,
        ("min", "joint"): 0.5,  # the closest step of the mean distance...
        ("min", "mean"): 0.0,  # ...lies above each member's own closest step
        ("min", "max"): 0.0,
    }
    for (mode, combine), value in expected.items():
        cost = ensemble_goal_cost(pred, goal, 2, combine, "l2", mode)
        assert cost.shape == (1,)
        assert cost.item() == pytest.approx(value), (mode, combine)
    # each member's slice of the weights weighs that member's dims: member 1 left out
    weights = torch.tensor([2.0, 2.0, 0.0, 0.0])
    assert ensemble_goal_cost(pred, goal, 2, "max", "l2", "sum", weights=weights).item() == 2.0
    # one member: goal_cost, whatever the combination
    for combine in ENSEMBLE_COSTS:
        torch.testing.assert_close(
            ensemble_goal_cost(pred, goal, 1, combine, "l1", "last"),
            goal_cost(pred, goal, "l1", "last"),
        )


def test_ensemble_cost_refuses_what_it_cannot_split() -> None:
    pred, goal = _two_members()
    with pytest.raises(ValueError, match="unknown ensemble cost 'worst'"):
        ensemble_goal_cost(pred, goal, 2, "worst")
    with pytest.raises(ValueError, match="3 members do not split a latent of 4 dims"):
        ensemble_goal_cost(pred, goal, 3, "max")
    with pytest.raises(ValueError, match="at least 1 member"):
        ensemble_goal_cost(pred, goal, 0, "mean")
    with pytest.raises(ValueError, match=r"weights must be \(D,\) = \(4,\)"):
        ensemble_goal_cost(pred, goal, 2, "max", weights=torch.ones(2))
