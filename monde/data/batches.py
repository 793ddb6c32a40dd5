"""The batches of a collection, in episode order: stepped in this process or in worker processes.

A collection of `data.episodes` episodes is cut into batches of `data.num_envs`: the batch that
starts at episode `first` resets its environments with seeds `data.seed + first + i` and seeds
its exploration policy with `data.seed + first`. A batch depends on nothing but `first` and the
configs, so any process can step it and get the same episodes bit for bit: `batch_stream` hands
batches to `workers` processes (spawned, never forked: torch and simulators do not survive a
fork) and yields them back in order, for the one writer (monde.data.collect) to append.

A worker that dies (killed, out of memory) stops the stream with `WorkerDiedError`; an exception
raised inside a worker is re-raised here as it was raised there.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

import numpy as np

from monde.config import DataConfig, EnvConfig
from monde.envs import make_env
from monde.envs.base import Env
from monde.envs.policies import make_policy
from monde.types import Episode

PARALLEL_MIN_STEPS = 10_000
"""Below this many environment steps to collect, `workers=None` collects in this process:
starting a worker (a fresh interpreter, its imports, its environments) costs about a second."""

IN_FLIGHT_PER_WORKER = 2
"""Batches handed out per worker ahead of the writer: each worker has its next batch queued
while the writer stores the oldest, and memory holds at most this many batches per worker."""


class WorkerDiedError(ValueError):
    """A collection worker process ended without returning its batch (killed, out of memory)."""


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows: no affinity mask
        return max(1, os.cpu_count() or 1)


def batch_starts(data_cfg: DataConfig, done: int = 0) -> range:
    """First episode of each batch still to collect when `done` episodes are stored: batches
    start at multiples of num_envs, as in an uninterrupted run."""
    n = data_cfg.num_envs
    return range(done - done % n, data_cfg.episodes, n)


def resolve_workers(workers: int, data_cfg: DataConfig, done: int = 0) -> int:
    """The worker processes a collection uses: `workers` (≥ 1) capped at the batches left; 0
    picks one per available core when at least PARALLEL_MIN_STEPS steps are left, else 1."""
    if workers < 0:
        raise ValueError(f"workers must be ≥ 0 (0: one per core), got {workers}")
    batches = len(batch_starts(data_cfg, done))
    if not workers:
        steps_left = (data_cfg.episodes - done) * data_cfg.steps_per_episode
        workers = available_cores() if steps_left >= PARALLEL_MIN_STEPS else 1
    return max(1, min(workers, batches))


def collect_batch(env: Env, data_cfg: DataConfig, first: int) -> list[Episode]:
    """The episodes first … first + count − 1 (count ≤ num_envs) stepped on `env`, whose batch
    size is num_envs. Each carries its reset seed in meta["seed"]."""
    count = min(data_cfg.num_envs, data_cfg.episodes - first)
    seeds = [data_cfg.seed + first + i for i in range(data_cfg.num_envs)]
    policy = make_policy(data_cfg.policy, env, seeds[0])
    frames = [env.reset(seeds)]  # list of (B, Hp, Wp, C)
    states = [env.state()]
    policy.reset(states[0])
    actions = []
    for _ in range(data_cfg.steps_per_episode):
        action = policy.act(states[-1])  # (B, A_env)
        frames.append(env.step(action))
        states.append(env.state())
        actions.append(action)
    frames_b = np.stack(frames, axis=1)  # (B, T+1, Hp, Wp, C)
    actions_b = np.stack(actions, axis=1).astype(np.float32)  # (B, T, A_env)
    states_b = np.stack(states, axis=1)  # (B, T+1, S)
    return [
        Episode(frames_b[i], actions_b[i], states_b[i], {"seed": seeds[i]}) for i in range(count)
    ]


# ---------------------------------------------------------------------- worker processes
_worker: dict = {}  # in a worker process: its environment batch and data config


def _start_worker(env_cfg: EnvConfig, data_cfg: DataConfig) -> None:
    """Worker initializer: one thread for every math library, Ctrl-C left to the parent (which
    stops the workers), and the worker's own environment batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"  # libraries loaded from now on (an env's simulator) read these
    if "torch" in sys.modules:  # an env that imports torch: one intra-op thread per worker
        sys.modules["torch"].set_num_threads(1)
    _worker["env"] = make_env(env_cfg.name, data_cfg.num_envs, **env_cfg.env_kwargs("collect"))
    _worker["data_cfg"] = data_cfg


def _batch_in_worker(first: int) -> list[Episode]:
    return collect_batch(_worker["env"], _worker["data_cfg"], first)


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the pool now: queued batches are dropped and running workers terminated and waited
    for (a batch in progress is recomputed by `--resume`; nothing of it was written)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API < 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


@contextmanager
def _parent_main_hidden() -> Iterator[None]:
    """While workers start, hide where the parent's `__main__` came from: a spawned process
    otherwise runs the parent's script again before its first task, and a script that calls
    `collect` without an `if __name__ == "__main__":` guard would then collect in every worker
    (multiprocessing refuses it). Workers need nothing from `__main__`: the batch function and
    the configs they receive are importable from monde."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _parallel_stream(
    env_cfg: EnvConfig, data_cfg: DataConfig, starts: Sequence[int], workers: int
) -> Iterator[list[Episode]]:
    import multiprocessing

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(env_cfg, data_cfg),
    )
    pending: deque[tuple[int, Future]] = deque()
    todo = iter(starts)
    finished = False
    try:
        with _parent_main_hidden():  # the pool starts its processes on the first submits
            for first in todo:
                pending.append((first, pool.submit(_batch_in_worker, first)))
                if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    break
        while pending:
            first, future = pending.popleft()
            try:
                batch = future.result()
            except BrokenProcessPool as err:
                raise WorkerDiedError(
                    f"a collection worker process died while collecting episodes from {first} "
                    f"on (killed, or out of memory?): {err}"
                ) from None
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_batch_in_worker, nxt)))
            yield batch
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:  # an error, an interruption, or the consumer stopped early
            _stop(pool)


def batch_stream(
    env: Env,
    env_cfg: EnvConfig,
    data_cfg: DataConfig,
    starts: Sequence[int],
    workers: int = 1,
) -> Iterator[list[Episode]]:
    """The batches starting at `starts`, in that order: stepped on `env` in this process when
    `workers` is 1, else by `workers` spawned processes with one environment batch each."""
    if workers <= 1:
        return (collect_batch(env, data_cfg, first) for first in starts)
    return _parallel_stream(env_cfg, data_cfg, starts, workers)
