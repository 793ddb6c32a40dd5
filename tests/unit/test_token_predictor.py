"""The token predictor: tokens of a frame see their own and earlier frames only, proprioception
rides as one more token, and the KV-cached planner path equals the plain rollout."""

from __future__ import annotations

import pytest
import torch

from monde.config import ModelConfig
from monde.models.token_predictor import TokenPredictor, build_token_transformer

ROLL = dict(atol=1e-5, rtol=1e-5)  # as tests/unit/test_plan_rollout.py: CPU-independent


def _predictor(proprio_dim: int = 2, max_context: int = 6) -> TokenPredictor:
    torch.manual_seed(0)
    net = TokenPredictor(
        latent_dim=8 + proprio_dim, proprio_dim=proprio_dim, tokens=4, action_dim=3, dim=16,
        depth=2, heads=2, max_context=max_context,
    )  # fmt: skip
    for p in net.parameters():  # break the zero init so outputs depend on inputs
        torch.nn.init.normal_(p, std=0.3)
    return net.eval()


def test_an_untrained_predictor_says_nothing_moves():
    net = TokenPredictor(10, 2, 4, 3, 16, 1, 2, 4)
    z, a = torch.randn(2, 3, 10), torch.randn(2, 3, 3)
    torch.testing.assert_close(net(z, a), z)


@pytest.mark.parametrize("proprio_dim", [0, 2])
def test_frame_t_sees_only_frames_up_to_t(proprio_dim):
    net = _predictor(proprio_dim)
    z, a = torch.randn(1, 4, 8 + proprio_dim), torch.randn(1, 4, 3)
    out = net(z, a)
    z2, a2 = z.clone(), a.clone()
    z2[:, 2:] += 1.0  # change frames 2 and 3 and their actions
    a2[:, 2:] += 1.0
    out2 = net(z2, a2)
    torch.testing.assert_close(out2[:, :2], out[:, :2])  # frames 0, 1 unaffected
    assert not torch.allclose(out2[:, 2:], out[:, 2:])


def test_every_token_and_the_proprioception_inform_the_prediction():
    net = _predictor(2)
    z, a = torch.randn(1, 1, 10), torch.randn(1, 1, 3)
    base = net(z, a)
    for dim in (0, 3, 7, 9):  # dims of tokens 0, 1, 3 and the proprioceptive token
        moved = z.clone()
        moved[..., dim] += 1.0
        assert not torch.allclose(net(moved, a), base)


@pytest.mark.parametrize("proprio_dim", [0, 2])
@pytest.mark.parametrize("tc", [1, 3])
def test_rollout_samples_equals_rollout_on_the_repeated_context(proprio_dim, tc):
    net = _predictor(proprio_dim)
    b, s, h = 2, 3, 4
    z, a_ctx = torch.randn(b, tc, 8 + proprio_dim), torch.randn(b, tc - 1, 3)
    actions = torch.randn(b, s, h, 3)
    ref = net.rollout(
        z.repeat_interleave(s, 0), a_ctx.repeat_interleave(s, 0), actions.reshape(b * s, h, 3)
    ).reshape(b, s, h, -1)
    torch.testing.assert_close(net.rollout_samples(z, a_ctx, actions), ref, **ROLL)


def test_the_token_count_must_divide_the_image_latent():
    with pytest.raises(ValueError, match=r"model.latent_tokens 3 .* image latent's 8 dims"):
        build_token_transformer(ModelConfig(latent_dim=8, latent_tokens=3))
    assert build_token_transformer(ModelConfig(latent_dim=8)).tokens == 1  # 0: one token


def test_a_grid_latent_trains_and_plans_with_the_token_predictor(tmp_path):
    """encoder 'cnn_grid' writes g × g cell tokens; the token predictor reads them; one training
    step and one planning call run through the WorldModel."""
    import numpy as np

    from monde.config import PlanConfig
    from monde.models.world_model import WorldModel
    from monde.plan.mpc import MPCPlanner

    cfg = ModelConfig(
        image_size=16, encoder="cnn_grid", encoder_channels=(8, 8), latent_dim=16,
        latent_tokens=4, predictor="token_transformer", predictor_dim=16, frameskip=2,
    )  # fmt: skip
    model = WorldModel(cfg)
    frames = np.random.default_rng(0).integers(0, 255, (2, 3, 16, 16, 3), dtype=np.uint8)
    z = model.encode(frames)  # (B, T, D)
    assert z.shape == (2, 3, 16)
    loss = (model.predict(z[:, :-1], torch.zeros(2, 2, 4)) - z[:, 1:]).square().mean()
    loss.backward()
    assert model.encoder.readout[-1].weight.grad is not None
    planner = MPCPlanner(model.eval(), PlanConfig(horizon=2, samples=8, iterations=1, topk=2))
    planner.reset(frames[:, 0], frames[:, -1])
    assert planner.plan().actions.shape == (2, 2, 4)
    with pytest.raises(ValueError, match="must be a square"):
        WorldModel(ModelConfig(image_size=16, encoder="cnn_grid", latent_dim=12, latent_tokens=3))
