"""Stores that say whether they are complete, resumed collections, failed imports marked,
quarantined episodes reported as such, and `monde … | head` without a traceback."""

import json
import os
import sys

import numpy as np
import pytest
import zarr

import monde.data.collect as collect_module
from monde.cli import main
from monde.config import DataConfig, EnvConfig
from monde.data.collect import collect
from monde.data.convert import convert
from monde.data.store import EpisodeStore, StoreError
from monde.data.verify import exit_code, repair, verify
from monde.types import Episode


def episode(steps: int, offset: int = 0) -> Episode:
    rng = np.random.default_rng(offset)
    return Episode(
        rng.integers(0, 255, (steps + 1, 8, 8, 3), dtype=np.uint8),
        rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
        np.full((steps + 1, 3), offset, np.float32),
    )


def partial_store(path, written: int, expected: int) -> EpisodeStore:
    """What `kill -9` of a writer leaves: `written` of `expected` episodes, no completion mark."""
    store = EpisodeStore.create(
        path, info={"action_low": -1.0, "action_high": 1.0}, expected_episodes=expected
    )
    for i in range(written):
        store.append(episode(6, i))
    return store


def cli(capsys, *argv: str) -> tuple[int, str]:
    """(exit status, stdout) of `monde ARGV`."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
        print(stop.code, file=sys.stderr)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_killed_before_the_first_episode_is_empty_and_never_trains(tmp_path, capsys):
    data = tmp_path / "data"
    partial_store(data, 0, 300)
    assert sorted(p.name for p in data.iterdir()) == ["zarr.json"]
    code, out = cli(capsys, "data", "verify", str(data), "--quiet")
    assert code == 3 and "0/0 episodes intact; empty: 0 of 300 episodes (interrupted)" in out
    code, out = cli(capsys, "data", "info", str(data))
    assert json.loads(out)["completeness"] == "empty: 0 of 300 episodes (interrupted)"
    for extra in ([], ["--allow-incomplete-data"]):  # an empty store always refuses
        code, out = cli(capsys, "train", "--data", str(data), "--run", str(tmp_path / "r"), *extra)
        assert code == 1 and "KeyError" not in out
        assert f"monde train: error: {data}: no episodes to train on (empty: 0 of 300" in out
    assert not (tmp_path / "r").exists()


def test_interrupted_store_says_so_and_trains_only_when_told(tmp_path, capsys):
    data = tmp_path / "data"
    store = partial_store(data, 3, 5)
    code, out = cli(capsys, "data", "verify", str(data), "--quiet")
    assert code == 3 and "3/3 episodes intact; incomplete: 3 of 5 episodes (interrupted)" in out
    assert json.loads(cli(capsys, "data", "info", str(data))[1])["completeness"] == (
        "incomplete: 3 of 5 episodes (interrupted)"
    )
    with pytest.raises(StoreError, match=r"data: incomplete: 3 of 5 episodes \(interrupted\); "):
        EpisodeStore(data).require_trainable()
    EpisodeStore(data).require_trainable(allow_incomplete=True)
    with pytest.raises(StoreError, match="holds 3 episodes, 5 expected"):
        store.finish()
    store.extend([episode(6, 3), episode(6, 4)])
    store.finish()
    code, out = cli(capsys, "data", "verify", str(data), "--quiet")
    assert code == 0 and out.strip().endswith("5/5 episodes intact")
    assert EpisodeStore(data).completeness()["summary"] == "complete: 5 episodes"


def test_train_flag_lets_an_incomplete_store_through(tmp_path, capsys):
    data, run = tmp_path / "data", tmp_path / "run"
    partial_store(data, 3, 5)
    code, out = cli(capsys, "train", "--data", str(data), "--run", str(run))
    assert code == 1 and "incomplete: 3 of 5 episodes (interrupted)" in out
    assert "--allow-incomplete-data" in out
    code, out = cli(
        capsys, "train", "--data", str(data), "--run", str(run), "--allow-incomplete-data"
    )
    assert code == 1 and "incomplete" not in out and "model.image_size" in out  # past the gate


def test_a_store_being_written_is_not_called_interrupted(tmp_path):
    store = partial_store(tmp_path / "d", 1, 4)
    store.meta["writer"]["pid"] = os.getppid()  # a live process other than this one
    store._commit()
    assert EpisodeStore(tmp_path / "d").completeness()["reason"] == (
        f"still being written by process {os.getppid()}"
    )


def test_a_writer_that_fails_inside_with_marks_the_store(tmp_path):
    with pytest.raises(RuntimeError), EpisodeStore.create(tmp_path / "d", info={}) as store:
        store.append(episode(4))
        raise RuntimeError("camera unplugged")
    state = EpisodeStore(tmp_path / "d").completeness()
    assert state["summary"] == (
        "incomplete: 1 episodes (writer failed: RuntimeError: camera unplugged)"
    )
    with EpisodeStore.create(tmp_path / "ok", info={}) as store:
        store.append(episode(4))
    assert EpisodeStore(tmp_path / "ok").completeness()["complete"] is True


def test_stores_from_before_completeness_stay_readable(tmp_path, capsys):
    data = tmp_path / "old"
    partial_store(data, 2, 2).finish()
    meta_file = data / "zarr.json"
    meta = json.loads(meta_file.read_text())
    for key in ("complete", "expected_episodes", "writer", "hash_keys"):
        meta["attributes"]["monde"].pop(key, None)
    meta_file.write_text(json.dumps(meta))
    for f in (data / "key_hashes").iterdir():
        f.unlink()
    (data / "key_hashes").rmdir()
    store = EpisodeStore(data)
    assert store.completeness()["complete"] is None
    store.require_trainable()  # as before: trains
    code, out = cli(capsys, "data", "verify", str(data), "--quiet")
    assert code == 0 and "2/2 episodes intact; completeness not recorded" in out
    group = zarr.open_group(str(data), mode="r+")
    group["states"][3] = np.full(3, 9.0, np.float32)  # episode 0; no per-key hashes to name it
    with pytest.raises(StoreError, match="episode 0: key 'frames/actions/states': content hash"):
        EpisodeStore(data)[0]


def tiny(seed: int = 0) -> tuple[EnvConfig, DataConfig]:
    return EnvConfig(image_size=16), DataConfig(
        episodes=5, steps_per_episode=3, num_envs=2, policy="random", seed=seed
    )


class Killed(BaseException):
    """Stands in for kill -9: escapes every handler, so nothing is marked."""


def test_collect_resume_writes_exactly_the_uninterrupted_episodes(tmp_path, monkeypatch, capsys):
    env_cfg, data_cfg = tiny()
    stats = collect(env_cfg, data_cfg, tmp_path / "whole", progress=False)
    batches = []
    real_extend = EpisodeStore.extend

    def extend_then_die(self, episodes):
        if batches:
            raise Killed
        batches.append(len(episodes))
        return real_extend(self, episodes)

    monkeypatch.setattr(collect_module.EpisodeStore, "extend", extend_then_die)
    with pytest.raises(Killed):
        collect(env_cfg, data_cfg, tmp_path / "cut", progress=False)
    monkeypatch.setattr(collect_module.EpisodeStore, "extend", real_extend)
    assert EpisodeStore(tmp_path / "cut").completeness()["summary"] == (
        "incomplete: 2 of 5 episodes (interrupted)"
    )
    with pytest.raises(FileExistsError, match=r"incomplete: 2 of 5 .*monde collect --resume"):
        collect(env_cfg, data_cfg, tmp_path / "cut", progress=False)
    with pytest.raises(ValueError, match=r"cannot resume: .*data\.seed: 0 → 1"):
        collect(env_cfg, tiny(seed=1)[1], tmp_path / "cut", progress=False, resume=True)
    assert collect(env_cfg, data_cfg, tmp_path / "cut", progress=False, resume=True) == stats
    whole, cut = EpisodeStore(tmp_path / "whole"), EpisodeStore(tmp_path / "cut")
    assert len(cut) == 5 and cut.completeness()["summary"] == "complete: 5 episodes"
    for a, b in zip(whole, cut, strict=True):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.states, b.states)
    capsys.readouterr()
    collect(env_cfg, data_cfg, tmp_path / "cut", progress=False, resume=True)  # nothing to do
    assert "nothing to resume" in capsys.readouterr().out


def npz_folder(path, episodes: int):
    (path / "episodes").mkdir(parents=True)
    for i in range(episodes):
        e = episode(4, i)
        np.savez(
            path / f"episodes/{i:06d}.npz", frames=e.frames, actions=e.actions, states=e.states
        )
    meta = {"format": "monde.episodes/1", "num_episodes": episodes, "info": {}}
    (path / "meta.json").write_text(json.dumps(meta))


def test_an_import_that_fails_halfway_is_marked_incomplete(tmp_path, capsys):
    src = tmp_path / "old"
    npz_folder(src, 4)
    bad = src / "episodes/000002.npz"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    with pytest.raises(ValueError, match="000002.npz: episode 2"):
        convert(src, tmp_path / "new", progress=False)
    code, out = cli(capsys, "data", "verify", str(tmp_path / "new"), "--quiet")
    assert code == 3 and "2/2 episodes intact; incomplete: 2 of 4 episodes (import failed: " in out
    with pytest.raises(StoreError, match="import failed: .*000002.npz: episode 2"):
        EpisodeStore(tmp_path / "new").require_trainable()
    # an import refused because OUT already holds a store leaves that store as it was
    with pytest.raises(FileExistsError):
        convert(src, tmp_path / "new", progress=False)
    assert "import failed" in EpisodeStore(tmp_path / "new").completeness()["summary"]


def test_quarantined_episodes_are_reported_as_quarantined(tmp_path, capsys):
    data = tmp_path / "d"
    store = EpisodeStore.create(
        data, info={"action_low": -1.0, "action_high": 1.0}, chunk_frames=4, shard_frames=8
    )
    store.extend([episode(10, 0), episode(7, 1), episode(12, 2)])
    store.finish()
    shard = data / "frames/c.1.0.0.0"  # frames 8..15: episodes 0 and 1
    shard.write_bytes(shard.read_bytes()[:-30])
    assert cli(capsys, "data", "verify", str(data), "--quiet")[0] == 1
    assert repair(data, progress=False)["quarantined"] == [0, 1]
    report = verify(data, progress=False)
    assert report["problems"] == [] and report["quarantined"] == [0, 1] and exit_code(report) == 0
    code, out = cli(capsys, "data", "verify", str(data), "--quiet")
    assert code == 0
    assert "1/1 episodes intact, 2 quarantined (episodes 0, 1; not checked, training skips" in out
    assert "episode 0" not in out.replace("episodes 0, 1", "")


def test_info_into_a_closed_pipe_ends_quietly(tmp_path, monkeypatch):
    partial_store(tmp_path / "d", 1, 1).finish()
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` that has already exited
    pipe = open(write_end, "w")  # noqa: SIM115 — closed below, after main replaced its fd
    monkeypatch.setattr(sys, "stdout", pipe)
    try:
        with pytest.raises(SystemExit) as stop:
            main(["data", "info", str(tmp_path / "d")])
    finally:
        monkeypatch.undo()
        pipe.close()
    assert stop.value.code == 1


def test_verify_checks_optional_keys_too(tmp_path):
    data = tmp_path / "d"
    with EpisodeStore.create(data, info={}) as store:
        for i in range(2):
            e = episode(5, i)
            e.meta["extras"] = {"rewards": np.arange(6, dtype=np.float64) + i}
            store.append(e)
    assert verify(data, progress=False)["problems"] == []
    zarr.open_group(str(data), mode="r+")["rewards"][8] = 99.0  # episode 1 (rows 6..11)
    assert verify(data, progress=False)["problems"] == [
        {
            "episode": 1,
            "key": "rewards",
            "error": "content hash mismatch (data changed since it was written)",
        }
    ]


def test_an_npz_episode_that_is_not_an_episode_names_its_file(tmp_path):
    src = tmp_path / "old"
    npz_folder(src, 2)
    e = episode(4, 1)
    np.savez(src / "episodes/000001.npz", frames=e.frames, actions=e.actions[:-1], states=e.states)
    with pytest.raises(ValueError, match=r"000001\.npz: episode 1: Episode\.actions must be"):
        convert(src, tmp_path / "new", progress=False)
