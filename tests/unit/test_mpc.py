"""MPCPlanner plumbing against a hand-written world model with known dynamics."""

import numpy as np
import pytest
import torch

from monde.config import PlanConfig
from monde.plan.mpc import MPCPlanner


class PointModel:
    """Latent = the 2-D position stored in pixel (0, 0); each env action moves it by 0.05·a."""

    history = 1
    frameskip = 5
    action_dim = 10
    image_size, in_channels, latent_dim = 4, 3, 2
    proprio: tuple[str, ...] = ()
    proprio_indices: tuple[int, ...] = ()

    def encode(self, frames):
        frames = torch.as_tensor(np.asarray(frames))
        return frames[..., 0, 0, :2].float() / 100.0  # (..., 2)

    def rollout(self, z_ctx, actions, a_ctx=None):
        steps = actions.reshape(*actions.shape[:2], 5, 2).sum(2) * 0.05  # (B, H, 2)
        return z_ctx[:, -1:] + steps.cumsum(1)


def frames_at(positions):
    frames = np.zeros((len(positions), 4, 4, 3), np.uint8)
    frames[:, 0, 0, :2] = np.round(np.asarray(positions) * 100)
    return frames


@pytest.mark.parametrize("repeat", [True, False])
def test_plan_moves_toward_goal_and_warm_starts(repeat):
    cfg = PlanConfig(horizon=3, samples=200, iterations=8, topk=20, repeat_actions=repeat)
    planner = MPCPlanner(PointModel(), cfg, seed=0)
    planner.reset(frames_at([[0.2, 0.2], [0.8, 0.5]]), frames_at([[0.6, 0.2], [0.8, 0.1]]))
    result = planner.plan()
    assert result.actions.shape == (2, 3, 10)
    first = result.actions[:, 0].reshape(2, 5, 2).mean(1)  # mean env action of the first block
    assert first[0, 0] > 0.5 and abs(first[0, 1]) < 0.5  # goal to the right
    assert first[1, 1] < -0.5 and abs(first[1, 0]) < 0.5  # goal below
    if repeat:  # one env action per block, repeated frameskip times
        blocks = result.actions.reshape(2, 3, 5, 2)
        assert torch.equal(blocks, blocks[:, :, :1].expand_as(blocks))
    # the next warm start is this plan shifted by one model step, padded with zeros
    searched = planner.mean
    assert torch.equal(searched[:, -1], torch.zeros_like(searched[:, -1]))


def test_plan_is_deterministic_given_seed():
    cfg = PlanConfig(horizon=2, samples=50, iterations=3, topk=5)
    outs = []
    for _ in range(2):
        planner = MPCPlanner(PointModel(), cfg, seed=7)
        planner.reset(frames_at([[0.1, 0.1]]), frames_at([[0.5, 0.5]]))
        outs.append(planner.plan().actions)
    assert torch.equal(outs[0], outs[1])


def test_plan_before_reset_raises():
    with pytest.raises(RuntimeError, match="before reset"):
        MPCPlanner(PointModel(), PlanConfig()).plan()


def test_observe_keeps_the_last_history_frames_and_the_actions_between_them():
    model = PointModel()
    model.history = 3
    planner = MPCPlanner(model, PlanConfig(horizon=2, samples=10, iterations=1, topk=2))
    planner.reset(frames_at([[0.1, 0.1]]), frames_at([[0.5, 0.5]]))
    assert planner.z_hist.shape == (1, 1, 2) and planner.a_hist.shape == (1, 0, 10)
    for k in range(1, 5):
        planner.observe(frames_at([[0.1 + 0.1 * k, 0.1]]), torch.full((1, 10), float(k)))
    # latents of frames 2, 3, 4 and the two actions that led from 2 to 3 and from 3 to 4
    assert torch.allclose(planner.z_hist[0, :, 0], torch.tensor([0.3, 0.4, 0.5]))
    assert planner.a_hist[0, :, 0].tolist() == [3.0, 4.0]
    assert planner.plan().actions.shape == (1, 2, 10)


