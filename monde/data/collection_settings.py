"""Whether a store was collected with given settings: the one comparison that decides when a
collection may be resumed or a store reused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from monde.config import DataConfig, EnvConfig
from monde.config_io import ConfigError, from_dict, to_dict
from monde.envs.registry import collection_policy

COLLECTION_KEYS = ("episodes", "steps_per_episode", "policy", "num_envs", "seed")
"""The data settings that decide which episodes a collection writes (val_fraction does not)."""


def _stored_env(stored: Mapping) -> dict:
    """The env settings a store recorded, read as a config today reads them (older keys such as
    random_wall move into options), so that a store of an older Monde compares equal."""
    try:
        return to_dict(from_dict(EnvConfig, stored, source="the store's env_config"))
    except ConfigError:
        return dict(stored)  # a key this Monde no longer knows: compared as written


def as_recorded(env_cfg: EnvConfig, data_cfg: DataConfig) -> DataConfig:
    """`data_cfg` as a store records it: data.policy 'auto' resolved to the env's own policy,
    the name that ran."""
    return replace(data_cfg, policy=collection_policy(env_cfg.name, data_cfg.policy))


def collection_differences(info: Mapping, env_cfg: EnvConfig, data_cfg: DataConfig) -> list[str]:
    """`section.key: stored → now` for each collection setting that differs between a store's
    recorded `info` and these configs; one entry when the store was not written by a collection.
    """
    if "env_config" not in info or "data_config" not in info:
        return ["the store was not written by `monde collect`"]
    stored_env, now_env = _stored_env(info["env_config"]), to_dict(env_cfg)
    differ = [
        f"env.{k}: {stored_env[k]!r} → {now_env[k]!r}"
        for k in sorted(stored_env.keys() & now_env.keys())
        if stored_env[k] != now_env[k]
    ]
    stored_data = info["data_config"]
    now_data = {k: getattr(as_recorded(env_cfg, data_cfg), k) for k in COLLECTION_KEYS}
    differ += [
        f"data.{k}: {stored_data.get(k)!r} → {now_data[k]!r}"
        for k in COLLECTION_KEYS
        if stored_data.get(k) != now_data[k]
    ]
    return differ


def resumable_differences(info: Mapping, env_cfg: EnvConfig, data_cfg: DataConfig) -> list[str]:
    """`collection_differences`, less a data.episodes larger than the store's: episode i depends
    only on data.seed + i (and its batch's first seed), so a store continued to more episodes
    holds exactly the collection of that size (`monde collect --resume` grows it)."""
    differ = collection_differences(info, env_cfg, data_cfg)
    recorded = info.get("data_config", {}).get("episodes")
    if isinstance(recorded, int) and data_cfg.episodes > recorded:
        differ = [d for d in differ if not d.startswith("data.episodes:")]
    return differ
