"""Symmetry augmentation: each window's frames and actions turn alike (a moving dot's step in
the turned frames is the turned action), the choices are a function of (seed, step, global
row), only envs that declare the symmetry accept it, and PushT's frames and actions share the
image's axes, as its declaration says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from monde.data.augment import SYMMETRIES, action_matrix, planar_symmetry, symmetry_choices
from monde.envs.registry import check_symmetry_augment


def _dot(side: int, row: int, col: int) -> torch.Tensor:
    frame = torch.zeros(side, side, 3, dtype=torch.uint8)
    frame[row, col] = 255
    return frame


def _where(frame: torch.Tensor) -> tuple[int, int]:
    rows, cols = np.nonzero(frame[..., 0].numpy())
    assert len(rows) == 1
    return int(rows[0]), int(cols[0])


def test_a_dots_step_in_the_turned_frames_is_the_turned_action() -> None:
    side, (r, c), (dx, dy) = 11, (3, 4), (2, 5)  # action (x, y): columns, then rows
    window = torch.stack([_dot(side, r, c), _dot(side, r + dy, c + dx)])  # (2, H, W, C)
    frames = window[None].repeat(SYMMETRIES, 1, 1, 1, 1)  # (8, 2, H, W, C)
    actions = torch.tensor([[[float(dx), float(dy), 1.0, 0.0]]]).repeat(SYMMETRIES, 1, 1)
    out_frames, out_actions = planar_symmetry(frames, actions, torch.arange(SYMMETRIES))
    steps = set()
    for b in range(SYMMETRIES):
        (r0, c0), (r1, c1) = _where(out_frames[b, 0]), _where(out_frames[b, 1])
        ax, ay, bx, by = out_actions[b, 0].tolist()
        assert (c1 - c0, r1 - r0) == (round(ax), round(ay))
        assert (round(bx), round(by)) == tuple(action_matrix(b)[:, 0].round().int().tolist())
        steps.add((c1 - c0, r1 - r0))
    assert len(steps) == SYMMETRIES  # eight distinct orientations of one step
    torch.testing.assert_close(out_frames[0], frames[0])  # choice 0 is the identity
    torch.testing.assert_close(out_actions[0], actions[0])


def test_the_mirror_reverses_columns_and_a_quarter_turn_is_torch_rot90() -> None:
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (2, 3, 6, 6, 3), generator=g, dtype=torch.uint8)
    actions = torch.randn(2, 2, 4, generator=g)
    out, _ = planar_symmetry(frames, actions, torch.tensor([4, 1]))
    torch.testing.assert_close(out[0], frames[0].flip(2))  # (L, H, W, C): columns reversed
    torch.testing.assert_close(out[1], torch.rot90(frames[1], 1, dims=(1, 2)))


def test_choices_depend_on_seed_step_and_row_only() -> None:
    a = symmetry_choices(seed=3, step=7, rows=64)
    torch.testing.assert_close(a, symmetry_choices(seed=3, step=7, rows=64))
    assert not torch.equal(a, symmetry_choices(seed=3, step=8, rows=64))
    assert set(a.tolist()) <= set(range(SYMMETRIES)) and len(set(a.tolist())) > 4


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="square"):
        planar_symmetry(torch.zeros(1, 2, 4, 5, 3), torch.zeros(1, 1, 2), torch.zeros(1))
    with pytest.raises(ValueError, match="pairs"):
        planar_symmetry(torch.zeros(1, 2, 4, 4, 3), torch.zeros(1, 1, 3), torch.zeros(1))


def test_only_an_env_that_declares_the_symmetry_accepts_it() -> None:
    check_symmetry_augment("push_t", True, [])
    check_symmetry_augment("two_room", False, [])  # off: nothing to check
    with pytest.raises(ValueError, match="two_room.*push_t"):
        check_symmetry_augment("two_room", True, [])
    with pytest.raises(ValueError, match="proprioception"):
        check_symmetry_augment("push_t", True, ["pusher_x", "pusher_y"])


def test_push_t_actions_move_the_pusher_along_the_frames_columns_and_rows() -> None:
    pytest.importorskip("gym_pusht", reason="PushT needs the optional package gym_pusht")
    from monde.envs.push_t import PushTConfig, PushTTask

    task = PushTTask(PushTConfig(image_size=64))
    env = task.make()
    env.reset(seed=0)

    def pusher_centre(x: float, y: float) -> np.ndarray:
        task.set_state(env, np.array([x, y, 380.0, 380.0, 0.0]))
        frame = task.render(env).astype(int)
        blue = (frame[..., 2] > 180) & (frame[..., 0] < 100)  # RoyalBlue (65, 105, 225)
        rows, cols = np.nonzero(blue)
        return np.array([cols.mean(), rows.mean()])  # (x, y) in pixels

    start = pusher_centre(150.0, 150.0)
    np.testing.assert_allclose(pusher_centre(214.0, 150.0) - start, [8.0, 0.0], atol=1.0)
    np.testing.assert_allclose(pusher_centre(150.0, 214.0) - start, [0.0, 8.0], atol=1.0)


class _Recorder(torch.nn.Module):
    """Stands in for the objective: keeps what TrainStep hands it, returns a zero loss."""

    def __init__(self, weight: torch.nn.Parameter):
        super().__init__()
        self.weight, self.seen = weight, []

    def forward(self, frames, actions, generator=None, states=None):
        self.seen.append((frames, actions))
        loss = self.weight.sum() * 0
        return loss, {"loss": loss.detach()}


def _seen(rank: int, world_size: int, frames: torch.Tensor, actions: torch.Tensor):
    """What TrainStep of `rank` (two micro-batches) passes to the objective, concatenated."""
    from monde.config import TrainConfig
    from monde.train.distributed import DistContext
    from monde.train.step import TrainStep

    weight = torch.nn.Parameter(torch.zeros(1))
    step = TrainStep.__new__(TrainStep)  # the step's own data path, without a model or DDP
    step.model = torch.nn.Module()
    step.model.weight = weight
    step.cfg = TrainConfig(batch_size=16, grad_accum_steps=2, symmetry_augment=True)
    step.ctx = DistContext(rank=rank, world_size=world_size)
    step.optimizer = torch.optim.SGD([weight], lr=0.0)
    step.ddp, step.module = None, _Recorder(weight)
    share = frames.shape[0] // world_size
    rows = slice(rank * share, (rank + 1) * share)
    step(frames[rows], actions[rows], 5)
    seen = step.module.seen
    return torch.cat([f for f, _ in seen]), torch.cat([a for _, a in seen])


def test_train_step_turns_each_window_as_its_global_row_says() -> None:
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (16, 3, 6, 6, 3), generator=g, dtype=torch.uint8)
    actions = torch.randn(16, 2, 4, generator=g)
    expected = planar_symmetry(frames, actions, symmetry_choices(0, 5, 16))
    one = _seen(0, 1, frames, actions)
    ranks = [_seen(r, 2, frames, actions) for r in range(2)]
    two = [torch.cat([ranks[0][i], ranks[1][i]]) for i in range(2)]
    for got in (one, two):
        torch.testing.assert_close(got[0], expected[0])
        torch.testing.assert_close(got[1], expected[1])
    assert not torch.equal(one[0], frames)
