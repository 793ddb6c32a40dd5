"""The visualisation decoder: shapes, learning on frozen latents, save/load, held-out PSNR."""

import json
import math

import numpy as np
import pytest
import torch

from monde.envs.two_room import TwoRoom, TwoRoomConfig
from monde.models.decoder import (
    DecoderConfig,
    LatentDecoder,
    load_decoder,
    psnr_db,
    reconstruction_quality,
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


def _two_room(n: int, seed: int, size: int = 32):
    """TwoRoom frames (fixed wall, black floor, red agent) and 8-d latents that are a fixed
    linear map of the agent position: what a world model's encoder gives, minus its errors."""
    env = TwoRoom(1, TwoRoomConfig(image_size=size, agent_radius=0.08))
    xy = np.random.default_rng(seed).uniform(0.1, 0.9, (n, 2))  # (n, 2) agent positions
    states = np.concatenate([xy, np.full((n, 2), 0.5)], 1)  # (n, 4): x, y, wall_x, door_y
    proj = np.random.default_rng(99).normal(size=(2, 8))
    return torch.from_numpy(xy @ proj).float(), env.render_states(states)


def test_decode_shapes_and_dtype():
    dec = LatentDecoder(DecoderConfig(latent_dim=5, image_size=24))
    out = dec.decode(torch.randn(2, 3, 5))
    assert out.shape == (2, 3, 24, 24, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="≥ 8"):
        LatentDecoder(DecoderConfig(image_size=4))


def test_an_untrained_decoder_draws_the_mean_frame():
    """The residual's last layer starts at zero: step 0 shows the static scene, not black."""
    dec = LatentDecoder(DecoderConfig(latent_dim=3, image_size=8))
    dec.mean_frame.fill_(102 / 255)
    assert np.all(dec.decode(torch.randn(4, 3)) == 102)


def test_training_lowers_the_loss_and_is_deterministic():
    latents, frames = _toy()
    cfg = DecoderConfig(latent_dim=2, image_size=16, width=16)
    dec, losses = train_decoder(latents, frames, cfg, steps=80, batch_size=32, lr=5e-3, seed=1,
                                progress=False)  # fmt: skip
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    again, _ = train_decoder(latents, frames, cfg, steps=80, batch_size=32, lr=5e-3, seed=1,
                             progress=False)  # fmt: skip
    assert np.array_equal(dec.decode(latents[:4]), again.decode(latents[:4]))
    with pytest.raises(ValueError, match="3 latents for 2 frames"):
        train_decoder(latents[:3], frames[:2], cfg, steps=1, progress=False)
    with pytest.raises(ValueError, match="frames are"):
        train_decoder(latents, frames[:, :8, :8], cfg, steps=1, progress=False)


def test_decoder_draws_the_moving_agent_on_two_room_frames():
    """Issue 19: the decoder collapsed to black frames on TwoRoom (mostly black floor).

    On held-out frames it must draw the agent: its PSNR over the moving pixels (where a frame
    differs from the mean frame) must beat, by a wide margin, what the mean frame and an
    all-black image score there (~5 dB), and over all pixels it must beat the all-black image.
    The sigmoid decoder it replaces scored 8 dB on the moving pixels here, below black overall.
    """
    latents, frames = _two_room(512, seed=0)
    test_z, test_frames = _two_room(256, seed=1)
    cfg = DecoderConfig(latent_dim=8, image_size=32)
    dec, _ = train_decoder(latents, frames, cfg, steps=200, batch_size=32, progress=False)
    q = reconstruction_quality(dec, test_z, test_frames)
    assert q["moving_psnr_db_mean_frame"] < 7 and q["moving_psnr_db_black"] < 7
    assert q["moving_psnr_db"] > q["moving_psnr_db_mean_frame"] + 10
    assert q["psnr_db"] > q["psnr_db_black"] + 3
    shown = dec.decode(test_z[:16])
    agent = (shown[..., 0] > 150) & (shown[..., 1] < 100)  # (16, Hp, Wp): red pixels drawn
    assert agent.any(axis=(1, 2)).all()  # every frame shows a red agent


def test_latent_scale_does_not_matter():
    """Latents are centred and RMS-scaled inside the decoder: any encoder's scale decodes."""
    latents, frames = _two_room(128, seed=0)
    cfg = DecoderConfig(latent_dim=8, image_size=32)
    a, _ = train_decoder(latents, frames, cfg, steps=20, batch_size=16, progress=False)
    b, _ = train_decoder(latents * 1000 + 5, frames, cfg, steps=20, batch_size=16, progress=False)
    diff = np.abs(a.decode(latents[:8]).astype(int) - b.decode(latents[:8] * 1000 + 5))
    assert diff.max() <= 2


def test_psnr_values():
    assert psnr_db(0.01) == pytest.approx(20.0)
    assert psnr_db(1.0) == 0.0 and psnr_db(0.0) == math.inf


def test_reconstruction_quality_exact():
    """An untrained decoder draws its mean frame (grey 102); one frame has one white pixel."""
    dec = LatentDecoder(DecoderConfig(latent_dim=2, image_size=8))
    dec.mean_frame.fill_(102 / 255)
    frames = np.full((2, 8, 8, 3), 102, np.uint8)
    frames[1, 3, 4] = 255
    q = reconstruction_quality(dec, torch.zeros(2, 2), frames)
    miss = (153 / 255) ** 2  # squared error of the white pixel, per channel
    assert q["frames"] == 2 and q["moving_pixel_fraction"] == pytest.approx(1 / 128)
    assert q["psnr_db"] == pytest.approx(-10 * math.log10(miss / 128))
    assert q["psnr_db_mean_frame"] == pytest.approx(q["psnr_db"])
    assert q["moving_psnr_db"] == pytest.approx(-10 * math.log10(miss))
    black = (127 * (102 / 255) ** 2 + 1) / 128
    assert q["psnr_db_black"] == pytest.approx(-10 * math.log10(black))
    assert q["moving_psnr_db_black"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="1 latents, 2 frames"):
        reconstruction_quality(dec, torch.zeros(1, 2), frames)


def test_save_load_round_trip_and_errors(tmp_path):
    cfg = DecoderConfig(latent_dim=4, image_size=16)
    latents, frames = torch.randn(8, 4), np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3))
    dec, _ = train_decoder(latents, frames.astype(np.uint8), cfg, steps=3, progress=False)
    save_decoder(dec, tmp_path / "d", {"model_sha256": "abc"})
    loaded, info = load_decoder(tmp_path / "d")
    z = torch.randn(3, 4)
    assert info == {"model_sha256": "abc"}
    assert np.array_equal(dec.decode(z), loaded.decode(z))  # buffers (mean frame) saved too
    other = LatentDecoder(DecoderConfig(latent_dim=8, image_size=16))
    save_decoder(other, tmp_path / "e")
    (tmp_path / "e" / "decoder.json").write_text((tmp_path / "d" / "decoder.json").read_text())
    with pytest.raises(ValueError, match="decoder.safetensors: tensors"):
        load_decoder(tmp_path / "e")
    meta = json.loads((tmp_path / "d" / "decoder.json").read_text())
    meta["format"] = "monde.LatentDecoder/1"  # the sigmoid decoder before issue 19
    (tmp_path / "d" / "decoder.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="'monde.LatentDecoder/1' is not a Monde decoder"):
        load_decoder(tmp_path / "d")
