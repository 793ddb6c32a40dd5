import numpy as np
import pytest
import torch

from monde.config import ModelConfig
from monde.models.checkpoint import load_model, save_model
from monde.models.world_model import WorldModel, WorldModelProtocol

TINY = dict(image_size=16, encoder_channels=(8, 8), latent_dim=8, predictor_dim=16)


@pytest.mark.parametrize("predictor", ["mlp", "gru", "transformer"])
def test_predictor_is_causal_and_rollout_matches_teacher_forcing(predictor):
    torch.manual_seed(0)
    model = WorldModel(ModelConfig(predictor=predictor, predictor_depth=2, **TINY)).eval()
    for p in model.predictor.parameters():  # break the zero init so outputs depend on inputs
        torch.nn.init.normal_(p, std=0.3)
    z = torch.randn(2, 5, 8)
    a = torch.randn(2, 5, model.action_dim)
    out = model.predict(z, a)
    z2, a2 = z.clone(), a.clone()
    z2[:, 3:] += 1.0
    a2[:, 3:] += 1.0
    out2 = model.predict(z2, a2)
    assert torch.allclose(out[:, :3], out2[:, :3], atol=1e-6)  # the future does not leak back
    assert not torch.allclose(out[:, 3:], out2[:, 3:])
    # a one-step rollout from a 3-frame context equals teacher forcing at t = 2
    one = model.rollout(z[:, :3], a[:, 2:3], a_ctx=a[:, :2])
    assert torch.allclose(one[:, 0], out[:, 2], atol=1e-5)


def test_encode_shapes_and_protocol():
    model = WorldModel(ModelConfig(**TINY))
    assert isinstance(model, WorldModelProtocol)
    frames = np.zeros((2, 3, 16, 16, 3), np.uint8)
    assert model.encode(frames).shape == (2, 3, 8)
    assert model.encode(frames[:, 0]).shape == (2, 8)
    with pytest.raises(ValueError, match=r"\(\.\.\., 16, 16, 3\)"):
        model.encode(np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        model.encode(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="frameskip"):
        model.rollout(torch.zeros(2, 1, 8), torch.zeros(2, 3, 4))


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    model = WorldModel(ModelConfig(**TINY))
    save_model(model, tmp_path / "a")
    loaded = load_model(tmp_path / "a")
    frames = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    with torch.no_grad():
        assert torch.equal(model.encode(frames), loaded.encode(frames))
    other = WorldModel(ModelConfig(**{**TINY, "latent_dim": 12}))
    save_model(other, tmp_path / "b")
    (tmp_path / "a" / "model.safetensors").write_bytes(
        (tmp_path / "b" / "model.safetensors").read_bytes()
    )
    with pytest.raises(ValueError, match=r"model\.safetensors: tensor .* has shape"):
        load_model(tmp_path / "a")
