"""Windowed sampler: random (history + horizon) windows with frameskip, uniform over windows.

A window of L frames starting at step t of an episode holds frames t, t+fs, …, t+(L−1)·fs and
L−1 model actions, each the concatenation of the fs environment actions between two frames.
Frames stay uint8 until the trainer's preprocessing.

Episodes come from memory (a list of Episode) or lazily from an EpisodeStore
(`WindowSampler.from_store`): then only the window index (two int64 per window) lives in RAM and
frames are decoded chunk by chunk through a byte-bounded cache, so memory stays bounded whatever
the dataset size. `batches(..., num_workers=n)` reads in n DataLoader worker processes; each
worker has its own cache of `cache_bytes`. Each process hash-checks an episode the first time it
reads it (EpisodeStore's `verify_reads`), so changed data stops training with a StoreError
naming the store, the episode and the key — raised as itself from worker processes too.

The data order is a pure function of (seed, step): `step_indices` draws the global batch of
a step from a generator seeded by both, so a resumed run draws the same windows without saved
RNG state, and the ranks of a distributed run each take their own rows of the same global batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from monde.data.store import EpisodeStore, StoreError
from monde.types import Episode

Batch = tuple[Tensor, Tensor, Tensor]
"""frames (B, L, Hp, Wp, C) uint8, actions (B, L−1, fs·A_env) float32, states (B, L, S)."""


def step_indices(num_windows: int, batch_size: int, seed: int, step: int) -> np.ndarray:
    """The window indices (batch_size,) of the global batch of training step `step`."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(num_windows, (batch_size,), generator=generator).numpy()


def rank_rows(batch_size: int, rank: int, world_size: int) -> slice:
    """The contiguous rows of a global batch that process `rank` of `world_size` trains on."""
    if batch_size % world_size:
        raise ValueError(
            f"train.batch_size {batch_size} must be divisible by the {world_size} processes"
        )
    share = batch_size // world_size
    return slice(rank * share, (rank + 1) * share)


class _MemorySource:
    """Episodes concatenated in RAM, one row per frame (actions padded by one row per episode)."""

    def __init__(self, episodes: Sequence[Episode]):
        self.frames = np.concatenate([e.frames for e in episodes])  # (ΣT+1, Hp, Wp, C)
        self.actions = np.concatenate(  # (ΣT+1, A_env); the last row of each episode is padding
            [np.concatenate([e.actions, np.zeros_like(e.actions[:1])]) for e in episodes]
        ).astype(np.float32)
        self.states = np.concatenate([e.states for e in episodes]).astype(np.float32)
        lengths = np.array([len(e.frames) for e in episodes], np.int64)
        self.index = np.stack([np.cumsum(lengths) - lengths, lengths], axis=1)  # (N, 2)

    def take(self, key: str, rows: np.ndarray) -> np.ndarray:
        return getattr(self, key)[rows]


class _StoreSource:
    """Rows read lazily from an EpisodeStore through its byte-bounded chunk caches."""

    def __init__(self, store: EpisodeStore, episodes: Sequence[int]):
        self.path, self.cache_bytes = store.path, store.cache_bytes
        self.verify_reads = store.verify_reads
        self.store = store
        self.index = store.index[np.asarray(episodes, np.int64)] if len(episodes) else None

    def take(self, key: str, rows: np.ndarray) -> np.ndarray:
        return self.store.read(key, rows)

    def __getstate__(self) -> dict:  # worker processes started by spawn reopen the store
        return {
            "path": self.path,
            "cache_bytes": self.cache_bytes,
            "verify_reads": self.verify_reads,
            "index": self.index,
        }

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.store = EpisodeStore(
            self.path, cache_bytes=self.cache_bytes, verify_reads=self.verify_reads
        )


