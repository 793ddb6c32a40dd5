import numpy as np
import pytest
import torch

from monde.data.sampler import WindowSampler
from monde.data.store import EpisodeStore
from monde.types import Episode


def make_episode(steps: int, offset: int = 0, size: int = 4) -> Episode:
    """Frame t is filled with the value offset + t; action t is (offset + t, −(offset + t))."""
    t = np.arange(steps + 1)
    frames = np.broadcast_to((offset + t)[:, None, None, None], (steps + 1, size, size, 3))
    actions = np.stack([offset + t[:-1], -(offset + t[:-1])], axis=1).astype(np.float32)
    states = np.stack([offset + t, t], axis=1).astype(np.float32)
    return Episode(frames.astype(np.uint8).copy(), actions, states)


def test_store_round_trip(tmp_path):
    store = EpisodeStore.create(tmp_path / "d", info={"env": "x"})
    episodes = [make_episode(5), make_episode(7, offset=100)]
    for e in episodes:
        store.append(e)
    reopened = EpisodeStore(tmp_path / "d")
    assert len(reopened) == 2 and reopened.meta["info"]["env"] == "x"
    for a, b in zip(episodes, reopened, strict=False):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.states, b.states)


def test_store_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a Monde episode store"):
        EpisodeStore(tmp_path)
    store = EpisodeStore.create(tmp_path / "d", info={})
    store.append(make_episode(3))
    shard = tmp_path / "d" / "frames" / "c.0.0.0.0"
    shard.write_bytes(shard.read_bytes()[:50])  # truncated
    with pytest.raises(ValueError, match="episode 0: key 'frames': .*c.0.0.0.0"):
        EpisodeStore(tmp_path / "d")[0]
    with pytest.raises(FileExistsError):
        EpisodeStore.create(tmp_path / "d", info={})


def test_episode_rejects_bad_input():
    e = make_episode(3)
    with pytest.raises(ValueError, match="T = len\\(frames\\) - 1"):
        Episode(e.frames, e.actions[:-1], e.states)
    bad = e.actions.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Episode(e.frames, bad, e.states)
    with pytest.raises(ValueError, match="uint8"):
        Episode(e.frames.astype(np.float32), e.actions, e.states)


def test_window_contents_follow_frameskip():
    sampler = WindowSampler([make_episode(20), make_episode(12, offset=100)], window=3, frameskip=4)
    # valid starts: episode 0 → 20 − 8 + 1 = 13, episode 1 → 12 − 8 + 1 = 5
    assert len(sampler) == 18
    frames, actions, states = sampler.get(np.array([2, 13]))
    assert frames.shape == (2, 3, 4, 4, 3) and frames.dtype == torch.uint8
    assert frames[0, :, 0, 0, 0].tolist() == [2, 6, 10]
    assert frames[1, :, 0, 0, 0].tolist() == [100, 104, 108]
    # model action k = the 4 env actions between frames k and k+1, concatenated
    assert actions.shape == (2, 2, 8)
    assert actions[0, 1].tolist() == [6, -6, 7, -7, 8, -8, 9, -9]
    assert states[1, :, 1].tolist() == [0, 4, 8]


def test_batches_depend_only_on_seed_and_step():
    sampler = WindowSampler([make_episode(30)], window=2, frameskip=2)
    stream = sampler.batches(4, seed=0)
    first, second = next(stream)[0], next(stream)[0]
    assert not torch.equal(first, second)
    assert torch.equal(next(sampler.batches(4, seed=0, start_step=1))[0], second)
    assert not torch.equal(next(sampler.batches(4, seed=1))[0], first)


def test_ranks_split_the_global_batch_exactly():
    sampler = WindowSampler([make_episode(30)], window=2, frameskip=2)
    whole = next(sampler.batches(6, seed=3, start_step=5))[0]
    parts = [
        next(sampler.batches(6, seed=3, start_step=5, rank=r, world_size=3))[0] for r in range(3)
    ]
    assert torch.equal(torch.cat(parts), whole)
    with pytest.raises(ValueError, match="divisible"):
        next(sampler.batches(6, seed=3, world_size=4))


def test_sampler_rejects_short_episodes():
    with pytest.raises(ValueError, match="long enough"):
        WindowSampler([make_episode(3)], window=3, frameskip=5)
