"""The lazy window sampler: same windows as in RAM, bounded memory, DataLoader workers."""

import numpy as np
import pytest
import torch

from monde.config import RunConfig
from monde.config_io import from_dict
from monde.data.sampler import WindowSampler
from monde.data.store import EpisodeStore, StoreError
from monde.models.world_model import WorldModel
from monde.train.fit import fit
from monde.types import Episode


def episode(steps: int, offset: int, size: int = 8) -> Episode:
    rng = np.random.default_rng(offset)
    return Episode(
        rng.integers(0, 255, (steps + 1, size, size, 3), dtype=np.uint8),
        rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
        rng.normal(size=(steps + 1, 2)).astype(np.float32),
    )


@pytest.fixture
def episodes():
    return [episode(n, i) for i, n in enumerate((30, 12, 25, 40, 9, 33))]


@pytest.fixture
def store(tmp_path, episodes):
    s = EpisodeStore.create(tmp_path / "d", info={}, chunk_frames=4, shard_frames=16)
    s.extend(episodes)
    return s


def test_lazy_windows_equal_in_memory_windows(store, episodes):
    memory = WindowSampler(episodes[1:4], window=4, frameskip=3)
    lazy = WindowSampler.from_store(store, window=4, frameskip=3, episodes=[1, 2, 3])
    assert len(lazy) == len(memory) == (12 - 9 + 1) + (25 - 9 + 1) + (40 - 9 + 1)
    idx = np.random.default_rng(0).integers(0, len(lazy), 50)
    for a, b in zip(memory.get(idx), lazy.get(idx), strict=True):
        assert torch.equal(a, b)
    f = lazy.get(np.array([4]))[0]  # the first window of episode 2
    assert torch.equal(f[0], torch.from_numpy(episodes[2].frames[[0, 3, 6, 9]]))


def test_cache_stays_within_its_budget(store):
    one_chunk = 4 * 8 * 8 * 3
    store = EpisodeStore(store.path, cache_bytes=3 * one_chunk)
    sampler = WindowSampler.from_store(store, window=3, frameskip=2)
    for step in range(30):
        sampler.get(np.random.default_rng(step).integers(0, len(sampler), 8))
        assert store.reader("frames").cached_bytes <= 3 * one_chunk


def test_workers_deliver_the_same_batches(store):
    sampler = WindowSampler.from_store(store, window=3, frameskip=2)
    plain = sampler.batches(8, seed=4, start_step=3)
    workers = sampler.batches(8, seed=4, start_step=3, num_workers=2, prefetch=2)
    for _ in range(5):
        for a, b in zip(next(plain), next(workers), strict=True):
            assert torch.equal(a, b)
    halves = [next(sampler.batches(8, 4, 3, rank=r, world_size=2, num_workers=1)) for r in (0, 1)]
    whole = next(sampler.batches(8, seed=4, start_step=3))
    assert torch.equal(torch.cat([h[0] for h in halves]), whole[0])


def test_changed_episode_stops_workers_with_one_line(store):
    import zarr

    zarr.open_group(str(store.path), mode="r+")["states"][40] = np.zeros(2, np.float32)  # ep. 1
    sampler = WindowSampler.from_store(store.path, window=3, frameskip=2, episodes=[1])
    with pytest.raises(StoreError) as err:
        next(sampler.batches(4, seed=0, num_workers=1))
    assert str(err.value).startswith(f"{store.path}: episode 1: key 'states': content hash")
    assert "\n" not in str(err.value)  # the store's one line, not the worker's traceback


def test_trains_on_a_dataset_larger_than_the_cache(tmp_path):
    cfg = from_dict(
        RunConfig,
        {
            "model": {
                "image_size": 16,
                "encoder_channels": [4, 8],
                "latent_dim": 8,
                "predictor_dim": 8,
                "frameskip": 2,
            },
            "train": {
                "steps": 4,
                "batch_size": 8,
                "warmup_steps": 1,
                "rollout_steps": 2,
                "log_every": 1,
                "checkpoint_every": 0,
                "probe_every": 0,
                "threads": 1,
            },
        },
    )
    store = EpisodeStore.create(tmp_path / "d", info={}, chunk_frames=4, shard_frames=16)
    store.extend([episode(30, i, size=16) for i in range(8)])
    dataset_bytes = 8 * 31 * 16 * 16 * 3
    budget = dataset_bytes // 20  # the cache holds 5 % of the frames
    sampler = WindowSampler.from_store(store.path, 3, 2, cache_bytes=budget)
    torch.manual_seed(0)
    metrics = fit(WorldModel(cfg.model), sampler, cfg.train, tmp_path / "run", progress=False)
    assert np.isfinite(metrics["loss"])
    assert 0 < sampler.source.store.reader("frames").cached_bytes <= budget
