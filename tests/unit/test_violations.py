"""Paired physical / impossible TwoRoom clips."""

import numpy as np
import pytest

from monde.envs.two_room import TwoRoomConfig
from monde.envs.violations import OFFSCREEN, VIOLATION_KINDS, make_clip_pairs

CFG = TwoRoomConfig(image_size=32, random_wall=True)


def _in_solid_wall(states: np.ndarray, cfg: TwoRoomConfig) -> np.ndarray:
    x, y, wall_x, door_y = np.moveaxis(states, -1, 0)
    return (np.abs(x - wall_x) < cfg.wall_thickness / 2) & (np.abs(y - door_y) > cfg.door_width / 2)


@pytest.mark.parametrize("kind", VIOLATION_KINDS)
def test_pairs_agree_before_the_event_and_differ_from_it(kind):
    pairs = make_clip_pairs(kind, 6, CFG, steps=20, event=10, seed=3)
    assert pairs.physical.shape == pairs.impossible.shape == (6, 21, 32, 32, 3)
    assert pairs.actions.shape == (6, 20, 2)
    for i, e in enumerate(pairs.event):
        assert 1 <= e <= 20
        np.testing.assert_array_equal(pairs.physical[i, :e], pairs.impossible[i, :e])
        assert not np.array_equal(pairs.physical[i, e], pairs.impossible[i, e])
    if kind != "through_wall":
        assert (pairs.event == 10).all()
    assert not _in_solid_wall(pairs.physical_states, CFG).any()  # physics holds


def test_kinds_break_physics_as_named():
    tw = make_clip_pairs("through_wall", 8, CFG, steps=40, event=12, seed=1)
    assert _in_solid_wall(tw.impossible_states, CFG).any(axis=1).all()  # every walk crosses
    side = lambda s: s[..., 0] < s[..., 2]  # noqa: E731
    assert (side(tw.physical_states[:, 0]) == side(tw.physical_states[:, -1])).all()
    assert (side(tw.impossible_states[:, 0]) != side(tw.impossible_states[:, -1])).all()

    tp = make_clip_pairs("teleport", 8, CFG, steps=20, event=10, seed=1)
    jump = np.linalg.norm(tp.impossible_states[:, 10, :2] - tp.physical_states[:, 10, :2], axis=1)
    assert (jump > 0.1).all()
    vanish = make_clip_pairs("vanish", 2, CFG, steps=20, event=10, seed=1)
    assert (vanish.impossible_states[:, 10:, 0] == OFFSCREEN).all()
    assert (vanish.impossible[:, 10:, ..., 0] < 255).all()  # no red agent pixel drawn
    stop = make_clip_pairs("stop", 2, CFG, steps=20, event=10, seed=1)
    assert (stop.impossible_states[:, 10:, :2] == stop.physical_states[:, 9:10, :2]).all()


def test_pairs_are_deterministic_and_kind_checked():
    a = make_clip_pairs("reverse", 3, CFG, steps=12, event=6, seed=7)
    b = make_clip_pairs("reverse", 3, CFG, steps=12, event=6, seed=7)
    np.testing.assert_array_equal(a.impossible, b.impossible)
    with pytest.raises(ValueError, match="unknown violation kind 'melt'"):
        make_clip_pairs("melt", 1, CFG)
    with pytest.raises(ValueError, match="event must be in"):
        make_clip_pairs("stop", 1, CFG, steps=10, event=11)
