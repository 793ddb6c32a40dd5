"""Evaluation protocols: Monde's env-sampled goals vs recorded-trajectory goals (swm)."""

import numpy as np
import pytest

from monde.config import DataConfig, EnvConfig, EvalConfig
from monde.envs import make_env
from monde.envs.policies import make_policy
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
    policy = make_policy("door_explorer", replay, 5)
    policy.reset(replay.state())
    for _ in range(7):
        replay.step(policy.act(replay.state()))
    np.testing.assert_allclose(env.goal_state(), replay.state())
    assert not np.allclose(env.goal_state(), replay.goal_state())  # not the sampled goal


def test_every_registered_policy_builds_and_unknown_names_are_refused():
    from monde.registry import POLICIES

    env = make_env("two_room", 2, image_size=32)
    env.reset([0, 1])
    for name in POLICIES:
        policy = make_policy(name, env, 0)
        policy.reset(env.state())
        assert policy.act(env.state()).shape == (2, env.action_dim)
    with pytest.raises(ValueError, match="data.policy must be one of .*'nope'"):
        make_policy("nope", env, 0)
    with pytest.raises(ValueError, match="data.policy must be one of .*did you mean 'random'"):
        DataConfig(policy="randon")


def test_every_env_declares_a_registered_default_policy_its_preset_uses():
    from pathlib import Path

    from monde.config import RunConfig
    from monde.config_io import load_config
    from monde.envs.registry import ENV_REGISTRY
    from monde.registry import POLICIES

    configs = Path(__file__).resolve().parents[2] / "configs"
    for name, entry in ENV_REGISTRY.items():
        assert entry.policy in POLICIES, name
        preset = configs / f"{name}.yaml"
        if preset.exists():
            assert load_config(RunConfig, preset, []).data.policy == entry.policy, name
