import numpy as np
import pytest
import torch

from monde.config import ModelConfig
from monde.models.checkpoint import load_model, save_model
from monde.models.keypoints import KeypointEncoder, SpatialSoftArgmax
from monde.models.world_model import WorldModel


def test_soft_argmax_reads_a_peak_at_its_cell_centre_and_a_flat_map_at_the_centre():
    argmax = SpatialSoftArgmax(5, 9)  # cell centres: x in −1, −0.75, …, 1; y in −1, −0.5, …, 1
    maps = torch.zeros(1, 3, 5, 9)
    maps[0, 0, 1, 6] = 100.0  # row 1 (y −0.5), column 6 (x 0.5)
    maps[0, 1, 4, 0] = 100.0  # row 4 (y 1), column 0 (x −1)
    # map 2 stays flat: the mean of the cell centres
    out = argmax(maps)
    assert out.shape == (1, 6)
    torch.testing.assert_close(out, torch.tensor([[0.5, -0.5, -1.0, 1.0, 0.0, 0.0]]))


def test_soft_argmax_of_two_equal_peaks_is_their_midpoint():
    argmax = SpatialSoftArgmax(3, 3)
    maps = torch.zeros(2, 1, 3, 3)
    maps[:, 0, 0, 0] = maps[:, 0, 2, 2] = 50.0
    torch.testing.assert_close(argmax(maps), torch.zeros(2, 2), atol=1e-6, rtol=0)


def test_keypoints_follow_a_shifted_object():
    """A keypoint that attends to a bright square moves with it, by the shift in grid units."""
    torch.manual_seed(0)
    encoder = KeypointEncoder(16, 1, (4,), latent_dim=4, keypoints=1, patch=1)
    with torch.no_grad():  # features = the image's brightness, sharpened: a hand-made attention
        for m in encoder.features:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
                m.bias.zero_()
        encoder.features[0].weight[:, 0] = 1.0  # stem: every channel copies the pixel
        encoder.features[-1].weight[0] = 25.0  # the keypoint map: their sum, scaled
    image = torch.zeros(2, 1, 16, 16)
    image[0, 0, 2:4, 2:4] = 1.0  # a 2 × 2 square centred on pixel 2.5, 2.5
    image[1, 0, 2:4, 8:10] = 1.0  # the same square 6 pixels to the right
    points = encoder.keypoints(image)  # (2, 2): x, y
    step = 2.0 / 15  # one pixel in grid units
    shift = points[1, 0] - points[0, 0]
    torch.testing.assert_close(shift, torch.tensor(6 * step), atol=1e-4, rtol=0)
    torch.testing.assert_close(points[1, 1], points[0, 1], atol=1e-5, rtol=0)
    torch.testing.assert_close(points[0], torch.tensor([-1 + 2.5 * step] * 2), atol=1e-4, rtol=0)


def test_keypoint_world_model_encodes_and_round_trips(tmp_path):
    cfg = ModelConfig(
        image_size=16, encoder="cnn_keypoints", encoder_channels=(8, 8), keypoints=3,
        latent_dim=8, predictor_dim=16,
    )  # fmt: skip
    model = WorldModel(cfg).eval()
    frames = np.random.default_rng(0).integers(0, 256, (2, 3, 16, 16, 3), dtype=np.uint8)
    z = model.encode(frames)
    assert z.shape == (2, 3, 8) and torch.isfinite(z).all()
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    torch.testing.assert_close(loaded.encode(frames), z)


def test_keypoint_encoder_refuses_bad_settings():
    with pytest.raises(ValueError, match="model.keypoints"):
        KeypointEncoder(16, 3, (8,), latent_dim=8, keypoints=0)
    with pytest.raises(ValueError, match="divisible"):
        KeypointEncoder(18, 3, (8,), latent_dim=8, keypoints=2, patch=4)
