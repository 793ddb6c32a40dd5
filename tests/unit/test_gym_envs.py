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


def _generic(num_envs: int = 2, **options):
    pytest.importorskip("pygame", reason="classic-control rendering needs pygame")
    return make_env("gym", num_envs, image_size=32, **options)


def test_generic_goals_keep_the_minimum_distance_from_the_start():
    # five random steps barely move a pendulum at rest: without a minimum distance, seed 6
    # starts at its goal (the premise); by default goals lie at least success_distance away
    options = {"goal_steps": 5, "success_dims": [0, 1], "success_distance": 0.05}
    unchecked = _generic(8, min_goal_distance=0.0, **options)
    unchecked.reset(range(8))
    assert unchecked.is_success().any()
    env = _generic(8, **options)
    env.reset(range(8))
    gap = np.linalg.norm(env.state()[:, :2] - env.goal_state()[:, :2], axis=1)
    assert (gap >= 0.05).all() and not env.is_success().any()
    far = _generic(2, goal_steps=5, success_dims=[0, 1], min_goal_distance=0.3)
    far.reset([0, 4])  # their first draws lie 0.25 and 0.26 away: both drawn again
    assert (np.linalg.norm(far.state()[:, :2] - far.goal_state()[:, :2], axis=1) >= 0.3).all()
    again = _generic(2, goal_steps=5, success_dims=[0, 1], min_goal_distance=0.3)
    again.reset([0, 4])
    np.testing.assert_array_equal(again.goal_rgb(), far.goal_rgb())  # resampling is seeded


def test_generic_goal_distance_that_cannot_be_met_is_named():
    env = _generic(1, goal_steps=1, min_goal_distance=50.0, goal_tries=3)
    with pytest.raises(ValueError, match=r"seed 7: no goal at least env\.options\.min_goal_dist"):
        env.reset([7])


def test_generic_random_state_goals_of_a_classic_control_env():
    env = _generic(
        3,
        env_id="MountainCarContinuous-v0",
        goal_sampler="random_state",
        goal_state_low=[-0.9, 0.0],
        goal_state_high=[-0.25, 0.0],
        success_dims=[0],
        success_distance=0.05,
        min_goal_distance=0.15,
    )
    frames = env.reset([0, 1, 2])
    goal, start = env.goal_state(), env.state()
    assert ((goal[:, 0] >= -0.9) & (goal[:, 0] <= -0.25)).all() and (goal[:, 1] == 0).all()
    assert (np.abs(goal[:, 0] - start[:, 0]) >= 0.15).all()
    assert ((start[:, 0] >= -0.6) & (start[:, 0] <= -0.4)).all()  # the env's own start
    plain = _generic(3, env_id="MountainCarContinuous-v0", min_goal_distance=0.0)
    np.testing.assert_array_equal(frames, plain.reset([0, 1, 2]))
    assert not np.array_equal(env.goal_rgb(), frames)
    with pytest.raises(ValueError, match="goal_state_low/high"):
        _generic(1, env_id="MountainCarContinuous-v0", goal_sampler="random_state")


def test_generic_random_state_goals_of_a_mujoco_env():
    pytest.importorskip("mujoco")
    env = make_env(
        "gym",
        2,
        image_size=32,
        env_id="InvertedPendulum-v5",
        goal_sampler="random_state",
        goal_joints=["slider"],
        success_dims=[0],
        min_goal_distance=0.3,
    )
    env.reset([0, 1])
    goal, start = env.goal_state(), env.state()
    assert (np.abs(goal[:, 0]) <= 1.0).all() and (np.abs(goal[:, 0] - start[:, 0]) >= 0.3).all()
    np.testing.assert_array_equal(goal[:, 1], start[:, 1])  # the hinge keeps its reset angle
    np.testing.assert_array_equal(goal[:, 2:], 0.0)  # at rest
    with pytest.raises(ValueError, match="goal_joints"):
        make_env("gym", 1, env_id="InvertedPendulum-v5", goal_sampler="random_state",
                 goal_joints=["elbow"])  # fmt: skip


GOALS_MODULE = """
import numpy as np

def upright(env, rng):
    env.unwrapped.state = np.array([rng.uniform(-0.5, 0.5), 0.0])
    return env.unwrapped._get_obs()
"""


def test_generic_goal_sampler_from_a_file_or_a_module(tmp_path, monkeypatch):
    (tmp_path / "my_goals.py").write_text(GOALS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    by_file = _generic(2, goal_sampler=f"{tmp_path / 'my_goals.py'}:upright", success_dims=[0, 1])
    by_module = _generic(2, goal_sampler="my_goals:upright", success_dims=[0, 1])
    by_file.reset([3, 4])
    by_module.reset([3, 4])
    goal = by_file.goal_state()
    np.testing.assert_array_equal(goal, by_module.goal_state())
    assert (goal[:, 0] > np.cos(0.5) - 1e-6).all() and (goal[:, 2] == 0).all()  # near upright
    for spec in ("my_goals:nothing", "no_such_module_x:fn", f"{tmp_path / 'none.py'}:fn"):
        with pytest.raises(ValueError, match="env.options.goal_sampler"):
            _generic(1, goal_sampler=spec)


def test_generic_unknown_env_id_is_one_line_with_suggestions():
    with pytest.raises(ValueError, match="env.options.env_id") as err:
        make_env("gym", 1, env_id="Pendulm-v1")
    assert "Pendulum-v1" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError, match="success_dims"):
        _generic(1, success_dims=[7])


def test_classic_control_rendering_prints_nothing_without_a_display():
    pytest.importorskip("pygame")
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "SDL_VIDEODRIVER")
    }
    code = (
        "from monde.envs import make_env; "
        "make_env('gym', 1, env_id='Pendulum-v1', image_size=16).reset([0])"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "XDG_RUNTIME_DIR" not in out.stderr + out.stdout


def test_the_documented_gym_example_is_not_solved_by_standing_still_or_random_actions():
    import re
    from pathlib import Path

    import yaml

    doc = (Path(__file__).resolve().parents[2] / "docs" / "environments.md").read_text()
    section = doc[doc.index("**Any Gymnasium environment, no code**") :]
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    options = example["env"]["options"]
    env = _generic(6, **options)
    env.reset(range(1_000_000, 1_000_006))  # evaluation seeds
    assert not env.is_success().any()  # the docs' old example started inside half its goals
    policy = SmoothRandomPolicy(env.action_dim, 6, seed=0)
    policy.reset(env.state())
    reached = np.zeros(6, bool)
    for _ in range(30):
        env.step(policy.act(env.state()))
        reached |= env.is_success()
    assert reached.mean() <= 0.5


def test_pusht_keeps_the_frame_its_step_rendered_and_it_is_the_frame_of_the_state():
    # PushT's step renders its observation; the batch keeps it instead of rendering again, so
    # it must be exactly the frame a fresh render of the state reached gives
    env = build("push_t")
    env.reset([5, 6])
    policy = PushTPusher(2, seed=1)
    policy.reset(env.state())
    for _ in range(6):
        frames = env.step(policy.act(env.state()))
        rendered = np.stack([env.task.render(e) for e in env.envs])
        np.testing.assert_array_equal(frames, rendered)
    assert env._frame_in_observation
