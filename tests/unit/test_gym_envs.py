"""Reacher, PointMaze, PushT and the generic adapter behind Monde's batched Env protocol.

Each test skips, with the reason, when the optional extra that provides the simulator is absent.
"""

from __future__ import annotations

import numpy as np
import pytest

from monde.config import EnvConfig
from monde.envs import make_env
from monde.envs.policies import PushTPusher, SmoothRandomPolicy
from monde.envs.reacher import fingertip

EXTRAS = {
    "reacher": ("mujoco", {}),
    "point_maze": ("gymnasium_robotics", {}),
    "push_t": ("gym_pusht", {}),
    "gym": ("pygame", {"env_id": "Pendulum-v1"}),  # not one of the four benchmark envs
}


def build(name: str, num_envs: int = 2, **options):
    module, defaults = EXTRAS[name]
    pytest.importorskip(module, reason=f"{name} needs the optional package {module}")
    cfg = EnvConfig(name=name, image_size=32, options={**defaults, **options})
    return make_env(name, num_envs, **cfg.env_kwargs("collect"))


@pytest.mark.parametrize("name", sorted(EXTRAS))
def test_env_makes_resets_steps_and_renders(name):
    env = build(name)
    frames = env.reset([3, 4])
    assert frames.shape == (2, 32, 32, 3) and frames.dtype == np.uint8
    assert env.goal_rgb().shape == frames.shape
    assert env.state().shape == env.goal_state().shape == (2, env.state_dim)
    assert len(env.state_names) == env.state_dim
    assert not np.array_equal(env.goal_rgb()[0], frames[0])  # the goal is somewhere else
    policy = SmoothRandomPolicy(env.action_dim, 2, seed=0)
    policy.reset(env.state())
    before = env.state()
    for _ in range(5):
        frames = env.step(policy.act(env.state()))
    assert frames.shape == (2, 32, 32, 3)
    assert not np.allclose(env.state(), before)  # actions move something
    assert env.is_success().shape == (2,) and env.is_success().dtype == bool
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full((2, env.action_dim), np.nan))


@pytest.mark.parametrize("name", sorted(EXTRAS))
def test_same_seed_same_start_and_goal(name):
    a, b = build(name), build(name)
    frames_a, frames_b = a.reset([7, 8]), b.reset([7, 8])
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(a.goal_rgb(), b.goal_rgb())
    np.testing.assert_allclose(a.goal_state(), b.goal_state())
    a.reset([9, 8])
    assert not np.allclose(a.goal_state()[0], b.goal_state()[0])


@pytest.mark.parametrize("name", ["reacher", "point_maze", "push_t"])
def test_goal_image_is_the_goal_state_rendered(name):
    env = build(name)
    env.reset([1, 2])
    painted, goal = env.render_states(env.goal_state()), env.goal_rgb()
    if name == "push_t":  # pymunk's debug drawing adds the last physics step's contact points
        assert (painted != goal).any(-1).mean() < 0.01
    else:
        np.testing.assert_array_equal(painted, goal)


def test_reacher_success_is_fingertip_distance_at_rest():
    env = build("reacher", num_envs=1)
    env.reset([5])
    goal = env.goal_state()[0].astype(np.float64)
    assert env.task.is_success(goal, goal)
    moved = goal.copy()
    moved[0] += 0.5
    gap = np.linalg.norm(fingertip(moved[:2]) - fingertip(goal[:2]))
    assert gap > 0.02 and not env.task.is_success(moved, goal)
    swinging = goal.copy()
    swinging[2] = 3.0  # at the goal, but the shoulder turns at 3 rad/s
    assert not env.task.is_success(swinging, goal)
    spun = goal.copy()
    spun[0] += 2 * np.pi  # the same pose, one turn further
    assert env.task.is_success(spun, goal)


def test_reacher_state_wraps_the_shoulder_and_reports_the_fingertip():
    env = build("reacher", num_envs=1)
    env.reset([0])
    for _ in range(60):  # full torque: the free shoulder turns past ±π
        env.step(np.ones((1, 2)))
    state = env.state()[0]
    names = env.state_names
    assert -np.pi <= state[names.index("joint0")] <= np.pi
    tip = state[[names.index("tip_x"), names.index("tip_y")]]
    np.testing.assert_allclose(tip, fingertip(state[:2]), atol=1e-6)


