"""monde/train without a store or a run folder: the loss terms against their formulas, one
optimizer step, and the resumable state a checkpoint holds."""

import json
import math

import pytest
import torch
from torch import nn

from monde.config import ModelConfig, TrainConfig
from monde.models.checkpoint import saved_model_record
from monde.models.regularizers import sigreg
from monde.models.world_model import WorldModel
from monde.train.distributed import DistContext
from monde.train.objective import jepa_terms
from monde.train.state import load_checkpoint, save_checkpoint
from monde.train.step import TrainStep, sigreg_generator

TINY = dict(image_size=16, encoder_channels=(8, 8), latent_dim=8, predictor_dim=16)


class LinearStub(nn.Module):
    """A 'model' whose latents, predictions and rollouts are simple closed forms (D = 3, A = 2).

    encode: a frame's three pixel values / 10; predict: z + a₀; rollout: the last context
    latent plus the running sum of a₀; inverse dynamics: half the first two dims of z_t.
    """

    history = 2

    def __init__(self, inverse: bool = True):
        super().__init__()
        self.inverse_dynamics = (lambda pairs: 0.5 * pairs[..., :2]) if inverse else None

    def encode(self, frames, states=None):
        return frames.float().flatten(2) / 10  # (B, L, 1, 1, 3) → (B, L, 3)

    def predict(self, z, actions):
        return z + actions[..., :1]  # (B, L−1, D)

    def rollout(self, z_ctx, actions, a_ctx=None):
        return z_ctx[:, -1:] + actions[..., :1].cumsum(1)  # (B, L−Tc, D)


def _batch():
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 12, (2, 4, 1, 1, 3), generator=g, dtype=torch.uint8)  # (B, L, …)
    actions = torch.randint(-2, 3, (2, 3, 2), generator=g).float() / 2  # (B, L−1, A)
    return frames, actions


