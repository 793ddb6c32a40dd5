"""Open-loop rollout error: model-rate views, rollout windows, exact error values."""

import math

import numpy as np
import torch

from monde.config import ModelConfig
from monde.envs.registry import ENV_REGISTRY
from monde.eval.rollout_error import (
    Rollouts,
    collect_rollouts,
    latent_scale,
    model_steps,
    rollout_error,
    state_error,
)
from monde.models.world_model import WorldModel
from monde.types import Episode


def _episode(steps: int = 12, size: int = 16) -> Episode:
    g = np.random.default_rng(0)
    return Episode(
        frames=g.integers(0, 255, (steps + 1, size, size, 3), dtype=np.uint8),
        actions=np.arange(steps * 2, dtype=np.float32).reshape(steps, 2),
        states=np.arange(steps + 1, dtype=np.float32)[:, None].repeat(4, 1),
    )


def test_model_steps_view():
    frames, actions, states = model_steps(_episode(12), frameskip=5)
    assert frames.shape[0] == 3 and states[:, 0].tolist() == [0, 5, 10]
    assert actions.shape == (2, 10) and actions[1, :2].tolist() == [10, 11]


def test_latent_scale_exact():
    z = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert latent_scale(z) == 1.0


def test_rollout_error_exact_values():
    z_true = torch.zeros(2, 3, 1)  # W=2, C=1, H=2, D=1
    z_pred = torch.tensor([[[1.0], [2.0]], [[3.0], [0.0]]])
    states = torch.zeros(2, 3, 2)
    r = Rollouts(z_true, z_pred, states, torch.zeros(2), torch.zeros(2), context=1)
    probe = lambda z: z.double().repeat(1, 1, 2)  # noqa: E731  state = (z, z)
    out = rollout_error(r, 2.0, probe, ("agent_x", "agent_y"), ENV_REGISTRY["two_room"].position)
    assert out["steps"] == [1, 2] and out["latent"] == [(1 + 9) / 4, (4 + 0) / 4]
    assert np.allclose(out["state_rmse"]["agent_x"], [np.sqrt(5), np.sqrt(2)])
    assert np.allclose(out["agent_position_error"], [(np.sqrt(2) + 3 * np.sqrt(2)) / 2, np.sqrt(2)])


def test_collect_rollouts_windows_and_shapes():
    cfg = ModelConfig(image_size=16, encoder_channels=[4, 8], latent_dim=6, predictor_dim=8,
                      frameskip=2, history=2, predictor="gru")  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = WorldModel(cfg).eval()
    r = collect_rollouts(model, [_episode(12), _episode(12)], horizon=3, progress=False)
    # 7 model-step frames, windows of C+H = 5 → 3 starts per episode
    assert r.z_true.shape == (6, 5, 6) and r.z_pred.shape == (6, 3, 6)
    assert r.start.tolist() == [0, 1, 2, 0, 1, 2] and r.episode.tolist() == [0, 0, 0, 1, 1, 1]
    assert r.states[1, :, 0].tolist() == [2, 4, 6, 8, 10]


def test_rollout_error_wrong_side_of_the_wall():
    z_true = torch.zeros(2, 2, 1)  # W=2, C=1, H=1
    z_pred = torch.tensor([[[0.2]], [[0.7]]])  # probe: agent_x = z
    states = torch.tensor([[[0.0, 0.5], [0.3, 0.5]], [[0.0, 0.5], [0.4, 0.5]]])  # x, wall_x
    r = Rollouts(z_true, z_pred, states, torch.zeros(2), torch.zeros(2), context=1)
    probe = lambda z: torch.cat([z, torch.full_like(z, 0.5)], -1).double()  # noqa: E731
    out = rollout_error(r, 1.0, probe, ("agent_x", "wall_x"), (), ENV_REGISTRY["two_room"].wall)
    assert out["agent_wrong_side_fraction"] == [0.5]  # window 1: predicted 0.7, truth 0.4
    assert np.allclose(out["agent_x_sq_error_share_wrong_side"], [0.09 / (0.01 + 0.09)])
    # the columns come from the env's registry entry, not from the state names alone
    plain = rollout_error(r, 1.0, probe, ("agent_x", "wall_x"))
    assert "agent_wrong_side_fraction" not in plain and "agent_position_error" not in plain


def test_state_error_wraps_angle_differences():
    pred = torch.tensor([[3.0, 3.1], [1.0, -3.1]], dtype=torch.float64)  # x, block_angle
    truth = torch.tensor([[1.0, -3.1], [2.0, 3.1]], dtype=torch.float64)
    err = state_error(pred, truth, ["x", "block_angle"])
    gap = 6.2 - 2 * math.pi  # 3.1 − (−3.1) = 6.2 rad is −0.083 rad around the circle
    expected = torch.tensor([[2.0, gap], [-1.0, -gap]], dtype=torch.float64)
    torch.testing.assert_close(err, expected)


def test_report_rollout_table_names_the_agent_column_of_the_results():
    from monde.report.build import rollout_table

    err = {
        "steps": [1],
        "latent": [0.5],
        "agent_position_error": [0.1],
        "agent_wrong_side_fraction": [0.25],
        "agent_x_sq_error_share_wrong_side": [0.5],
    }
    head, _, row = rollout_table(err, frameskip=5).splitlines()
    assert head.endswith("| its share of agent_x SS |")
    assert row == "| 1 | 5 | 0.500 | 0.100 | 25.0 % | 50 % |"


def test_report_rollout_table_puts_the_training_error_beside_the_held_out_one():
    from monde.report.build import rollout_table

    err = {"steps": [1, 2], "latent": [0.5, 0.9], "latent_train": [0.25, 0.3]}
    head, _, first, second = rollout_table(err, frameskip=5).splitlines()
    assert head.endswith("| latent error, training episodes |")
    assert first == "| 1 | 5 | 0.500 | – | 0.250 |"
    assert second == "| 2 | 10 | 0.900 | – | 0.300 |"
