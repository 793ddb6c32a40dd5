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