def test_loss_terms_are_their_formulas():
    frames, actions = _batch()
    cfg = TrainConfig(
        teacher_forcing_weight=1.5,
        rollout_weight=0.75,
        variance_weight=2.0,
        covariance_weight=0.25,
        inverse_dynamics_weight=0.5,
        time_similarity_weight=0.3,
    )
    loss, parts = jepa_terms(LinearStub(), frames, actions, cfg)

    z = frames.double().flatten(2) / 10  # (B=2, L=4, D=3), the formulas in float64
    a = actions.double()
    teacher = ((z[:, :-1] + a[..., :1] - z[:, 1:]) ** 2).mean()
    rollout = ((z[:, 1:2] + a[:, 1:, :1].cumsum(1) - z[:, 2:]) ** 2).mean()  # Tc = 2
    flat = z.reshape(8, 3)  # every row of every window
    centred = flat - flat.mean(0)
    var = (centred**2).sum(0) / 7  # unbiased
    variance = torch.relu(1 - torch.sqrt(var + 1e-4)).mean()
    cov = centred.T @ centred / 7
    covariance = ((cov**2).sum() - (cov.diagonal() ** 2).sum()) / 3
    inverse = ((0.5 * z[:, :-1, :2] - a) ** 2).mean()
    smooth = ((z[:, 1:] - z[:, :-1]) ** 2).mean()
    expected = {
        "teacher_forcing": teacher,
        "rollout": rollout,
        "variance": variance,
        "covariance": covariance,
        "inverse_dynamics": inverse,
        "time_similarity": smooth,
    }
    assert set(parts) == {*expected, "loss"}
    assert 0 < variance and 0 < covariance  # the batch is one where both terms act
    for name, value in expected.items():
        torch.testing.assert_close(parts[name].double(), value, rtol=1e-5, atol=1e-7, msg=name)
    total = 1.5 * teacher + 0.75 * rollout + 2.0 * variance + 0.25 * covariance
    total = total + 0.5 * inverse + 0.3 * smooth
    torch.testing.assert_close(loss.double(), total, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(parts["loss"], loss.detach())


def test_sigreg_replaces_vicreg_and_terms_off_are_absent():
    frames, actions = _batch()
    cfg = TrainConfig(regularizer="sigreg", sigreg_weight=0.5, time_similarity_weight=0.0)
    model = LinearStub(inverse=False)
    loss, parts = jepa_terms(model, frames, actions, cfg, torch.Generator().manual_seed(3))
    assert set(parts) == {"teacher_forcing", "rollout", "sigreg", "loss"}
    flat = model.encode(frames).reshape(8, 3)
    expected = sigreg(flat, cfg.sigreg_projections, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(parts["sigreg"], expected)
    torch.testing.assert_close(
        loss, parts["teacher_forcing"] + parts["rollout"] + 0.5 * parts["sigreg"]
    )


def test_time_contrast_is_infonce_of_the_next_step_against_steps_two_away():
    from monde.train.objective import time_contrast

    z = torch.tensor([0.0, 1.0, 3.0]).view(1, 3, 1)  # (B, L=3, D=1)
    # L = 3: only step 0 has a negative (step 2); logits −1 (step 1) and −9 (step 2)
    torch.testing.assert_close(time_contrast(z, 1.0), torch.tensor(math.log1p(math.exp(-8))))
    z = torch.tensor([0.0, 1.0, 3.0, 4.0]).view(1, 4, 1)  # L = 4: anchors 0, 1, 2 (3 is last)
    anchor_0 = math.log(1 + math.exp(-9 + 1) + math.exp(-16 + 1))  # positive d 1; d 9, 16
    anchor_1 = math.log(1 + math.exp(-9 + 4))  # positive: step 2, d 4; step 3 lies at d 9
    anchor_2 = math.log(1 + math.exp(-9 + 1))  # positive: step 3, d 1; step 0 lies at d 9
    mean = (anchor_0 + anchor_1 + anchor_2) / 3
    torch.testing.assert_close(time_contrast(z, 1.0), torch.tensor(mean), rtol=1e-5, atol=1e-7)
    # the temperature divides the logits; D averages the squared distance
    torch.testing.assert_close(
        time_contrast(z.repeat(1, 1, 2), 2.0), time_contrast(z, 2.0), rtol=1e-6, atol=1e-7
    )
    with pytest.raises(ValueError, match="≥ 3 steps"):
        time_contrast(z[:, :2], 1.0)


def test_time_contrast_enters_the_loss_with_its_weight_and_is_validated():
    from monde.train.objective import time_contrast

    frames, actions = _batch()
    off = TrainConfig(time_similarity_weight=0.0)
    on = TrainConfig(time_similarity_weight=0.0, time_contrast_weight=0.5)
    loss_off, parts_off = jepa_terms(LinearStub(), frames, actions, off)
    loss_on, parts_on = jepa_terms(LinearStub(), frames, actions, on)
    assert "time_contrast" not in parts_off
    expected = time_contrast(frames.float().flatten(2) / 10, 0.1)
    torch.testing.assert_close(parts_on["time_contrast"], expected)
    torch.testing.assert_close(loss_on, loss_off + 0.5 * expected)
    with pytest.raises(ValueError, match="rollout_steps ≥ 2"):
        TrainConfig(time_contrast_weight=1.0, rollout_steps=1)
    with pytest.raises(ValueError, match="time_contrast_temperature > 0"):
        TrainConfig(time_contrast_temperature=0.0)


def test_batch_contrast_is_infonce_of_each_prediction_against_other_windows():
    from monde.train.objective import batch_contrast

    predicted = torch.tensor([0.0, 1.0]).view(2, 1, 1)  # (B=2, T=1, D=1)
    target = torch.tensor([0.0, 3.0]).view(2, 1, 1)
    # window 0: own target at d 0, window 1's at d 9; window 1: own at d 4, window 0's at d 1
    expected = (math.log1p(math.exp(-9)) + math.log1p(math.exp(-1 + 4))) / 2
    torch.testing.assert_close(batch_contrast(predicted, target, 1.0), torch.tensor(expected))
    # steps are separate problems, averaged; D averages the squared distance; τ divides
    two_steps = torch.cat([predicted, predicted + 5], dim=1)  # (2, 2, 1): a shifted copy
    torch.testing.assert_close(
        batch_contrast(two_steps, torch.cat([target, target + 5], 1), 1.0), torch.tensor(expected)
    )
    torch.testing.assert_close(
        batch_contrast(predicted.repeat(1, 1, 3), target.repeat(1, 1, 3), 2.0),
        batch_contrast(predicted, target, 2.0),
    )
    with pytest.raises(ValueError, match="B ≥ 2"):
        batch_contrast(predicted[:1], target[:1], 1.0)


def test_batch_contrast_enters_the_loss_with_its_weight_and_is_validated():
    from monde.train.objective import batch_contrast

    frames, actions = _batch()
    off = TrainConfig(time_similarity_weight=0.0)
    on = TrainConfig(time_similarity_weight=0.0, batch_contrast_weight=0.5)
    loss_off, parts_off = jepa_terms(LinearStub(), frames, actions, off)
    loss_on, parts_on = jepa_terms(LinearStub(), frames, actions, on)
    assert "batch_contrast" not in parts_off
    z = frames.float().flatten(2) / 10  # LinearStub's latents (B, L, D)
    expected = batch_contrast(z[:, :-1] + actions[..., :1], z[:, 1:], 0.1)
    torch.testing.assert_close(parts_on["batch_contrast"], expected)
    torch.testing.assert_close(loss_on, loss_off + 0.5 * expected)
    with pytest.raises(ValueError, match="batch_contrast_temperature > 0"):
        TrainConfig(batch_contrast_temperature=0.0)


def _tiny_run(seed: int = 0):
    cfg = TrainConfig(batch_size=4, rollout_steps=2, seed=seed)
    torch.manual_seed(seed)
    model = WorldModel(ModelConfig(**TINY))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(1)
    length = model.history + cfg.rollout_steps
    frames = torch.randint(0, 256, (4, length, 16, 16, 3), generator=g, dtype=torch.uint8)
    actions = torch.rand(4, length - 1, model.cfg.action_dim, generator=g) * 2 - 1
    return model, optimizer, TrainStep(model, optimizer, cfg, DistContext()), frames, actions


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_one_step_changes_the_weights_and_repeats_exactly_with_the_seed():
    model, _, step, frames, actions = _tiny_run()
    before = _weights(model)
    metrics = step(frames, actions, 0)
    assert {"loss", "teacher_forcing", "rollout", "variance", "covariance"} <= set(metrics)
    after = _weights(model)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert "predictor" in " ".join(changed) and "encoder" in " ".join(changed)

    again, _, step2, frames2, actions2 = _tiny_run()
    assert step2(frames2, actions2, 0) == metrics
    assert all(torch.equal(after[k], v) for k, v in _weights(again).items())


def test_a_non_finite_loss_takes_no_step():
    model, _, step, frames, actions = _tiny_run()
    before = _weights(model)
    metrics = step(frames, torch.full_like(actions, float("nan")), 0)
    assert metrics["loss"] != metrics["loss"]  # NaN
    assert all(torch.equal(before[k], v) for k, v in _weights(model).items())


def test_sigreg_directions_depend_on_seed_step_and_micro_batch_only():
    cfg = TrainConfig(seed=2, grad_accum_steps=2, batch_size=4)
    cpu = torch.device("cpu")

    def draw(gen: torch.Generator) -> torch.Tensor:
        return torch.rand(3, generator=gen)

    same, later = sigreg_generator(cfg, 5, 1, cpu), sigreg_generator(cfg, 6, 1, cpu)
    assert torch.equal(draw(sigreg_generator(cfg, 5, 1, cpu)), draw(same))
    assert not torch.equal(draw(sigreg_generator(cfg, 5, 1, cpu)), draw(later))
    assert sigreg_generator(cfg, 5, 1, cpu).initial_seed() == 2 * 1_000_003 + 5 * 2 + 1


def test_checkpoint_restores_weights_moments_and_step(tmp_path):
    model, optimizer, step, frames, actions = _tiny_run()
    step(frames, actions, 0)  # AdamW now holds moments
    path = save_checkpoint(tmp_path / "checkpoints", 7, model, optimizer)
    assert path.name == "step-000000007"
    assert saved_model_record(path) == {"path": str(path), "train_step": 7}

    other, other_opt, other_step, _, _ = _tiny_run(seed=1)  # other weights, no moments
    assert load_checkpoint(path, other, other_opt) == 7
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in model.state_dict().items())
    saved, loaded = optimizer.state_dict(), other_opt.state_dict()
    # hyperparameters as the JSON file stores them (betas come back as a list)
    assert json.loads(json.dumps(saved["param_groups"])) == loaded["param_groups"]
    for i, moments in saved["state"].items():
        for name, value in moments.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(loaded["state"][i][name]))
    # the restored run's next step is the uninterrupted run's next step
    assert other_step(frames, actions, 1) == step(frames, actions, 1)
    assert all(torch.equal(v, other.state_dict()[k]) for k, v in model.state_dict().items())


def test_load_checkpoint_refuses_another_model(tmp_path):
    model, optimizer, _, _, _ = _tiny_run()
    path = save_checkpoint(tmp_path / "checkpoints", 1, model, optimizer)
    wider = WorldModel(ModelConfig(**{**TINY, "latent_dim": 12}))
    with pytest.raises(ValueError):
        load_checkpoint(path, wider, torch.optim.AdamW(wider.parameters()))