@pytest.mark.parametrize("name", ["reacher", "point_maze"])
def test_depth_is_a_fourth_channel_of_height_above_the_floor(name):
    env = build(name, depth=True)
    frames = env.reset([3, 4])
    assert frames.shape == (2, 32, 32, 4) and env.channels == 4
    assert env.goal_rgb().shape == (2, 32, 32, 4)
    plain = build(name)
    np.testing.assert_array_equal(plain.reset([3, 4]), frames[..., :3])  # the same colours
    depth = frames[..., 3]
    assert (depth == 0).any() and (depth > 0).any()  # floor, and something standing on it


def test_generic_goal_is_reached_by_replaying_the_seeded_random_policy():
    env = build("gym", num_envs=1, goal_steps=3)
    env.reset([11])
    goal = env.goal_state()[0]
    rng = np.random.default_rng(11)
    for _ in range(3):
        env.step(rng.uniform(-1, 1, (1, env.action_dim)))
    np.testing.assert_allclose(env.state()[0], goal, rtol=1e-5, atol=1e-6)
    assert env.is_success()[0]


def test_generic_adapter_rejects_discrete_actions():
    pytest.importorskip("pygame")
    with pytest.raises(ValueError, match="Box"):
        make_env("gym", 1, env_id="CartPole-v1")


def test_pusht_pusher_moves_the_block_more_than_random_actions():
    env = build("push_t", num_envs=6)
    moved = {}
    for name, policy in [
        ("pusher", PushTPusher(6, seed=0)),
        ("random", SmoothRandomPolicy(2, 6, 0)),
    ]:
        env.reset(range(6))
        start = env.state()
        policy.reset(start)
        for _ in range(30):
            env.step(policy.act(env.state()))
        moved[name] = np.linalg.norm(env.state()[:, 2:4] - start[:, 2:4], axis=1)
    assert (moved["pusher"] > 20).mean() >= 0.75
    assert np.median(moved["pusher"]) > 3 * np.median(moved["random"])


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match="maze_size"):
        make_env("point_maze", 1, maze_size=3)


def test_replay_goals_are_reached_by_replaying_the_policy():
    from monde.envs import TwoRoom
    from monde.envs.replay_goals import ReplayGoals

    def policy(seed: int) -> SmoothRandomPolicy:
        return SmoothRandomPolicy(2, 3, seed)

    env = ReplayGoals(TwoRoom(3), policy, goal_steps=25)
    start = env.reset([4, 5, 6])
    np.testing.assert_array_equal(start, TwoRoom(3).reset([4, 5, 6]))  # the same start
    replay = policy(4)
    replay.reset(env.state())
    for _ in range(25):
        frames = env.step(replay.act(env.state()))
    assert env.is_success().all()
    np.testing.assert_array_equal(frames, env.goal_rgb())
    assert env.num_envs == 3 and env.state_names == TwoRoom(3).state_names


def test_pusht_goal_is_never_reached_at_the_start():
    env = build("push_t", num_envs=8)
    for first in (0, 8, 16, 24):
        env.reset(range(first, first + 8))
        gap = np.linalg.norm(env.state()[:, 2:4] - env.goal_state()[:, 2:4], axis=1)
        assert (gap >= 40.0 - 1e-6).all(), gap  # goal_shift's lower bound, even near a wall
        assert not env.is_success().any()


def test_pusht_goal_pusher_stands_behind_the_pushed_block():
    env = build("push_t", num_envs=8)
    env.reset(range(8))
    start, goal = env.state(), env.goal_state()
    push = goal[:, 2:4] - start[:, 2:4]  # (B, 2) the block's displacement
    behind = goal[:, 2:4] - 100.0 * push / np.linalg.norm(push, axis=1, keepdims=True)
    expected = np.clip(behind, 20, 492)  # pusher_standoff 100 px, kept in the arena
    np.testing.assert_allclose(goal[:, :2], expected, atol=1e-3)
