"""When a store counts as collected with given settings (reuse by `monde demo`, --resume)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monde.config import DataConfig, EnvConfig
from monde.config_io import to_dict
from monde.data.collection_settings import collection_differences


def _info(env: dict, data: DataConfig) -> dict:
    """A store's info as `monde collect` writes it (data.policy 'auto' resolved)."""
    return {"env_config": env, "data_config": {**to_dict(data), "policy": "door_explorer"}}


def test_a_store_of_an_older_monde_matches_the_same_settings_written_today():
    older_env = {"name": "two_room", "image_size": 64, "random_wall": False,
                 "heldout_walls": False, "options": {}}  # fmt: skip
    assert collection_differences(_info(older_env, DataConfig()), EnvConfig(), DataConfig()) == []
    moved = {**older_env, "random_wall": True}
    assert collection_differences(_info(moved, DataConfig()), EnvConfig(), DataConfig()) == [
        "env.options: {'random_wall': True} → {}"
    ]
    walls = EnvConfig(options={"random_wall": True})
    assert collection_differences(_info(moved, DataConfig()), walls, DataConfig()) == []


def test_only_the_settings_that_decide_the_episodes_are_compared():
    info = _info(to_dict(EnvConfig()), DataConfig())
    assert collection_differences(info, EnvConfig(), DataConfig(val_fraction=0.3)) == []
    assert collection_differences(info, EnvConfig(image_size=32), DataConfig(episodes=7)) == [
        "env.image_size: 64 → 32",
        "data.episodes: 200 → 7",
    ]
    assert collection_differences({}, EnvConfig(), DataConfig()) == [
        "the store was not written by `monde collect`"
    ]


def test_auto_policy_is_the_envs_own_default_as_collection_recorded_it():
    info = _info(to_dict(EnvConfig()), DataConfig())
    assert DataConfig().policy == "auto"
    assert collection_differences(info, EnvConfig(), DataConfig(policy="door_explorer")) == []
    assert collection_differences(info, EnvConfig(), DataConfig(policy="random")) == [
        "data.policy: 'door_explorer' → 'random'"
    ]


def test_collection_records_the_policy_auto_chose_and_resumes_with_auto(tmp_path):
    from monde.data.collect import collect
    from monde.data.store import EpisodeStore

    env, data = EnvConfig(image_size=16), DataConfig(episodes=2, steps_per_episode=3, num_envs=1)
    collect(env, data, tmp_path / "s", progress=False)
    info = EpisodeStore(tmp_path / "s").meta["info"]
    assert info["data_config"]["policy"] == info["policy"] == "door_explorer"
    collect(env, data, tmp_path / "s", progress=False, resume=True)  # nothing differs
    with pytest.raises(ValueError, match="data.policy: 'door_explorer' → 'random'"):
        collect(env, replace(data, policy="random"), tmp_path / "s", progress=False, resume=True)


def test_the_swm_protocol_walks_the_envs_own_policy_under_auto():
    from monde.config import EvalConfig
    from monde.eval.protocols import evaluation_env

    env = evaluation_env(EnvConfig(image_size=16), EvalConfig(protocol="swm"), 2, "auto")
    env.reset([0, 1])
    assert env.goal_state().shape[0] == 2
