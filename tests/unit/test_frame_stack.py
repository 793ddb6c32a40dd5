"""FrameStack: observations are the last k frames on the channel axis, newest first."""

import numpy as np
import pytest

from monde.config import EnvConfig
from monde.envs.frame_stack import FrameStack
from monde.envs.registry import make_env


def test_reset_starts_at_rest_and_steps_shift_the_stack():
    plain, stacked = make_env("two_room", 2), make_env("two_room", 2, frame_stack=3)
    assert isinstance(stacked, FrameStack) and stacked.channels == 9
    f0 = plain.reset([5, 6])
    s0 = stacked.reset([5, 6])  # (B, Hp, Wp, 3·3)
    assert s0.shape == (2, 64, 64, 9)
    for slot in range(3):  # at rest: every slot is the start frame
        np.testing.assert_array_equal(s0[..., 3 * slot : 3 * slot + 3], f0)
    actions = np.full((2, 2), 0.7, np.float32)
    f1, s1 = plain.step(actions), stacked.step(actions)
    f2, s2 = plain.step(-actions), stacked.step(-actions)
    assert not np.array_equal(f1, f0) and not np.array_equal(f2, f1)  # the agent moved
    np.testing.assert_array_equal(s1, np.concatenate([f1, f0, f0], -1))
    np.testing.assert_array_equal(s2, np.concatenate([f2, f1, f0], -1))  # newest first
    np.testing.assert_array_equal(stacked.state(), plain.state())  # states are the env's


def test_goals_and_rendered_states_are_held_still():
    plain, stacked = make_env("two_room", 2), make_env("two_room", 2, frame_stack=2)
    plain.reset([1, 2]), stacked.reset([1, 2])
    np.testing.assert_array_equal(stacked.goal_rgb(), np.tile(plain.goal_rgb(), 2))
    states = plain.state()
    np.testing.assert_array_equal(
        stacked.render_states(states), np.tile(plain.render_states(states), 2)
    )
    np.testing.assert_array_equal(stacked.goal_state(), plain.goal_state())


def test_reset_at_restarts_only_those_stacks():
    stacked = make_env("two_room", 3, frame_stack=2)
    stacked.reset([0, 1, 2])
    s1 = stacked.step(np.full((3, 2), 0.7, np.float32))
    fresh = stacked.reset_at([1], [9])  # (1, Hp, Wp, 6)
    np.testing.assert_array_equal(fresh[..., :3], fresh[..., 3:])  # a new start, at rest
    s2 = stacked.step(np.zeros((3, 2), np.float32))
    np.testing.assert_array_equal(s2[[0, 2], ..., 3:], s1[[0, 2], ..., :3])  # others go on
    np.testing.assert_array_equal(s2[1, ..., 3:], fresh[0, ..., :3])


def test_one_frame_is_the_plain_env_and_bad_values_are_refused():
    assert not isinstance(make_env("two_room", 1, frame_stack=1), FrameStack)
    assert EnvConfig().env_kwargs("eval") == {"image_size": 64}
    assert EnvConfig(frame_stack=2).env_kwargs("collect")["frame_stack"] == 2
    with pytest.raises(ValueError, match="env.frame_stack"):
        EnvConfig(frame_stack=0)
    with pytest.raises(ValueError, match="env.frame_stack"):
        FrameStack(make_env("two_room", 1), 0)
    with pytest.raises(RuntimeError, match="before reset"):
        FrameStack(make_env("two_room", 1), 2).step(np.zeros((1, 2), np.float32))
