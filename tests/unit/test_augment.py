"""Random-shift augmentation: every window is an edge-repeating translation of itself, the same
for all its frames, within the configured pad; the shifts are a function of (seed, step, global
row), so ranks and micro-batches split them; TrainStep applies them."""

import numpy as np
import pytest
import torch

from monde.config import ModelConfig, TrainConfig
from monde.data.augment import random_shift, shift_offsets
from monde.models.world_model import WorldModel
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
    offsets = shift_offsets(0, 3, frames.shape[0], pad)
    out = random_shift(frames, offsets)
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
        assert matches == [tuple(offsets[b].tolist())], f"window {b}: {matches}"
        found.append(matches[0])
    assert len(set(found)) > 4  # windows get their own shifts, not one for the batch


def test_offsets_depend_on_seed_and_step_and_stay_within_the_pad():
    a = shift_offsets(0, 5, 64, 3)
    assert a.shape == (64, 2) and int(a.min()) == -3 and int(a.max()) == 3
    assert torch.equal(a, shift_offsets(0, 5, 64, 3))
    assert not torch.equal(a, shift_offsets(0, 6, 64, 3))
    assert not torch.equal(a, shift_offsets(1, 5, 64, 3))
    with pytest.raises(ValueError, match="offsets of shape"):
        random_shift(_frames(b=4), a)
    with pytest.raises(ValueError, match="shift_augment"):
        TrainConfig(shift_augment=-1)


class _Recorder(torch.nn.Module):
    """Stands in for the objective: keeps the frames TrainStep hands it, returns a zero loss."""

    def __init__(self, weight: torch.nn.Parameter):
        super().__init__()
        self.weight, self.frames = weight, []

    def forward(self, frames, actions, generator=None, states=None):
        self.frames.append(frames)
        loss = self.weight.sum() * 0
        return loss, {"loss": loss.detach()}


def _frames_seen(rank: int, world_size: int, accum: int, frames: torch.Tensor) -> torch.Tensor:
    """The frames TrainStep of `rank` passes to the objective, its micro-batches concatenated."""
    weight = torch.nn.Parameter(torch.zeros(1))
    step = TrainStep.__new__(TrainStep)  # the step's own data path, without a model or DDP
    step.model = torch.nn.Module()
    step.model.weight = weight
    step.cfg = TrainConfig(batch_size=16, grad_accum_steps=accum, shift_augment=3)
    step.ctx = DistContext(rank=rank, world_size=world_size)
    step.optimizer = torch.optim.SGD([weight], lr=0.0)
    step.ddp, step.module = None, _Recorder(weight)
    share = frames.shape[0] // world_size
    local = frames[rank * share : (rank + 1) * share]
    step(local, torch.zeros(share, frames.shape[1] - 1, 2), 9)
    return torch.cat(step.module.frames)


def test_ranks_and_micro_batches_shift_their_rows_as_one_process_does():
    """Two ranks of 8 rows, each in two micro-batches, see the 16 rows one process sees."""
    frames = _frames(b=16)
    one_process = _frames_seen(0, 1, 1, frames)
    assert not torch.equal(one_process, frames)  # shifted
    two_ranks = torch.cat([_frames_seen(r, 2, 2, frames) for r in range(2)])
    assert torch.equal(two_ranks, one_process)


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
