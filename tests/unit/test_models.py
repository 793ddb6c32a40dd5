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


def proprio_model(**extra) -> WorldModel:
    cfg = ModelConfig(**TINY, proprio=["y", "x"], **extra)
    cfg.resolve_proprio(["x", "y", "wall"], "test data")
    return WorldModel(cfg)


def test_proprio_columns_resolve_by_name_and_unknown_names_are_named():
    model = proprio_model()
    with pytest.raises(ValueError, match="must exceed"):
        ModelConfig(**{**TINY, "latent_dim": 2}, proprio=["x", "y"])
    assert model.cfg.proprio_indices == [1, 0]
    cfg = ModelConfig(**TINY, proprio=["elbow"])
    with pytest.raises(ValueError, match=r"store\.zarr: model\.proprio names \['elbow'\]"):
        cfg.resolve_proprio(["x", "y"], "store.zarr")
    with pytest.raises(ValueError, match="resolve them"):
        WorldModel(ModelConfig(**TINY, proprio=["x"]))  # indices never resolved


def test_proprio_is_fused_normalised_and_required():
    torch.manual_seed(0)
    model = proprio_model().eval()
    states = np.array([[[1.0, 2.0, 7.0], [3.0, 6.0, 7.0]]], np.float32)  # (B=1, T=2, S=3)
    model.set_proprio_stats(states[0])
    # normalised by the training rows' mean and std, columns in `proprio` order (y, x)
    assert torch.allclose(model.proprio_mean, torch.tensor([4.0, 2.0]))
    assert torch.allclose(model.proprio_std, torch.tensor([2.0, 1.0]).mul(2**0.5))
    frames = np.zeros((1, 2, 16, 16, 3), np.uint8)
    with torch.no_grad():
        z = model.encode(frames, states)
        assert z.shape == (1, 2, 8)
        assert not torch.allclose(z[0, 0], z[0, 1])  # same pixels, other proprioception
        # the last P latent dims are the normalised columns (y, x): training cannot drop them
        expected = (torch.tensor([[2.0, 1.0], [6.0, 3.0]]) - torch.tensor([4.0, 2.0])) / (
            torch.tensor([2.0, 1.0]) * 2**0.5
        )
        assert torch.allclose(z[0, :, -2:], expected)
        assert torch.equal(z[0, 0, :-2], z[0, 1, :-2])  # the image part sees the same pixels
        moved_wall = states.copy()
        moved_wall[..., 2] = -5.0  # a column the model does not read
        assert torch.equal(model.encode(frames, moved_wall), z)
    with pytest.raises(ValueError, match="pass the states"):
        model.encode(frames)
    with pytest.raises(ValueError, match="do not match frames"):
        model.encode(frames, states[:, :1])
    with pytest.raises(ValueError, match="NaN"):
        model.encode(frames, np.full_like(states, np.nan))


def test_proprio_checkpoint_round_trip(tmp_path):
    model = proprio_model()
    model.set_proprio_stats(np.random.default_rng(0).normal(size=(50, 3)))
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.cfg.proprio == ["y", "x"] and loaded.cfg.proprio_indices == [1, 0]
    frames = np.random.default_rng(1).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    states = np.random.default_rng(2).normal(size=(2, 3)).astype(np.float32)
    with torch.no_grad():
        assert torch.equal(model.encode(frames, states), loaded.encode(frames, states))