def test_observe_rejects_nan_actions():
    planner = MPCPlanner(PointModel(), PlanConfig(horizon=2, samples=10, iterations=1, topk=2))
    planner.reset(frames_at([[0.1, 0.1]]), frames_at([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="NaN"):
        planner.observe(frames_at([[0.2, 0.1]]), torch.full((1, 10), float("nan")))


@pytest.mark.parametrize("solver", ["cem", "icem", "mppi", "gradient", "cem_gradient"])
def test_every_solver_plans_toward_the_goal(solver):
    cfg = PlanConfig(
        horizon=3, samples=64, iterations=6, topk=8, solver=solver, refine_steps=5, lr=0.2
    )
    planner = MPCPlanner(PointModel(), cfg, seed=0)
    planner.reset(frames_at([[0.2, 0.2], [0.8, 0.5]]), frames_at([[0.6, 0.2], [0.8, 0.1]]))
    with torch.inference_mode():  # gradient solvers leave inference mode for their own work
        result = planner.plan()
    first = result.actions[:, 0].reshape(2, 5, 2).mean(1)
    assert first[0, 0] > 0.5 and first[1, 1] < -0.5, (solver, first)
    assert torch.isfinite(result.actions).all()


def test_active_rows_are_planned_alone_and_keep_the_others_warm_start():
    cfg = PlanConfig(horizon=2, samples=32, iterations=3, topk=4)
    planner = MPCPlanner(PointModel(), cfg, seed=0)
    planner.reset(frames_at([[0.1, 0.1], [0.5, 0.5], [0.9, 0.9]]), frames_at([[0.5, 0.5]] * 3))
    planner.plan()
    before = planner.mean.clone()
    result = planner.plan(np.array([True, False, True]))
    assert result.actions.shape == (2, 2, 10)
    assert torch.equal(planner.mean[1], before[1])  # the inactive episode's warm start is kept
    assert not torch.equal(planner.mean[0], before[0])
    with pytest.raises(ValueError, match="active"):
        planner.plan(np.array([True, False]))


def test_icem_shifts_its_elites_into_the_next_call():
    cfg = PlanConfig(horizon=3, samples=32, iterations=2, topk=4, solver="icem", keep_elites=0.5)
    planner = MPCPlanner(PointModel(), cfg, seed=0)
    planner.reset(frames_at([[0.1, 0.1]]), frames_at([[0.5, 0.5]]))
    result = planner.plan()
    assert planner.elites.shape == (1, 2, 3, 2)  # ceil(0.5 · 4) elites, H, searched dims
    assert torch.equal(planner.elites[:, :, :2], result.elites[:, :2, 1:])
    assert (planner.elites[:, :, 2] == 0).all()


def test_chunked_rollouts_give_the_same_plan():
    outs = []
    for chunk in (0, 7):
        cfg = PlanConfig(horizon=2, samples=30, iterations=3, topk=4, chunk=chunk)
        planner = MPCPlanner(PointModel(), cfg, seed=3)
        planner.reset(frames_at([[0.1, 0.1], [0.4, 0.6]]), frames_at([[0.5, 0.5]] * 2))
        outs.append(planner.plan().actions)
    assert torch.equal(outs[0], outs[1])


class ProprioPointModel(PointModel):
    """PointModel whose 2-D latent is its proprioception: columns x, y appended last."""

    proprio, proprio_indices = ("x", "y"), (0, 1)

    def encode(self, frames, states=None):
        return super().encode(frames)


def test_proprio_weights_leave_a_column_out_of_the_cost():
    cfg = PlanConfig(horizon=2, samples=10, iterations=1, topk=2)
    weighted = PlanConfig(**{**cfg.__dict__, "proprio_weights": {"y": 0.0}})
    costs = []
    for plan_cfg in (cfg, weighted):
        planner = MPCPlanner(ProprioPointModel(), plan_cfg, seed=0)
        planner.reset(frames_at([[0.5, 0.5]]), frames_at([[0.9, 0.1]]))
        cost_fn = planner._cost_fn(planner.z_hist, planner.a_hist, planner.z_goal[:, None])
        searched = torch.zeros(1, 2, 2, 2)  # (B, S, H, A / repeat): stay, or move up in y
        searched[0, 1, :, 1] = 1.0
        costs.append(cost_fn(searched)[0])
    plain, x_only = costs
    assert torch.equal(planner.dim_weights, torch.tensor([1.0, 0.0]))
    assert plain[1] > plain[0]  # moving up leads away from the goal below...
    torch.testing.assert_close(x_only[1], x_only[0])  # ...which y's weight 0 ignores
    # x alone: the goal is 0.4 away at both steps -> 2 · 0.4² · 1 / 2 (mean over D = 2)
    torch.testing.assert_close(x_only[0], torch.tensor(0.16))


def test_proprio_weights_must_name_proprioceptive_columns():
    cfg = PlanConfig(horizon=2, samples=10, iterations=1, topk=2, proprio_weights={"vz": 0.0})
    with pytest.raises(ValueError, match=r"vz.*model.proprio: \['x', 'y'\]"):
        MPCPlanner(ProprioPointModel(), cfg)
    with pytest.raises(ValueError, match="model.proprio: none"):
        MPCPlanner(PointModel(), cfg)
    with pytest.raises(ValueError, match="finite"):
        PlanConfig(proprio_weights={"x": -1.0})


@pytest.mark.parametrize("field", ["discount", "mean_weight"])
@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf")])
def test_plan_config_refuses_a_negative_or_non_finite_cost_weight(field, value) -> None:
    with pytest.raises(ValueError, match=f"plan.{field} must be finite and ≥ 0"):
        PlanConfig(**{field: value})


class PairModel(PointModel):
    """An ensemble of two PointModels, latents side by side (x0, y0, x1, y1): member 0 moves by
    the actions, member 1 (a pessimist) the other way at half their speed."""

    latent_dim, member_dim = 4, 2
    proprio, proprio_indices = ("x", "y"), (0, 1)  # each member appends both, last

    def encode(self, frames, states=None):
        z = super().encode(frames)
        return torch.cat([z, z], dim=-1)  # (..., 4)

    def rollout(self, z_ctx, actions, a_ctx=None):
        moved = super().rollout(z_ctx[..., :2], actions)  # (B, H, 2)
        back = z_ctx[:, -1:, 2:] - 0.5 * (moved - z_ctx[:, -1:, :2])  # (B, H, 2)
        return torch.cat([moved, back], dim=-1)


# From x 0.5 to the goal at x 0.9, per-step l2 (a mean over each member's 2 dims): staying
# put is 0.4²/2 = 0.08 for both members. Moving right (+0.25 per step for member 0, −0.125 for
# member 1): member 0 at 0.75, 1.0 → 0.15²/2, 0.1²/2; member 1 at 0.375, 0.25 → 0.525²/2,
# 0.65²/2. Scored by the closest step (plan.reduce min):
MEMBER_0, MEMBER_1 = [0.15**2 / 2, 0.1**2 / 2], [0.525**2 / 2, 0.65**2 / 2]
JOINT = [(a + b) / 2 for a, b in zip(MEMBER_0, MEMBER_1, strict=True)]


@pytest.mark.parametrize(
    ("combine", "moving"),
    [
        ("joint", min(JOINT)),  # the closest step of the mean distance
        ("mean", (min(MEMBER_0) + min(MEMBER_1)) / 2),  # the mean of each one's closest step
        ("max", min(MEMBER_1)),  # the pessimist's closest step
    ],
)
def test_ensemble_cost_combines_each_members_cost(combine, moving):
    cfg = PlanConfig(
        horizon=2, samples=10, iterations=1, topk=2, reduce="min", ensemble_cost=combine
    )
    planner = MPCPlanner(PairModel(), cfg, seed=0)
    assert planner.members == 2
    planner.reset(frames_at([[0.5, 0.5]]), frames_at([[0.9, 0.5]]))
    cost_fn = planner._cost_fn(planner.z_hist, planner.a_hist, planner.z_goal[:, None])
    searched = torch.zeros(1, 2, 2, 2)  # (B, S, H, A / repeat): stay, or move right
    searched[0, 1, :, 0] = 1.0
    torch.testing.assert_close(cost_fn(searched)[0], torch.tensor([0.08, moving]))


def test_ensemble_weights_each_members_proprioception():
    cfg = PlanConfig(horizon=2, samples=10, iterations=1, topk=2, proprio_weights={"y": 0.0})
    planner = MPCPlanner(PairModel(), cfg)
    assert torch.equal(planner.dim_weights, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="ensemble_cost=max scores each member"):
        MPCPlanner(
            PairModel(),
            PlanConfig(ensemble_cost="max", drop_action_variance=0.5),
            cost_basis=torch.eye(4)[:, :2],
        )
