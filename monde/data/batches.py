"""The batches of a collection, in episode order: stepped in this process or in worker processes.

A collection of `data.episodes` episodes is cut into batches of `data.num_envs`: the batch that
starts at episode `first` resets its environments with seeds `data.seed + first + i` and seeds
its exploration policy with `data.seed + first`. A batch depends on nothing but `first` and the
configs, so any process can step it and get the same episodes bit for bit: `batch_stream` hands
batches to `workers` processes (spawned, never forked: torch and simulators do not survive a
fork) and yields them back in order, for the one writer (monde.data.collect) to append.

With `workers=0` the choice is measured: the first batch is stepped here, and its stepping and
writing times decide whether worker processes pay (`auto_workers`). They pay when stepping
dominates (PushT's simulator and renderer); when the writer's hashing and compression cost more
than stepping (TwoRoom's numpy batch), more steppers cannot make the one writer faster.

A worker that dies (killed, out of memory) stops the stream with `WorkerDiedError`; an exception
raised inside a worker is re-raised here as it was raised there.
"""

from __future__ import annotations

import os
import signal
import sys
import time
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
from monde.signals import die_with_parent
from monde.types import Episode

PARALLEL_MIN_SECONDS = 5.0
"""`auto_workers` starts workers only for at least this much serial collection still to do:
starting one (a fresh interpreter, its imports, its environments) costs about a second."""

STEP_TO_WRITE_MIN = 2.0
"""`auto_workers` starts workers only when stepping a batch takes at least this many times as
long as writing it: the one writer must keep up with two steppers for a second one to pay."""

STOP_TIMEOUT_S = 10.0
"""How long a stopped worker (and the pool's manager thread) may take to end before it is killed."""

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
    """The worker processes asked for, capped at the batches left (at least 1); 0 (chosen after
    the first batch by `auto_workers`) stays 0."""
    if workers < 0:
        raise ValueError(f"workers must be ≥ 0 (0: chosen from the first batch), got {workers}")
    return workers and max(1, min(workers, len(batch_starts(data_cfg, done))))


def auto_workers(step_s: float, write_s: float, batches_left: int, cores: int) -> int:
    """Worker processes for `batches_left` batches that each take `step_s` seconds to step and
    `write_s` to write: 1 (step them here) unless at least PARALLEL_MIN_SECONDS of collection
    are left and stepping takes STEP_TO_WRITE_MIN × the writing; then as many as there are
    `cores` and batches, and as the writer keeps up with (step_s / write_s)."""
    if batches_left * (step_s + write_s) < PARALLEL_MIN_SECONDS:
        return 1
    if step_s < STEP_TO_WRITE_MIN * write_s:
        return 1
    return max(1, min(cores, batches_left, int(step_s / max(write_s, 1e-9))))


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
    stops the workers), an end with the parent however it ends (a killed parent's idle workers
    would otherwise wait for work forever), and the worker's own environment batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"  # libraries loaded from now on (an env's simulator) read these
    _worker["env"] = make_env(env_cfg.name, data_cfg.num_envs, **env_cfg.env_kwargs("collect"))
    _worker["data_cfg"] = data_cfg
    if "torch" in sys.modules:  # an env that imports torch: one intra-op thread per worker
        sys.modules["torch"].set_num_threads(1)


def _batch_in_worker(first: int) -> list[Episode]:
    return collect_batch(_worker["env"], _worker["data_cfg"], first)


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the pool now: queued batches are dropped and running workers terminated and waited
    for (a batch in progress is recomputed by `--resume`; nothing of it was written).

    The pool's own manager thread also waits for its processes; two threads waiting for one
    child race (the loser's waitpid fails and reads "still running"), so the manager thread is
    waited for first, and any worker still alive after that is killed."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API < 3.14
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    if manager is not None:
        manager.join(timeout=STOP_TIMEOUT_S)
    for process in processes:
        process.join(timeout=STOP_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join(timeout=STOP_TIMEOUT_S)


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

    def submit(first: int) -> Future:
        """The batch from `first` submitted; the pool starts worker processes here. Starting
        one can fail when a sibling dies meanwhile (its pipes closed under the new process:
        "bad value(s) in fds_to_keep"): that is the dead worker's error, reported as such."""
        try:
            return pool.submit(_batch_in_worker, first)
        except (ValueError, OSError) as err:
            raise BrokenProcessPool(f"a worker process could not be started: {err}") from err

    todo = iter(starts)
    next_out = starts[0] if starts else 0  # the first episode of the batch the writer awaits
    finished = False
    try:
        try:
            with _parent_main_hidden():  # the pool starts its processes on the first submits
                for first in todo:
                    pending.append((first, submit(first)))
                    if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                        break
            while pending:
                next_out, future = pending[0]
                batch = future.result()
                pending.popleft()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append((nxt, submit(nxt)))
                yield batch
        except BrokenProcessPool as err:  # from a result, or from a submit to a broken pool
            raise WorkerDiedError(
                f"a collection worker process died while collecting episodes from {next_out} "
                f"on (killed, or out of memory?): {err}"
            ) from None
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:  # an error, an interruption, or the consumer stopped early
            _stop(pool)


class BatchStream:
    """The batches starting at `starts`, in that order: stepped on `env` in this process when
    `workers` is 1, by `workers` spawned processes (one environment batch each) when more, and
    with 0 as `auto_workers` decides from the first batch. `workers` is then the number used;
    `close()` stops worker processes still running (the iterator ends early)."""

    def __init__(
        self,
        env: Env,
        env_cfg: EnvConfig,
        data_cfg: DataConfig,
        starts: Sequence[int],
        workers: int = 1,
    ) -> None:
        self.env, self.env_cfg, self.data_cfg = env, env_cfg, data_cfg
        self.starts, self.workers = list(starts), workers
        self._batches = self._iterate()

    def _serial(self, starts: Sequence[int]) -> Iterator[list[Episode]]:
        return (collect_batch(self.env, self.data_cfg, first) for first in starts)

    def _iterate(self) -> Iterator[list[Episode]]:
        starts = self.starts
        if self.workers == 0 and starts:
            clock = time.perf_counter()
            batch = collect_batch(self.env, self.data_cfg, starts[0])
            step_s = time.perf_counter() - clock
            clock = time.perf_counter()
            yield batch
            write_s = time.perf_counter() - clock  # the consumer's time: writing the batch
            starts = starts[1:]
            self.workers = auto_workers(step_s, write_s, len(starts), available_cores())
        if self.workers <= 1:
            yield from self._serial(starts)
        else:
            yield from _parallel_stream(self.env_cfg, self.data_cfg, starts, self.workers)

    def __iter__(self) -> Iterator[list[Episode]]:
        return self._batches

    def close(self) -> None:
        self._batches.close()