class WindowSampler:
    """Windows of `window` frames, `frameskip` env steps apart, uniform over valid windows.

    `WindowSampler(episodes, window, frameskip)` holds the episodes in RAM;
    `WindowSampler.from_store(store, window, frameskip, episodes=ids)` reads them lazily.
    """

    def __init__(
        self,
        episodes: Sequence[Episode] | None,
        window: int,
        frameskip: int,
        *,
        source: _MemorySource | _StoreSource | None = None,
    ):
        if window < 2 or frameskip < 1:
            raise ValueError(f"window must be ≥ 2 and frameskip ≥ 1; got {window}, {frameskip}")
        self.window, self.frameskip = window, frameskip
        if source is None:
            source = _MemorySource(episodes) if episodes else None
        self.source = source
        span = (window - 1) * frameskip  # environment steps covered by one window
        starts = []
        index = source.index if source is not None and source.index is not None else []
        for first_row, num_frames in index:
            n = int(num_frames) - 1 - span + 1  # valid window starts in this episode
            if n > 0:
                starts.append(first_row + np.arange(n, dtype=np.int64))
        if not starts:
            raise ValueError(
                f"no episode is long enough for windows of {window} frames with frameskip "
                f"{frameskip} ({span} steps)"
            )
        self.starts = np.concatenate(starts)  # (num_windows,) first frame row of each window
        self._frame_steps = np.arange(window) * frameskip  # (L,)
        # (L−1, fs): offsets of the environment actions of each model action
        self._action_steps = (
            np.arange(window - 1)[:, None] * frameskip + np.arange(frameskip)[None, :]
        )

    @classmethod
    def from_store(
        cls,
        store: EpisodeStore | str,
        window: int,
        frameskip: int,
        episodes: Sequence[int] | None = None,
        cache_bytes: int | None = None,
    ) -> WindowSampler:
        """Windows of the store's `episodes` (default all but quarantined), read lazily."""
        if not isinstance(store, EpisodeStore):
            store = EpisodeStore(store)
        if cache_bytes is not None:
            store = EpisodeStore(
                store.path, cache_bytes=cache_bytes, verify_reads=store.verify_reads
            )
        ids = store.usable(range(len(store)) if episodes is None else episodes)
        return cls(None, window, frameskip, source=_StoreSource(store, ids))

    def __len__(self) -> int:
        return len(self.starts)

    def get(self, indices: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
        """Windows by index → frames (B, L, Hp, Wp, C) uint8, actions (B, L−1, fs·A_env), states."""
        first = self.starts[np.asarray(indices)]  # (B,)
        f_rows = first[:, None] + self._frame_steps  # (B, L)
        a_rows = first[:, None, None] + self._action_steps  # (B, L−1, fs)
        b = len(first)
        frames = self.source.take("frames", f_rows)  # (B, L, Hp, Wp, C)
        actions = self.source.take("actions", a_rows).reshape(b, self.window - 1, -1)
        states = self.source.take("states", f_rows)  # (B, L, S)
        return torch.from_numpy(frames), torch.from_numpy(actions), torch.from_numpy(states)

    def batches(
        self,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        prefetch: int = 2,
    ) -> Iterator[Batch]:
        """This rank's rows of the global batch of each step from `start_step` on, forever.

        `batch_size` is the global batch; each of `world_size` ranks gets batch_size/world_size
        rows, and the ranks' rows together are exactly the one-process batch of that step.
        With `num_workers` > 0 a DataLoader reads the batches in worker processes, `prefetch`
        batches ahead each, in the same order (frames stay uint8 across processes).
        """
        rows = rank_rows(batch_size, rank, world_size)
        steps = _StepIndices(len(self), batch_size, seed, start_step, rows)
        if num_workers <= 0:
            return (self.get(indices) for indices in steps)
        loader = torch.utils.data.DataLoader(
            _WindowDataset(self),
            batch_size=None,  # each sampled key is a whole batch of window indices
            sampler=steps,
            num_workers=num_workers,
            prefetch_factor=prefetch,
            worker_init_fn=_one_thread,
        )
        return _raise_store_errors(iter(loader))


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


class _StepIndices(torch.utils.data.Sampler):
    """Yields step_indices(...)[rows] for step = start, start + 1, … forever."""

    def __init__(self, num_windows: int, batch_size: int, seed: int, start: int, rows: slice):
        self.args = (num_windows, batch_size, seed)
        self.start, self.rows = start, rows

    def __iter__(self) -> Iterator[np.ndarray]:
        step = self.start
        while True:
            yield step_indices(*self.args, step)[self.rows]
            step += 1


class _Failed:
    """A StoreError met in a worker, carried back as a value to be raised as itself (one line,
    not the DataLoader's wrapped traceback)."""

    def __init__(self, message: str):
        self.message = message


def _raise_store_errors(batches: Iterator) -> Iterator[Batch]:
    for batch in batches:
        if isinstance(batch, _Failed):
            raise StoreError(batch.message)
        yield batch


class _WindowDataset(torch.utils.data.Dataset):
    """Map-style view of a WindowSampler whose keys are arrays of window indices."""

    def __init__(self, sampler: WindowSampler):
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitem__(self, indices: np.ndarray) -> Batch | _Failed:
        try:
            return self.sampler.get(indices)
        except StoreError as err:
            return _Failed(str(err))
