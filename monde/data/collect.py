"""Collection loop: run a batched environment under an exploration policy, store episodes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from monde.config import DataConfig, EnvConfig
from monde.config_io import to_dict
from monde.data.batches import BatchStream, WorkerDiedError, batch_starts, resolve_workers
from monde.data.collection_settings import as_recorded, resumable_differences
from monde.data.store import EpisodeStore, is_store
from monde.envs import make_env
from monde.envs.registry import close_env, env_entry
from monde.progress import tqdm


def _reopen(out: Path, env_cfg: EnvConfig, data_cfg: DataConfig, resume: bool) -> EpisodeStore:
    """The store an earlier collection left at `out`, when --resume may continue it."""
    store = EpisodeStore(out)
    state = store.completeness()
    if not resume:
        hint = (
            "continue it with `monde collect --resume` (same config), or delete it"
            if state["complete"] is not True
            else "grow it with `monde collect --resume` and a larger data.episodes, delete it "
            "or pick another folder"
        )
        raise FileExistsError(f"{out} already holds a store ({state['summary']}); {hint}")
    differ = resumable_differences(store.meta["info"], env_cfg, data_cfg)
    if differ:
        raise ValueError(
            f"{out}: cannot resume: it was collected with other settings ({'; '.join(differ)})"
        )
    return store


def collect(
    env_cfg: EnvConfig,
    data_cfg: DataConfig,
    out: str | Path,
    progress: bool = True,
    resume: bool = False,
    workers: int | None = None,
) -> dict:
    """Collect `data_cfg.episodes` episodes into a new store at `out`; returns coverage stats.

    Episode i is reset with seed data_cfg.seed + i and the explorer of each batch of num_envs
    episodes is seeded by its first seed, so the same config re-creates the dataset exactly.
    With `resume`, an interrupted collection at `out` (same settings) continues where it
    stopped and ends holding exactly the episodes an uninterrupted run writes; a store given a
    larger data.episodes (all else the same) grows to the collection of that size. The store is
    marked complete as the last write; an error marks it failed.

    `workers` processes (default data_cfg.workers; 0: chosen from the first batch's stepping
    and writing times, monde.data.batches.auto_workers) step the batches; this process writes
    them in episode order, so the store is the same whatever the number of workers.
    """
    clock = time.perf_counter()
    out = Path(out)
    # 'auto' is the env's own policy; the store records the name it ran
    data_cfg = as_recorded(env_cfg, data_cfg)
    store = _reopen(out, env_cfg, data_cfg, resume) if is_store(out) else None
    if store is not None and store.meta.get("complete") is True and len(store) >= data_cfg.episodes:
        print(f"{out} already holds the {len(store)} collected episodes; nothing to resume")
        return store.meta["info"].get("coverage", {})
    env = make_env(env_cfg.name, data_cfg.num_envs, **env_cfg.env_kwargs("collect"))
    done, spent = 0, 0.0
    if store is None:
        store = EpisodeStore.create(
            out,
            info={
                "env": env_cfg.name,
                "image_size": env_cfg.image_size,
                "policy": data_cfg.policy,
                "fps": getattr(env, "fps", None),
                "frameskip": 1,
                "action_low": -1.0,
                "action_high": 1.0,
                "seed": data_cfg.seed,
                "action_dim": env.action_dim,
                "state_dim": env.state_dim,
                "state_names": list(env.state_names),
                "env_config": to_dict(env_cfg),
                "data_config": to_dict(data_cfg),
            },
            expected_episodes=data_cfg.episodes,
        )
    else:
        done, spent = len(store), float(store.meta["info"].get("collect_seconds") or 0.0)
        print(f"resuming {out}: {done} of {data_cfg.episodes} episodes already stored")
        store.meta["info"]["data_config"] = to_dict(data_cfg)  # a grown store records its size
        store.resume_writing(expected_episodes=data_cfg.episodes)
    # the states of the episodes stored before an interruption count towards coverage
    all_states = [store[i].states for i in range(done)]
    starts = batch_starts(data_cfg, done)
    workers = resolve_workers(data_cfg.workers if workers is None else workers, data_cfg, done)
    bar = tqdm(
        total=data_cfg.episodes, initial=done, desc="collect", unit="ep", disable=not progress
    )
    batches = BatchStream(env, env_cfg, data_cfg, starts, workers)
    try:
        for first, batch in zip(starts, batches, strict=True):
            keep = batch[max(0, done - first) :]  # a resumed batch skips stored episodes
            # collect_seconds (committed with the episodes) lets a later run that reuses this
            # store report the collection time, across interruptions too
            store.meta["info"]["collect_seconds"] = spent + time.perf_counter() - clock
            store.meta["info"]["collect_workers"] = batches.workers  # processes stepping now
            store.extend(keep)
            all_states.extend(e.states.astype(np.float32) for e in keep)  # as stored
            bar.update(len(keep))
    except KeyboardInterrupt:
        store.mark_failed("interrupted")
        raise
    except WorkerDiedError as err:
        store.mark_failed(f"collection failed: {err}")
        raise WorkerDiedError(
            f"{out}: {err}; the store holds {len(store)} of {data_cfg.episodes} episodes, "
            "marked incomplete: continue it with `monde collect --resume`"
        ) from None
    except Exception as err:
        store.mark_failed(f"collection failed: {type(err).__name__}: {err}")
        raise
    finally:
        bar.close()
        batches.close()  # stops worker processes still running
    measure = env_entry(env_cfg.name).coverage  # the env's coverage statistics, if it has any
    stats = measure(np.stack(all_states), env.cfg) if measure is not None else {}
    close_env(env)
    store.meta["info"].update(
        coverage=stats,
        collect_seconds=spent + time.perf_counter() - clock,
        collect_workers=batches.workers,
    )
    store.finish()  # the last write: the store is complete
    return stats
