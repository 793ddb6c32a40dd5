"""When a store counts as collected with given settings (reuse by `monde demo`, --resume)."""

from __future__ import annotations

from monde.config import DataConfig, EnvConfig
from monde.config_io import to_dict
from monde.data.collection_settings import collection_differences


def _info(env: dict, data: DataConfig) -> dict:
    return {"env_config": env, "data_config": to_dict(data)}


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
