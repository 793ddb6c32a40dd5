"""The planning cost that leaves out what the action moves: covariance, basis, planner, config."""

import numpy as np
import pytest
import torch

from monde.config import PlanConfig
from monde.plan.action_subspace import action_driven_covariance, cost_basis
from monde.plan.mpc import MPCPlanner, latent_weights


class AgentAndBlockModel:
    """Latent (agent x, agent y, block): each env action moves the agent by 0.05·a; the block
    (the third dim) moves only with the agent's x when the agent stands at x > 0.5."""

    history, frameskip, action_dim = 1, 5, 10
    image_size, in_channels, latent_dim = 4, 3, 3
    proprio: tuple[str, ...] = ()
    proprio_indices: tuple[int, ...] = ()

    def encode(self, frames):
        frames = torch.as_tensor(np.asarray(frames))
        return frames[..., 0, 0, :3].float() / 100.0  # (..., 3)

    def rollout(self, z_ctx, actions, a_ctx=None):
        steps = actions.reshape(*actions.shape[:2], 5, 2).sum(2) * 0.05  # (B, H, 2)
        agent = z_ctx[:, -1:, :2] + steps.cumsum(1)  # (B, H, 2)
        pushing = (z_ctx[:, -1:, :1] > 0.5).float()  # (B, 1, 1)
        block = z_ctx[:, -1:, 2:] + pushing * steps[..., :1].cumsum(1)  # (B, H, 1)
        return torch.cat([agent, block], dim=-1)


def frames_at(latents):
    frames = np.zeros((len(latents), 4, 4, 3), np.uint8)
    frames[:, 0, 0, :3] = np.round(np.asarray(latents) * 100)
    return frames


