"""The first N episodes of a collection, as the store a collection of N episodes writes.

Episode i of a collection is reset with seed data.seed + i, and a batch of num_envs episodes
seeds its explorer with its first seed (monde.data.batches): the first N episodes of a
collection of M ≥ N are, bit for bit, the episodes a collection of N writes. `first_episodes`
copies them into a store of their own, with the info that collection would record (its data
config, the coverage of those N episodes), so that a data-scaling curve collects its largest
size once (`benchmarks/data_scaling.py`) and `monde demo`/`monde bench` reuse each prefix as
their own data. The copy records where it came from (`prefix_of`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from monde.config import DataConfig, EnvConfig
from monde.config_io import to_dict
from monde.data.collection_settings import as_recorded, collection_differences
from monde.data.store import EpisodeStore
from monde.envs import make_env
from monde.envs.registry import close_env, env_entry
from monde.progress import tqdm

_COPY_BATCH = 50  # episodes per atomic append


def first_episodes(
    source: str | Path,
    out: str | Path,
    env_cfg: EnvConfig,
    data_cfg: DataConfig,
    progress: bool = True,
) -> EpisodeStore:
    """Copy the first `data_cfg.episodes` episodes of the collection at `source` into a new
    store at `out`, as `monde collect` with these configs would have written it.

    ValueError when `source` is incomplete, holds fewer episodes, or was collected with other
    settings than `data_cfg` apart from the episode count. The copy is marked complete last.
    """
    src = EpisodeStore(source)
    n = data_cfg.episodes
    if not src.completeness()["complete"] or len(src) < n:
        raise ValueError(
            f"{source}: {src.completeness()['summary']}; a prefix of {n} episodes needs a "
            f"complete collection of at least {n}"
        )
    info = src.meta["info"]
    if differ := collection_differences(info, env_cfg, replace(data_cfg, episodes=len(src))):
        raise ValueError(
            f"{source}: collected with other settings than asked ({'; '.join(differ)}); its "
            "first episodes are not those of this collection"
        )
    states = [src[i].states for i in range(n)]
    env = make_env(env_cfg.name, 1, **env_cfg.env_kwargs("collect"))
    measure = env_entry(env_cfg.name).coverage
    coverage = measure(np.stack(states), env.cfg) if measure is not None else {}
    close_env(env)
    copied = {
        **info,
        "env_config": to_dict(env_cfg),
        "data_config": to_dict(as_recorded(env_cfg, data_cfg)),
        "coverage": coverage,
        "prefix_of": {"store": str(Path(source).resolve()), "episodes": len(src)},
    }
    if info.get("collect_seconds") is not None:  # pro rata: what collecting these alone took
        copied["collect_seconds"] = info["collect_seconds"] * n / len(src)
    store = EpisodeStore.create(out, info=copied, expected_episodes=n)
    bar = tqdm(total=n, desc="copy", unit="ep", disable=not progress)
    try:
        for first in range(0, n, _COPY_BATCH):
            batch = src.episodes(range(first, min(n, first + _COPY_BATCH)))
            store.extend(batch)
            bar.update(len(batch))
    except Exception as err:
        store.mark_failed(f"copy failed: {type(err).__name__}: {err}")
        raise
    finally:
        bar.close()
    store.finish()
    return store
