"""Collection across worker processes: the same episodes as one process, a dead worker leaves an
incomplete store and one line saying so, and --resume with workers completes the same store.
Episodes are seeded by their index: the first N of a collection are the collection of N."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from dataclasses import replace

import numpy as np
import pytest

import monde.data.collect as collect_module
from monde.cli import main
from monde.config import DataConfig, EnvConfig
from monde.data.batches import auto_workers, batch_starts, resolve_workers
from monde.data.collect import collect
from monde.data.collection_settings import collection_differences
from monde.data.prefix import first_episodes
from monde.data.store import EpisodeStore

STORED_ARRAYS = ("frames", "actions", "states", "episodes", "hashes", "key_hashes")


def tiny(episodes: int = 7) -> tuple[EnvConfig, DataConfig]:
    """TwoRoom with its door explorer: 7 episodes in batches of 2 (the last one short)."""
    return EnvConfig(image_size=16), DataConfig(episodes=episodes, steps_per_episode=4, num_envs=2)


def assert_same_store(a: EpisodeStore, b: EpisodeStore) -> None:
    """Every stored array bit-equal, and the same features and coverage."""
    assert len(a) == len(b)
    for key in STORED_ARRAYS:
        rows = int(a.meta["num_frames"]) if key in ("frames", "actions", "states") else len(a)
        np.testing.assert_array_equal(a.reader(key).range(0, rows), b.reader(key).range(0, rows))
    assert a.meta["features"] == b.meta["features"]
    assert a.meta["info"]["coverage"] == b.meta["info"]["coverage"]


def test_two_workers_write_the_episodes_one_process_writes(tmp_path):
    env_cfg, data_cfg = tiny()
    serial_stats = collect(env_cfg, data_cfg, tmp_path / "serial", progress=False, workers=1)
    parallel_stats = collect(env_cfg, data_cfg, tmp_path / "parallel", progress=False, workers=2)
    assert parallel_stats == serial_stats
    serial, parallel = EpisodeStore(tmp_path / "serial"), EpisodeStore(tmp_path / "parallel")
    assert parallel.completeness()["summary"] == "complete: 7 episodes"
    assert_same_store(serial, parallel)
    for a, b in zip(serial, parallel, strict=True):  # and each episode reads back the same
        for key in ("frames", "actions", "states"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_workers_are_capped_by_the_batches_and_chosen_from_the_first_batch():
    _, data_cfg = tiny()  # 4 batches: 0, 2, 4, 6
    assert list(batch_starts(data_cfg, done=3)) == [2, 4, 6]
    assert resolve_workers(8, data_cfg) == 4 and resolve_workers(2, data_cfg, done=5) == 2
    assert resolve_workers(0, data_cfg) == 0  # chosen once the first batch is timed
    with pytest.raises(ValueError, match="workers must be ≥ 0"):
        resolve_workers(-1, data_cfg)
    # PushT-like: stepping 28 s, writing 0.3 s per batch → every core
    assert auto_workers(28.0, 0.3, batches_left=99, cores=16) == 16
    assert auto_workers(28.0, 0.3, batches_left=3, cores=16) == 3  # no more than batches
    assert auto_workers(28.0, 7.0, batches_left=99, cores=16) == 4  # the writer keeps up with 4
    # TwoRoom-like: writing (hashing, compressing) costs more than stepping → this process
    assert auto_workers(0.3, 0.8, batches_left=99, cores=16) == 1
    assert auto_workers(0.3, 0.01, batches_left=10, cores=16) == 1  # 3 s left: not worth it


def test_the_measured_choice_keeps_a_small_collection_in_process(tmp_path):
    env_cfg, data_cfg = tiny()
    collect(env_cfg, data_cfg, tmp_path / "auto", progress=False)  # data.workers = 0
    assert EpisodeStore(tmp_path / "auto").meta["info"]["collect_workers"] == 1


def kill_a_worker(
    found: list[int], stop: threading.Event, before: set[int], started: int = 2
) -> None:
    """SIGKILL one child process this process starts (a collection worker), not one
    already running (`before`: e.g. a data-loader worker another test left), once the pool has
    started all `started` of its workers: a worker that dies while the pool still spawns one
    races CPython 3.11's own pool thread (PytestUnhandledThreadExceptionWarning, "dictionary
    changed size during iteration"; test_a_worker_that_cannot_start_is_a_dead_worker covers
    that case). Polls until `stop` is set (no fixed deadline: a loaded machine can take long to
    start the pool, and a poller outliving its test could kill another test's child)."""
    while not stop.is_set():
        children = [c for c in multiprocessing.active_children() if c.pid not in before]
        if len(children) >= started:
            found.append(children[0].pid)
            os.kill(children[0].pid, signal.SIGKILL)
            return
        stop.wait(0.005)


def test_a_killed_worker_leaves_an_incomplete_store_and_one_line(tmp_path, capsys):
    out = tmp_path / "data"
    args = ["collect", "--out", str(out), "--workers", "2", "--quiet", "env.image_size=16"]
    args += ["data.episodes=12", "data.steps_per_episode=4", "data.num_envs=2"]
    killed: list[int] = []
    stop = threading.Event()
    before = {child.pid for child in multiprocessing.active_children()}
    killer = threading.Thread(target=kill_a_worker, args=(killed, stop, before))
    killer.start()
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker process was started"
    message = str(exit_info.value.code)
    assert "\n" not in message and message.startswith(f"monde collect: error: {out}: ")
    assert "worker process died" in message and "monde collect --resume" in message
    state = EpisodeStore(out).completeness()
    assert state["complete"] is False and state["expected"] == 12
    assert "collection failed: a collection worker process died" in state["summary"]
    main([*args, "--resume"])  # continued with 2 workers, same config
    env_cfg, data_cfg = EnvConfig(image_size=16), tiny(12)[1]
    collect(env_cfg, data_cfg, tmp_path / "serial", progress=False, workers=1)
    assert_same_store(EpisodeStore(tmp_path / "serial"), EpisodeStore(out))
    assert EpisodeStore(out).completeness()["summary"] == "complete: 12 episodes"


def test_a_worker_that_cannot_start_is_a_dead_worker(tmp_path, monkeypatch):
    """Starting a worker fails with "bad value(s) in fds_to_keep" when a sibling dies while it
    spawns: the same incomplete store and error as a killed worker, not a bare ValueError."""
    from concurrent.futures import ProcessPoolExecutor

    import monde.data.batches as batches_module

    class SecondStartFails(ProcessPoolExecutor):
        submits = 0

        def submit(self, fn, /, *args, **kwargs):
            SecondStartFails.submits += 1
            if SecondStartFails.submits == 2:
                raise ValueError("bad value(s) in fds_to_keep")
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(batches_module, "ProcessPoolExecutor", SecondStartFails)
    env_cfg, data_cfg = tiny()
    with pytest.raises(batches_module.WorkerDiedError, match="worker process died.*fds_to_keep"):
        collect(env_cfg, data_cfg, tmp_path / "data", progress=False, workers=2)
    state = EpisodeStore(tmp_path / "data").completeness()
    assert state["complete"] is False
    assert "collection failed: a collection worker process died" in state["summary"]


class Killed(BaseException):
    """Stands in for kill -9 of the writer: escapes every handler, so nothing is marked."""


def test_an_interrupted_parallel_collection_stops_its_workers_and_resumes(tmp_path, monkeypatch):
    """The writer stops while workers step (resuming with workers: the killed-worker test)."""
    env_cfg, data_cfg = tiny()
    collect(env_cfg, data_cfg, tmp_path / "whole", progress=False, workers=1)
    real_extend = EpisodeStore.extend
    writes: list[int] = []

    def extend_then_die(self, episodes):
        if len(writes) == 2:
            raise Killed
        writes.append(len(episodes))
        return real_extend(self, episodes)

    monkeypatch.setattr(collect_module.EpisodeStore, "extend", extend_then_die)
    before = {child.pid for child in multiprocessing.active_children()}
    with pytest.raises(Killed):
        collect(env_cfg, data_cfg, tmp_path / "cut", progress=False, workers=2)
    monkeypatch.setattr(collect_module.EpisodeStore, "extend", real_extend)
    left = [c for c in multiprocessing.active_children() if c.pid not in before]
    assert left == []  # the workers were stopped and reaped
    cut = EpisodeStore(tmp_path / "cut")
    assert cut.completeness()["summary"] == "incomplete: 4 of 7 episodes (interrupted)"
    collect(env_cfg, data_cfg, tmp_path / "cut", progress=False, resume=True, workers=1)
    assert_same_store(EpisodeStore(tmp_path / "whole"), EpisodeStore(tmp_path / "cut"))


def test_the_first_episodes_of_a_collection_are_the_smaller_collection(tmp_path):
    env_cfg, data_cfg = tiny(7)
    collect(env_cfg, data_cfg, tmp_path / "seven", progress=False, workers=1)
    small = replace(data_cfg, episodes=3)  # a short last batch: episode 2 of batch 2–3
    collect(env_cfg, small, tmp_path / "three", progress=False, workers=1)
    copy = first_episodes(tmp_path / "seven", tmp_path / "prefix", env_cfg, small, progress=False)
    assert_same_store(EpisodeStore(tmp_path / "three"), copy)
    assert copy.completeness()["summary"] == "complete: 3 episodes"
    assert collection_differences(copy.meta["info"], env_cfg, small) == []  # reused as such
    with pytest.raises(ValueError, match=r"complete collection of at least 8"):
        first_episodes(tmp_path / "seven", tmp_path / "x", env_cfg, replace(data_cfg, episodes=8))
    with pytest.raises(ValueError, match=r"other settings .*data\.seed: 0 → 1"):
        first_episodes(tmp_path / "seven", tmp_path / "y", env_cfg, replace(small, seed=1))


def test_resume_with_more_episodes_grows_a_store_to_the_larger_collection(tmp_path):
    env_cfg, data_cfg = tiny(7)
    collect(env_cfg, data_cfg, tmp_path / "seven", progress=False, workers=1)
    small = replace(data_cfg, episodes=3)  # ends inside a batch: the growth finishes it
    collect(env_cfg, small, tmp_path / "grown", progress=False, workers=1)
    with pytest.raises(FileExistsError, match=r"complete: 3 episodes.*larger data\.episodes"):
        collect(env_cfg, data_cfg, tmp_path / "grown", progress=False)
    collect(env_cfg, data_cfg, tmp_path / "grown", progress=False, resume=True, workers=2)
    grown = EpisodeStore(tmp_path / "grown")
    assert_same_store(EpisodeStore(tmp_path / "seven"), grown)
    assert grown.completeness()["summary"] == "complete: 7 episodes"
    assert collection_differences(grown.meta["info"], env_cfg, data_cfg) == []  # reused as 7
    with pytest.raises(ValueError, match=r"cannot resume.*data\.episodes: 7 → 3"):
        collect(env_cfg, small, tmp_path / "grown", progress=False, resume=True)
    with pytest.raises(ValueError, match=r"cannot resume.*data\.seed: 0 → 1"):
        collect(env_cfg, replace(data_cfg, episodes=9, seed=1), tmp_path / "grown", resume=True)
