"""Random-shift augmentation: every window is an edge-repeating translation of itself, the same
for all its frames, within the configured pad; seeded draws repeat; TrainStep applies it."""

import numpy as np
import pytest
import torch

from monde.config import ModelConfig, TrainConfig
from monde.models.world_model import WorldModel
from monde.train.augment import random_shift, shift_generator
from monde.train.distributed import DistContext
from monde.train.step import TrainStep


def _translate(window: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """window (L, H, W, C) → out[t, i, j] = window[t, clamp(i + dy), clamp(j + dx)]."""
    h, w = window.shape[1:3]
    rows = np.clip(np.arange(h) + dy, 0, h - 1)
    cols = np.clip(np.arange(w) + dx, 0, w - 1)
    return window[:, rows][:, :, cols]


def _frames(b: int = 16, length: int = 3, side: int = 9) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (b, length, side, side, 3), generator=g, dtype=torch.uint8)


def test_each_window_is_one_translation_within_the_pad():
    frames, pad = _frames(), 2
    out = random_shift(frames, pad, torch.Generator().manual_seed(3))
    assert out.shape == frames.shape and out.dtype == torch.uint8
    found = []
    for b in range(frames.shape[0]):
        window, shifted = frames[b].numpy(), out[b].numpy()
        matches = [
            (dy, dx)
            for dy in range(-pad, pad + 1)
            for dx in range(-pad, pad + 1)
            if np.array_equal(_translate(window, dy, dx), shifted)
        ]
        assert len(matches) == 1, f"window {b} is not one translation of itself: {matches}"
        found.append(matches[0])
    assert len(set(found)) > 4  # windows get their own shifts, not one for the batch


def test_shifts_repeat_with_the_generator_seed_and_pad_zero_is_the_identity():
    frames = _frames()
    a = random_shift(frames, 3, torch.Generator().manual_seed(5))
    b = random_shift(frames, 3, torch.Generator().manual_seed(5))
    c = random_shift(frames, 3, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert random_shift(frames, 0) is frames
    with pytest.raises(ValueError, match="shift_augment"):
        random_shift(frames, -1)
    with pytest.raises(ValueError, match="shift_augment"):
        TrainConfig(shift_augment=-1)


def test_shift_generators_differ_by_step_micro_batch_and_rank():
    cpu = torch.device("cpu")
    draws = {
        key: torch.randint(0, 2**30, (4,), generator=shift_generator(0, *key, cpu)).tolist()
        for key in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    }
    assert len({tuple(v) for v in draws.values()}) == 4
    again = torch.randint(0, 2**30, (4,), generator=shift_generator(0, 0, 0, 0, cpu)).tolist()
    assert again == draws[(0, 0, 0)]


def _step_metrics(shift: int) -> dict[str, float]:
    cfg = TrainConfig(batch_size=4, rollout_steps=2, shift_augment=shift)
    torch.manual_seed(0)
    model = WorldModel(ModelConfig(image_size=16, encoder_channels=(8, 8), latent_dim=8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1)
    length = model.history + cfg.rollout_steps
    frames = torch.randint(0, 256, (4, length, 16, 16, 3), generator=g, dtype=torch.uint8)
    actions = torch.rand(4, length - 1, model.cfg.action_dim, generator=g) * 2 - 1
    return TrainStep(model, optimizer, cfg, DistContext())(frames, actions, 0)


def test_train_step_sees_shifted_windows_reproducibly():
    plain, shifted = _step_metrics(0), _step_metrics(3)
    assert shifted != plain  # the model saw other pixels
    assert _step_metrics(3) == shifted  # and the same ones again with the same seed and step
