"""The visualisation decoder: shapes, learning on frozen latents, save/load."""

import numpy as np
import pytest
import torch

from monde.models.decoder import (
    DecoderConfig,
    LatentDecoder,
    load_decoder,
    save_decoder,
    train_decoder,
)


def _toy(n: int = 64, size: int = 16):
    """Frames with one bright square whose column is the latent's first coordinate."""
    g = np.random.default_rng(0)
    cols = g.integers(0, size - 4, n)
    frames = np.zeros((n, size, size, 3), np.uint8)
    for i, c in enumerate(cols):
        frames[i, 6:10, c : c + 4] = 255
    latents = torch.from_numpy(np.stack([cols / size, np.ones(n)], 1)).float()
    return latents, frames


def test_decode_shapes_and_dtype():
    dec = LatentDecoder(DecoderConfig(latent_dim=5, image_size=24, internal_size=16))
    out = dec.decode(torch.randn(2, 3, 5))
    assert out.shape == (2, 3, 24, 24, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="≥ 8"):
        LatentDecoder(DecoderConfig(image_size=4))


def test_training_lowers_the_loss_and_is_deterministic():
    latents, frames = _toy()
    cfg = DecoderConfig(latent_dim=2, image_size=16, width=16, internal_size=16)
    dec, losses = train_decoder(latents, frames, cfg, steps=80, batch_size=32, lr=5e-3, seed=1,
                                progress=False)  # fmt: skip
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    again, _ = train_decoder(latents, frames, cfg, steps=80, batch_size=32, lr=5e-3, seed=1,
                             progress=False)  # fmt: skip
    assert np.array_equal(dec.decode(latents[:4]), again.decode(latents[:4]))
    with pytest.raises(ValueError, match="3 latents for 2 frames"):
        train_decoder(latents[:3], frames[:2], cfg, steps=1, progress=False)


def test_save_load_round_trip_and_errors(tmp_path):
    cfg = DecoderConfig(latent_dim=4, image_size=16, internal_size=16)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        dec = LatentDecoder(cfg)
    save_decoder(dec, tmp_path / "d", {"model_sha256": "abc"})
    loaded, info = load_decoder(tmp_path / "d")
    z = torch.randn(3, 4)
    assert info == {"model_sha256": "abc"}
    assert np.array_equal(dec.decode(z), loaded.decode(z))
    other = LatentDecoder(DecoderConfig(latent_dim=8, image_size=16, internal_size=16))
    save_decoder(other, tmp_path / "e")
    (tmp_path / "e" / "decoder.json").write_text((tmp_path / "d" / "decoder.json").read_text())
    with pytest.raises(ValueError, match="decoder.safetensors: tensors"):
        load_decoder(tmp_path / "e")
