"""Tests of the Gymnasium adapters of TwoRoom and the "monde/TwoRoom-v0" registration."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import monde.envs  # noqa: F401  (registers the id)
from monde.envs import TwoRoom, TwoRoomConfig
from monde.envs.gym_adapter import ENV_ID, TwoRoomGymEnv, TwoRoomVectorEnv, register


def test_check_env_passes_without_warnings() -> None:
    env = gymnasium.make(ENV_ID, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_make_passes_kwargs_and_time_limit() -> None:
    env = gymnasium.make(ENV_ID, random_wall=True, image_size=32)
    assert isinstance(env.unwrapped, TwoRoomGymEnv)
    assert env.unwrapped.cfg.random_wall and env.unwrapped.cfg.image_size == 32
    assert env.spec.max_episode_steps == 200
    obs, info = env.reset(seed=3)
    assert obs["rgb"].shape == (32, 32, 3) and obs["goal_rgb"].dtype == np.uint8
    for t in range(200):
        obs, reward, terminated, truncated, info = env.step(np.zeros(2, np.float32))
        assert not terminated and truncated == (t == 199)
    with pytest.raises(ValueError, match="door_wdth"):
        gymnasium.make(ENV_ID, door_wdth=0.1)


def test_register_twice_is_harmless() -> None:
    register()
    register()
    assert ENV_ID in gymnasium.registry


def test_gym_env_matches_batched_env_and_rewards() -> None:
    env = TwoRoomGymEnv(render_mode="rgb_array")
    obs, info = env.reset(seed=11)
    ref = TwoRoom(1)
    np.testing.assert_array_equal(obs["rgb"], ref.reset([11])[0])
    np.testing.assert_array_equal(obs["goal_rgb"], ref.goal_rgb()[0])
    np.testing.assert_array_equal(info["state"], ref.state()[0])
    np.testing.assert_array_equal(info["goal_state"], ref.goal_state()[0])
    action = np.array([0.5, -0.3], np.float32)
    obs, reward, terminated, truncated, info = env.step(action)
    np.testing.assert_array_equal(obs["rgb"], ref.step(action[None])[0])
    np.testing.assert_array_equal(env.render(), obs["rgb"])
    assert reward == pytest.approx(-np.linalg.norm(info["state"][:2] - info["goal_state"][:2]))
    assert terminated is False and truncated is False and info["is_success"] is False
    # seed=None draws the task from np_random: reproducible after a seeded reset.
    first = [env.reset()[1]["state"] for _ in range(2)]
    env.reset(seed=11)
    again = [env.reset()[1]["state"] for _ in range(2)]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[0], first[1])


def test_gym_env_terminates_on_success() -> None:
    env = gymnasium.make(ENV_ID, goal_radius=2.0)  # every position is a success
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(np.zeros(2, np.float32))
    assert terminated and info["is_success"] and reward <= 0


def test_vector_env_shapes() -> None:
    envs = TwoRoomVectorEnv(num_envs=4, image_size=32)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.single_action_space.shape == (2,) and envs.action_space.shape == (4, 2)
    assert envs.single_observation_space["rgb"].shape == (32, 32, 3)
    assert envs.observation_space["rgb"].shape == (4, 32, 32, 3)
    obs, info = envs.reset(seed=5)
    assert envs.observation_space.contains(obs)
    assert info["state"].shape == (4, 4) and info["is_success"].shape == (4,)
    # seed s gives env i the task of seed s + i.
    ref = TwoRoom(4, TwoRoomConfig(image_size=32))
    np.testing.assert_array_equal(obs["rgb"], ref.reset([5, 6, 7, 8]))
    envs.action_space.seed(0)
    obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert envs.observation_space.contains(obs)
    assert rewards.shape == terminated.shape == truncated.shape == (4,)
    assert terminated.dtype == bool and truncated.dtype == bool
    with pytest.raises(ValueError, match="4 seeds"):
        envs.reset(seed=[1, 2])


def test_vector_env_next_step_autoreset_on_termination() -> None:
    envs = TwoRoomVectorEnv(num_envs=3, goal_radius=2.0)  # success on every step
    _, info = envs.reset(seed=0)
    _, _, terminated, truncated, info = envs.step(np.zeros((3, 2), np.float32))
    assert terminated.all() and not truncated.any()
    final_goal = info["goal_state"]
    obs, rewards, terminated, truncated, info = envs.step(np.ones((3, 2), np.float32))
    assert not terminated.any() and not truncated.any() and (rewards == 0).all()
    assert not np.array_equal(info["goal_state"], final_goal)  # a new task
    # The reset envs ignored their actions: they sit at the start of tasks seeded from np_random.
    rng, _ = seeding.np_random(0)
    ref = TwoRoom(3, TwoRoomConfig(goal_radius=2.0))
    np.testing.assert_array_equal(obs["rgb"], ref.reset(rng.integers(2**31 - 1, size=3).tolist()))
    np.testing.assert_array_equal(info["state"], ref.state())
    _, _, terminated, _, _ = envs.step(np.zeros((3, 2), np.float32))
    assert terminated.all()


def test_vector_env_truncates_and_resets() -> None:
    envs = gymnasium.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", max_episode_steps=3
    )
    assert isinstance(envs, TwoRoomVectorEnv)
    _, info = envs.reset(seed=1)
    start = info["state"]
    for t in range(3):
        _, _, terminated, truncated, info = envs.step(np.zeros((2, 2), np.float32))
        assert not terminated.any() and truncated.all() == (t == 2)
    np.testing.assert_array_equal(info["state"], start)  # zero actions: did not move
    _, _, _, truncated, info = envs.step(np.zeros((2, 2), np.float32))
    assert not truncated.any() and not np.array_equal(info["state"], start)
