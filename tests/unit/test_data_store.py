"""The Zarr episode store: atomic appends, corruption found and named, repair, bad input."""

import json

import numpy as np
import pytest
import zarr

from monde.data.sampler import WindowSampler
from monde.data.store import EpisodeStore, StoreError, is_store
from monde.data.verify import repair, verify
from monde.types import Episode


def episode(steps: int, offset: int = 0, size: int = 8) -> Episode:
    rng = np.random.default_rng(offset)
    frames = rng.integers(0, 255, (steps + 1, size, size, 3), dtype=np.uint8)
    actions = rng.uniform(-1, 1, (steps, 2)).astype(np.float32)
    states = np.stack([np.arange(steps + 1) + offset] * 3, axis=1).astype(np.float32)
    return Episode(frames, actions, states)


@pytest.fixture
def store(tmp_path):
    s = EpisodeStore.create(
        tmp_path / "d",
        info={"action_low": -1.0, "action_high": 1.0},
        chunk_frames=4,
        shard_frames=8,
    )
    s.extend([episode(10, 0), episode(7, 100), episode(12, 200)])
    return s


def assert_same(a: Episode, b: Episode) -> None:
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.states, b.states)


def test_layout_is_plain_zarr_with_metadata(store):
    group = zarr.open_group(str(store.path), mode="r")
    assert group["frames"].shape == (11 + 8 + 13, 8, 8, 3)
    meta = group.attrs["monde"]
    assert meta["num_episodes"] == 3 and meta["format_version"] == 1 and meta["monde_version"]
    assert meta["features"]["frames"] == {"kind": "rgb", "shape": [8, 8, 3], "dtype": "uint8"}
    assert meta["features"]["actions"]["low"] == -1.0
    np.testing.assert_array_equal(group["frames"][11:19], episode(7, 100).frames)
    assert is_store(store.path) and not is_store(store.path / "frames")


