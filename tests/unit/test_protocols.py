"""Evaluation protocols: Monde's env-sampled goals vs recorded-trajectory goals (swm)."""

import numpy as np

from monde.config import EnvConfig, EvalConfig
from monde.data.collect import make_policy
from monde.envs import make_env
from monde.eval.protocols import evaluation_env


def test_monde_protocol_keeps_the_environment_goals():
    env_cfg = EnvConfig(image_size=32)
    env = evaluation_env(env_cfg, EvalConfig(), 2, "door_explorer")
    env.reset([5, 6])
    plain = make_env("two_room", 2, image_size=32)
    plain.reset([5, 6])
    np.testing.assert_array_equal(env.goal_state(), plain.goal_state())


def test_swm_protocol_goal_is_the_collection_policy_after_goal_steps():
    env_cfg = EnvConfig(image_size=32)
    env = evaluation_env(env_cfg, EvalConfig(protocol="swm", goal_steps=7), 2, "door_explorer")
    env.reset([5, 6])
    replay = make_env("two_room", 2, image_size=32)
    replay.reset([5, 6])
    policy = make_policy("door_explorer", replay, replay.cfg, 5)
    policy.reset(replay.state())
    for _ in range(7):
        replay.step(policy.act(replay.state()))
    np.testing.assert_allclose(env.goal_state(), replay.state())
    assert not np.allclose(env.goal_state(), replay.goal_state())  # not the sampled goal