def test_cost_basis_drops_the_leading_directions_holding_the_fraction():
    cov = torch.diag(torch.tensor([5.0, 3.0, 1.0, 1.0]))
    basis, summary = cost_basis(cov, 0.5)  # 5 of 10 is already half
    assert summary == {"kept": 3, "dropped": 1, "dropped_variance": pytest.approx(0.5)}
    torch.testing.assert_close(basis @ basis.T, torch.diag(torch.tensor([0.0, 1.0, 1.0, 1.0])))
    basis, summary = cost_basis(cov, 0.6)  # 5 + 3 of 10
    assert summary == {"kept": 2, "dropped": 2, "dropped_variance": pytest.approx(0.8)}
    torch.testing.assert_close(basis @ basis.T, torch.diag(torch.tensor([0.0, 0.0, 1.0, 1.0])))
    basis, summary = cost_basis(cov, 0.0)
    assert summary["kept"] == 4
    torch.testing.assert_close(basis @ basis.T, torch.eye(4))
    # the basis is orthonormal in a rotated frame too
    rotation = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)))[0]
    basis, _ = cost_basis(rotation @ cov @ rotation.T, 0.5)
    torch.testing.assert_close(basis.T @ basis, torch.eye(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(basis.T @ rotation[:, 0], torch.zeros(3), atol=1e-5, rtol=0)


def test_cost_basis_keeps_one_direction_and_refuses_bad_input():
    _, summary = cost_basis(torch.diag(torch.tensor([1.0, 0.0])), 0.99)
    assert summary == {"kept": 1, "dropped": 1, "dropped_variance": pytest.approx(1.0)}
    with pytest.raises(ValueError, match=r"drop_fraction must be in \[0, 1\)"):
        cost_basis(torch.eye(2), 1.0)
    with pytest.raises(ValueError, match=r"\(D, D\)"):
        cost_basis(torch.ones(2, 3), 0.5)


def test_action_driven_covariance_measures_what_the_action_moves():
    model = AgentAndBlockModel()
    latents = torch.rand(512, 3, generator=torch.Generator().manual_seed(1)) * 0.4  # x < 0.5
    cov = action_driven_covariance(model, latents, actions_per_latent=16, repeat=5)
    assert cov.shape == (3, 3) and cov.dtype == torch.float64
    # one env action a ~ U[−1, 1]² repeated 5 times moves the agent 0.25·a: variance 0.25² / 3,
    # times (M − 1) / M as each latent's M = 16 predictions are centred on their own mean
    expected = 0.25**2 / 3 * 15 / 16
    torch.testing.assert_close(
        cov[:2, :2].diagonal(), torch.full((2,), expected, dtype=torch.float64), rtol=0.06, atol=0
    )
    assert abs(float(cov[0, 1])) < 0.1 * expected  # the two action dims are independent
    # the block never moves: zero up to the rounding of a mean of 16 equal numbers
    assert float(cov[2].abs().max()) < 1e-12 and float(cov[:, 2].abs().max()) < 1e-12
    basis, summary = cost_basis(cov, 0.9)
    assert summary["dropped"] == 2
    torch.testing.assert_close(basis.abs(), torch.tensor([[0.0], [0.0], [1.0]]))
    # deterministic for a seed
    again = action_driven_covariance(model, latents, actions_per_latent=16, repeat=5)
    assert torch.equal(cov, again)


def test_action_driven_covariance_refuses_bad_shapes():
    model = AgentAndBlockModel()
    with pytest.raises(ValueError, match=r"latents must be \(N, 3\)"):
        action_driven_covariance(model, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="repeat 3 must divide"):
        action_driven_covariance(model, torch.zeros(4, 3), repeat=3)


def test_planner_with_the_basis_ignores_the_agent_and_moves_the_block():
    cfg = PlanConfig(horizon=2, samples=10, iterations=1, topk=2)
    block_only = torch.tensor([[0.0], [0.0], [1.0]])  # (D, K): the block's direction
    start, goal = [[0.6, 0.5, 0.3]], [[0.2, 0.9, 0.5]]  # goal: block +0.2, agent far left
    costs = []
    for basis in (None, block_only):
        planner = MPCPlanner(AgentAndBlockModel(), cfg, seed=0, cost_basis=basis)
        planner.reset(frames_at(start), frames_at(goal))
        cost_fn = planner._cost_fn(planner.z_hist, planner.a_hist, planner.z_goal[:, None])
        searched = torch.zeros(1, 2, 2, 2)  # (B, S, H, A / repeat): stay, or push right
        searched[0, 1, :, 0] = 0.4
        costs.append(cost_fn(searched)[0])
    whole, block = costs
    assert whole[1] > whole[0]  # the whole latent: pushing right moves away from the agent's goal
    assert block[1] < block[0]  # the block's direction: pushing right brings the block closer
    # block at 0.3 → goal 0.5: staying costs 2 · 0.2² = 0.08; pushing 0.1 per step 0.1² + 0
    torch.testing.assert_close(block, torch.tensor([0.08, 0.01]))


def test_the_basis_applies_after_the_dimension_weights():
    cfg = PlanConfig(horizon=1, samples=2, iterations=1, topk=1, image_weight=4.0)
    model = ImageAndProprioModel()
    basis = torch.tensor([[1.0], [0.0], [1.0]]) / 2**0.5  # (D, K): (x + block) / √2
    planner = MPCPlanner(model, cfg, seed=0, cost_basis=basis)
    planner.reset(frames_at([[0.2, 0.5, 0.3]]), frames_at([[0.6, 0.5, 0.1]]), np.zeros((1, 1)))
    cost_fn = planner._cost_fn(planner.z_hist, planner.a_hist, planner.z_goal[:, None])
    cost = cost_fn(torch.zeros(1, 1, 1, 2))[0, 0]  # stay: d = (−0.4, 0, 0.2)
    # weights (4, 4, 1) as √w: (−0.8, 0, 0.2), then onto the basis: −0.6 / √2, squared: 0.18
    torch.testing.assert_close(cost, torch.tensor(0.18))


def test_planner_refuses_a_missing_or_misshapen_basis():
    with pytest.raises(ValueError, match="drop_action_variance needs the cost basis"):
        MPCPlanner(AgentAndBlockModel(), PlanConfig(drop_action_variance=0.5))
    with pytest.raises(ValueError, match=r"cost_basis must be \(D, K\) with D = 3"):
        MPCPlanner(AgentAndBlockModel(), PlanConfig(), cost_basis=torch.ones(2, 1))


class ImageAndProprioModel(AgentAndBlockModel):
    """The same latent read as two image dims and one proprioceptive column, `z`."""

    proprio, proprio_indices = ("z",), (0,)

    def encode(self, frames, states=None):
        return super().encode(frames)


def test_image_weight_weighs_the_image_latent():
    model = ImageAndProprioModel()
    assert latent_weights(model, {}, 1.0) is None
    assert torch.equal(latent_weights(model, {}, 0.0), torch.tensor([0.0, 0.0, 1.0]))
    assert torch.equal(latent_weights(model, {"z": 3.0}, 0.5), torch.tensor([0.5, 0.5, 3.0]))
    all_proprio = type("AllProprio", (AgentAndBlockModel,), {"proprio": ("a", "b", "c")})()
    with pytest.raises(ValueError, match="no image part"):
        latent_weights(all_proprio, {}, 0.0)


def test_plan_config_refuses_bad_cost_settings():
    with pytest.raises(ValueError, match="image_weight must be finite"):
        PlanConfig(image_weight=-1.0)
    with pytest.raises(ValueError, match=r"drop_action_variance must be in \[0, 1\)"):
        PlanConfig(drop_action_variance=1.0)
    with pytest.raises(ValueError, match="metric_episodes"):
        PlanConfig(metric_episodes=0)