def test_crash_mid_append_leaves_old_episodes_then_repair(store, monkeypatch):
    before = [store[i] for i in range(3)]

    def crash() -> None:
        raise KeyboardInterrupt("killed before the commit")

    monkeypatch.setattr(store, "_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        store.append(episode(9, 300))
    reopened = EpisodeStore(store.path)
    assert len(reopened) == 3
    for a, b in zip(before, reopened, strict=True):
        assert_same(a, b)
    report = verify(reopened, progress=False)
    assert report["problems"] == [] and report["leftovers"]["uncommitted_rows"]["frames"] == 10
    fixed = repair(reopened, progress=False)
    assert fixed["trimmed"]["episodes"] == 1 and fixed["quarantined"] == []
    assert verify(store.path, progress=False)["leftovers"]["uncommitted_rows"] == {}
    reopened.append(episode(9, 300))
    assert_same(EpisodeStore(store.path)[3], episode(9, 300))


def test_truncated_chunk_is_named_then_quarantined(store):
    shard = store.path / "frames" / "c.1.0.0.0"  # frames 8..15: episodes 0 and 1
    shard.write_bytes(shard.read_bytes()[:-30])
    with pytest.raises(StoreError, match=r"episode 1: key 'frames': chunk file .*c\.1\.0\.0\.0"):
        EpisodeStore(store.path)[1]
    report = verify(store.path, progress=False)
    assert {(p["episode"], p["key"]) for p in report["problems"]} == {(0, "frames"), (1, "frames")}
    assert "c.1.0.0.0" in report["problems"][0]["error"]
    assert repair(store.path, progress=False)["quarantined"] == [0, 1]
    reopened = EpisodeStore(store.path)
    assert reopened.usable(range(3)) == [2]
    sampler = WindowSampler.from_store(reopened, window=2, frameskip=1)
    assert len(sampler) == 12  # only episode 2's windows
    assert_same(reopened[2], episode(12, 200))


def test_changed_data_fails_the_hash_in_verify_and_on_read(store):
    group = zarr.open_group(str(store.path), mode="r+")
    group["actions"][13] = np.array([0.5, 0.5], np.float32)  # episode 1, step 2
    problems = verify(store.path, progress=False)["problems"]
    assert problems == [
        {
            "episode": 1,
            "key": "actions",
            "error": "content hash mismatch (data changed since it was written)",
        }
    ]
    reopened = EpisodeStore(store.path)
    assert_same(reopened[0], episode(10, 0))  # the intact episodes still read
    np.testing.assert_array_equal(  # each key is checked on its own: episode 1's states are fine
        reopened.read("states", np.arange(11, 19)), episode(7, 100).states
    )
    with pytest.raises(StoreError, match=r"d: episode 1: key 'actions': content hash mismatch"):
        reopened[1]
    sampler = WindowSampler.from_store(store.path, window=2, frameskip=1, episodes=[1])
    with pytest.raises(StoreError, match=r"episode 1: key 'actions'"):
        sampler.get(np.array([0]))  # a training read of one window of episode 1
    unchecked = EpisodeStore(store.path, verify_reads=False)
    assert unchecked[1].actions[2].tolist() == [0.5, 0.5]  # what an unchecked read returns


def test_bad_input_is_refused_and_nothing_is_lost(store):
    e = episode(5, 400)
    with pytest.raises(StoreError, match="episode 3: key 'frames' has rows of shape"):
        store.append(Episode(np.zeros((6, 4, 4, 3), np.uint8), e.actions, e.states))
    with pytest.raises(StoreError, match=r"episode 3: key 'actions' step 2 dim 1 = 3\.0 is out"):
        actions = e.actions.copy()
        actions[2, 1] = 3.0
        store.append(Episode(e.frames, actions, e.states))
    states = e.states.copy()
    states[0, 0] = np.nan
    with pytest.raises(StoreError, match="episode 3: key 'states' contains NaN"):
        store.append(Episode(e.frames, e.actions, states))
    with pytest.raises(ValueError, match="T = len"):
        Episode(e.frames, e.actions[:-1], e.states)
    reopened = EpisodeStore(store.path)
    assert len(reopened) == 3 and verify(reopened, progress=False)["problems"] == []


def test_not_a_store_missing_key_future_version(store, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Monde episode store"):
        EpisodeStore(tmp_path / "nothing")
    zarr.open_group(str(tmp_path / "other"), mode="w")
    with pytest.raises(StoreError, match="not a Monde episode store"):
        EpisodeStore(tmp_path / "other")
    meta_path = store.path / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["monde"]["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="format_version 99 is newer"):
        EpisodeStore(store.path)
    meta["attributes"]["monde"]["format_version"] = 1
    meta_path.write_text(json.dumps(meta))
    for f in (store.path / "states").iterdir():
        f.unlink()
    (store.path / "states").rmdir()
    with pytest.raises(StoreError, match="key 'states' is missing"):
        EpisodeStore(store.path)[0]
    assert verify(store.path, progress=False)["problems"][0]["key"] == "states"


def test_action_free_episodes(tmp_path):
    s = EpisodeStore.create(tmp_path / "v", info={})
    frames = np.arange(6 * 4 * 4 * 3, dtype=np.uint8).reshape(6, 4, 4, 3)
    s.append(Episode(frames, np.zeros((5, 0), np.float32), np.zeros((6, 0), np.float32)))
    e = EpisodeStore(tmp_path / "v")[0]
    np.testing.assert_array_equal(e.frames, frames)
    assert e.actions.shape == (5, 0) and verify(s, progress=False)["problems"] == []
    frames_b, actions_b, _ = WindowSampler.from_store(s, 3, 2).get(np.array([0, 1]))
    assert actions_b.shape == (2, 2, 0) and frames_b[1, :, 0, 0, 0].tolist() == [48, 144, 240]


def test_episodes_within_bounds_the_frames_it_loads(store):
    assert [e.meta["index"] for e in store.episodes_within(range(3))] == [0, 1, 2]
    picked = store.episodes_within(range(3), max_frames=20, seed=1)
    assert sum(len(e.frames) for e in picked) <= 20 and len(picked) >= 1
    ids = [e.meta["index"] for e in picked]
    assert ids == sorted(ids)
    assert ids == [e.meta["index"] for e in store.episodes_within(range(3), 20, seed=1)]


@pytest.mark.parametrize(("side", "chunk"), [(64, 16), (224, 1)])
def test_default_chunk_keeps_decoded_chunks_small(tmp_path, side, chunk):
    s = EpisodeStore.create(tmp_path / "d", info={})
    s.append(
        Episode(
            np.zeros((3, side, side, 3), np.uint8),
            np.zeros((2, 2), np.float32),
            np.zeros((3, 1), np.float32),
        )
    )
    assert EpisodeStore(s.path).meta["chunk_frames"] == chunk
    assert zarr.open_array(str(s.path / "frames")).shards[0] == 256
