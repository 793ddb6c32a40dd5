"""The planner's fast rollout path: rollout_samples equals rollout on a repeated context."""

import numpy as np
import pytest
import torch

from monde.config import ModelConfig, PlanConfig
from monde.models.world_model import WorldModel
from monde.plan.mpc import MPCPlanner, rollout_samples

TINY = dict(image_size=16, encoder_channels=(8, 8), latent_dim=8, predictor_dim=16)
# rollout_samples and rollout do the same float32 arithmetic on differently shaped batches, so
# matrix-product kernels (which differ between AVX2, AVX-512 and GPUs) may add in another
# order; the difference grows with the horizon through the untrained, large-weight predictor.
# Measured ≤ 2e-7 of the values' size (4.8e-6 on values up to 28); ROLL = 1e-5 relative and
# absolute allows ~80 float32 ulps per value, whatever the CPU.
ROLL = dict(atol=1e-5, rtol=1e-5)


def _model(predictor: str, depth: int, **kw) -> WorldModel:
    torch.manual_seed(0)
    model = WorldModel(ModelConfig(predictor=predictor, predictor_depth=depth, **TINY, **kw))
    for p in model.predictor.parameters():  # break the zero init so outputs depend on inputs
        torch.nn.init.normal_(p, std=0.3)
    return model.eval()


@pytest.mark.parametrize("predictor", ["mlp", "gru", "transformer", "token_transformer"])
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("tc", [1, 3])
def test_rollout_samples_equals_rollout_on_the_repeated_context(predictor, depth, tc):
    model = _model(predictor, depth, max_context=6, latent_tokens=4)
    b, s, h = 2, 5, 4  # tc + h − 1 = 6 fits max_context: the transformer uses its KV cache
    z = torch.randn(b, tc, 8)
    a_ctx = torch.randn(b, tc - 1, model.action_dim)
    actions = torch.randn(b, s, h, model.action_dim)
    ref = model.rollout(
        z.repeat_interleave(s, 0), actions.reshape(b * s, h, -1), a_ctx.repeat_interleave(s, 0)
    ).reshape(b, s, h, -1)
    out = model.rollout_samples(z, actions, a_ctx)
    assert out.shape == (b, s, h, 8)
    torch.testing.assert_close(out, ref, **ROLL)


def test_transformer_beyond_max_context_falls_back_to_the_sliding_window():
    model = _model("transformer", 1, max_context=3)
    z, a_ctx = torch.randn(1, 2, 8), torch.randn(1, 1, model.action_dim)
    actions = torch.randn(1, 4, 5, model.action_dim)  # 2 + 5 − 1 tokens > 3: the window slides
    ref = model.rollout(z.repeat_interleave(4, 0), actions[0], a_ctx.repeat_interleave(4, 0))
    torch.testing.assert_close(model.rollout_samples(z, actions, a_ctx)[0], ref, **ROLL)


def test_rollout_samples_is_differentiable_and_checks_shapes():
    model = _model("gru", 1)
    actions = torch.zeros(1, 3, 2, model.action_dim, requires_grad=True)
    model.rollout_samples(torch.randn(1, 1, 8), actions).sum().backward()
    assert actions.grad is not None and actions.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="frameskip"):
        model.rollout_samples(torch.zeros(1, 1, 8), torch.zeros(1, 3, 2, 4))
    with pytest.raises(ValueError, match=r"\(B=1, S, H>=1, A\)"):
        model.predictor.rollout_samples(torch.zeros(1, 1, 8), None, torch.zeros(1, 2, 10))


def test_protocol_models_without_rollout_samples_use_the_repeated_rollout():
    class Wrapped:  # only the protocol's rollout
        def __init__(self, inner):
            self.inner = inner

        def rollout(self, z_ctx, actions, a_ctx=None):
            return self.inner.rollout(z_ctx, actions, a_ctx=a_ctx)

    model = _model("gru", 1)
    z, actions = torch.randn(2, 1, 8), torch.randn(2, 3, 4, model.action_dim)
    a_ctx = torch.zeros(2, 0, model.action_dim)
    fast = model.rollout_samples(z, actions)
    torch.testing.assert_close(rollout_samples(Wrapped(model), z, actions, a_ctx), fast, **ROLL)


@pytest.mark.parametrize("solver", ["cem", "gradient"])
@pytest.mark.parametrize("bf16", [False, True])
def test_planner_with_a_real_model_returns_finite_bounded_actions(solver, bf16):
    model = _model("gru", 1)
    frames = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    cfg = PlanConfig(horizon=3, samples=16, iterations=2, topk=4, solver=solver, bf16=bf16)
    planner = MPCPlanner(model, cfg, seed=0)
    planner.reset(frames, frames[::-1].copy())
    actions = planner.plan().actions
    assert actions.shape == (2, 3, model.action_dim)
    assert torch.isfinite(actions).all() and (actions.abs() <= 1).all()
    assert all(p.grad is None for p in model.parameters())
