"""The native episode store: one Zarr v3 group of chunked, compressed arrays, read lazily.

Layout (a plain Zarr v3 group; any Zarr v3 reader opens it):
    zarr.json       group attributes ["monde"]: format, format_version, monde_version,
                    num_episodes, num_frames (the commit point), features (shape, dtype, kind,
                    bounds of each key), info (env, fps, frameskip, policy, env/data configs,
                    coverage, ...), quarantined (episodes `repair` found corrupt)
    frames/         (ΣT+1, Hp, Wp, C) uint8, chunks of `chunk_frames` frames (zstd) packed in
                    shard files of `shard_frames` frames
    actions/        (ΣT+1, A) float32; row frame_start + t is the action after frame t (the last
                    row of an episode is padding, so frames, actions and states share one index)
    states/         (ΣT+1, S) float32
    episodes/       (N, 2) int64: first row and number of frames of each episode
    hashes/         (N, 16) uint8: blake2b-128 of the episode's frames, actions and states bytes

Appending writes the data rows past the committed end, then the index and hash rows, and only
then the group attributes (one atomic file replace). A crash at any point leaves the store
readable with the episode either complete or absent; `repair` trims the uncommitted tail.
The store knows nothing about models or training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from monde.data.chunks import ChunkError, ChunkReader
from monde.io import read_json
from monde.types import Episode

FORMAT = "monde.zarr"
FORMAT_VERSION = 1
KEYS = ("frames", "actions", "states")
_INDEX_ROWS = 4096
_CHUNK_TARGET_BYTES = 192 << 10  # decoded frame chunk: small enough to decode per window


class StoreError(ValueError):
    """A store that cannot be read or an episode it refuses; the message names file and key."""


def is_store(path: str | Path) -> bool:
    """True when `path` is a folder holding a Monde episode store."""
    try:
        return "monde" in read_json(Path(path) / "zarr.json").get("attributes", {})
    except (FileNotFoundError, ValueError, NotADirectoryError):
        return False


def episode_hash(frames: np.ndarray, actions: np.ndarray, states: np.ndarray) -> bytes:
    """blake2b-128 of an episode's arrays (frames uint8, actions and states float32 rows)."""
    h = hashlib.blake2b(digest_size=16)
    for arr in (frames, actions, states):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.digest()


def _monde_version() -> str:
    from monde import __version__

    return __version__


class EpisodeStore:
    """Append-only episodes on disk. `EpisodeStore.create(path, info)` or `EpisodeStore(path)`.

    `cache_bytes` bounds the decoded chunks each array keeps in memory while reading.
    """

    def __init__(self, path: str | Path, cache_bytes: int = 64 << 20):
        self.path = Path(path)
        self.cache_bytes = cache_bytes
        group_json = self.path / "zarr.json"
        if (self.path / "meta.json").exists() and not group_json.exists():
            raise StoreError(
                f"{self.path} holds a Monde 0.1 npz dataset; convert it once with "
                f"`monde data convert {self.path} NEW_FOLDER`"
            )
        if not self.path.is_dir() or not group_json.exists():
            raise FileNotFoundError(
                f"{self.path} is not a Monde episode store (no zarr.json); create one with "
                "`monde collect` or import data with `monde data convert`"
            )
        attrs = read_json(group_json).get("attributes", {})
        if "monde" not in attrs:
            raise StoreError(
                f"{group_json}: a Zarr group, but not a Monde episode store (no 'monde' attribute)"
            )
        self.meta = attrs["monde"]
        fmt, version = self.meta.get("format"), self.meta.get("format_version")
        if fmt != FORMAT or not isinstance(version, int):
            raise StoreError(f"{group_json}: format {fmt!r} version {version!r} is not {FORMAT!r}")
        if version > FORMAT_VERSION:
            raise StoreError(
                f"{group_json}: format_version {version} is newer than this Monde "
                f"({_monde_version()}) reads (≤ {FORMAT_VERSION}); upgrade monde"
            )
        self._readers: dict[str, ChunkReader] = {}
        self._index: np.ndarray | None = None
        self._group = None

    # ------------------------------------------------------------------ creation and writes
    @classmethod
    def create(
        cls,
        path: str | Path,
        info: dict,
        overwrite: bool = False,
        chunk_frames: int | None = None,
        shard_frames: int = 256,
    ) -> EpisodeStore:
        """A new, empty store at `path` with dataset-level `info` (env, fps, policy, ...).

        Frames are compressed in chunks of `chunk_frames` (default: the power of two that keeps
        a decoded chunk near 192 KiB, 16 for 64×64 RGB, 1 for 224×224) packed into shard files
        of `shard_frames` frames.
        """
        import zarr

        path = Path(path)
        if chunk_frames is not None and (chunk_frames < 1 or shard_frames % chunk_frames):
            raise ValueError(
                f"shard_frames {shard_frames} must be a multiple of chunk_frames {chunk_frames} ≥ 1"
            )
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                old = " (a Monde 0.1 npz dataset)" if (path / "meta.json").exists() else ""
                raise FileExistsError(
                    f"{path} already exists and is not empty{old}; delete it or pick another folder"
                )
            if not is_store(path):
                raise FileExistsError(f"{path} is not an episode store; refusing to overwrite it")
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "monde_version": _monde_version(),
            "num_episodes": 0,
            "num_frames": 0,
            "chunk_frames": chunk_frames,
            "shard_frames": shard_frames,
            "features": {},
            "info": dict(info),
            "quarantined": [],
        }
        zarr.open_group(str(path), mode="w", zarr_format=3, attributes={"monde": meta})
        return cls(path)

    def _zgroup(self):
        if self._group is None:
            import zarr

            self._group = zarr.open_group(str(self.path), mode="r+")
        return self._group

    def _commit(self) -> None:
        """Write the group attributes (the commit point) atomically."""
        self._zgroup().attrs.put({"monde": self.meta})
        self._readers.clear()
        self._index = None

    def set_info(self, **info: object) -> None:
        self.meta["info"].update(info)
        self._commit()

    def _create_arrays(self, episode: Episode) -> None:
        from zarr.codecs import ZstdCodec

        group = self._zgroup()
        if self.meta["chunk_frames"] is None:
            frame_bytes = max(1, episode.frames[0].nbytes)
            fit = max(1, _CHUNK_TARGET_BYTES // frame_bytes)
            self.meta["chunk_frames"] = min(16, 1 << (fit.bit_length() - 1))
        ch, shard = int(self.meta["chunk_frames"]), int(self.meta["shard_frames"])
        specs = {
            "frames": (episode.frames.shape[1:], "uint8", ch),
            "actions": (episode.actions.shape[1:], "float32", _INDEX_ROWS),
            "states": (episode.states.shape[1:], "float32", _INDEX_ROWS),
            "episodes": ((2,), "int64", _INDEX_ROWS),
            "hashes": ((16,), "uint8", _INDEX_ROWS),
        }
        for name, (row, dtype, rows) in specs.items():
            if 0 in row:  # e.g. action-free video episodes: nothing to store
                continue
            group.create_array(
                name,
                shape=(0, *row),
                dtype=dtype,
                chunks=(rows, *row),
                shards=(shard, *row) if name == "frames" else None,
                chunk_key_encoding={"name": "default", "separator": "."},
                compressors=ZstdCodec(level=3),
                fill_value=0,
                overwrite=True,
                config={"write_empty_chunks": True},  # a missing chunk file means corruption
            )
        info = self.meta["info"]
        low, high = info.get("action_low"), info.get("action_high")
        self.meta["features"] = {
            "frames": {
                "kind": "rgb",
                "shape": list(episode.frames.shape[1:]),
                "dtype": "uint8",
            },
            "actions": {
                "shape": list(episode.actions.shape[1:]),
                "dtype": "float32",
                "low": low,
                "high": high,
            },
            "states": {
                "kind": "state",
                "shape": list(episode.states.shape[1:]),
                "dtype": "float32",
                "names": info.get("state_names"),
            },
        }

    def check_episode(self, episode: Episode, index: int | None = None) -> None:
        """Raise StoreError naming the episode and key when `episode` does not fit this store."""
        where = f"{self.path}: episode {len(self) if index is None else index}"
        feats = self.meta["features"]
        for key in KEYS:
            arr = getattr(episode, key)
            if key in feats and list(arr.shape[1:]) != feats[key]["shape"]:
                raise StoreError(
                    f"{where}: key {key!r} has rows of shape {list(arr.shape[1:])}, the store "
                    f"holds {feats[key]['shape']}"
                )
        for key in ("actions", "states"):
            if not np.isfinite(getattr(episode, key)).all():
                raise StoreError(f"{where}: key {key!r} contains NaN or inf")
        low, high = self.meta["info"].get("action_low"), self.meta["info"].get("action_high")
        if episode.actions.size and low is not None and high is not None:
            bad = (episode.actions < np.asarray(low)) | (episode.actions > np.asarray(high))
            if bad.any():
                t, a = map(int, np.argwhere(bad)[0])
                raise StoreError(
                    f"{where}: key 'actions' step {t} dim {a} = {episode.actions[t, a]} is "
                    f"outside the declared bounds [{low}, {high}]"
                )

    def append(self, episode: Episode) -> int:
        """Store `episode` atomically; returns its index. Nothing stored before is touched."""
        return self.extend([episode])[0]

    def extend(self, episodes: Sequence[Episode]) -> list[int]:
        """Store `episodes` in one atomic commit (all or none); returns their indices."""
        if not episodes:
            return []
        if not self.meta["features"]:
            self._create_arrays(episodes[0])
        first, start = len(self), int(self.meta["num_frames"])
        for i, episode in enumerate(episodes):
            self.check_episode(episode, first + i)
        lengths = [len(e.frames) for e in episodes]
        total = sum(lengths)
        starts = start + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        rows: dict[str, list[np.ndarray]] = {k: [] for k in KEYS}
        digests = []
        for e in episodes:
            actions = np.zeros((len(e.frames), *e.actions.shape[1:]), np.float32)
            actions[:-1] = e.actions  # the last row of an episode is padding
            states = e.states.astype(np.float32)
            rows["frames"].append(e.frames)
            rows["actions"].append(actions)
            rows["states"].append(states)
            digests.append(np.frombuffer(episode_hash(e.frames, actions[:-1], states), np.uint8))
        group = self._zgroup()
        for key, parts in rows.items():
            if self._empty(key) is not None:
                continue
            arr = group[key]
            arr.resize((start + total, *arr.shape[1:]))
            arr[start : start + total] = np.concatenate(parts)
        index_rows = np.stack([starts, np.asarray(lengths, np.int64)], axis=1)  # (n, 2)
        for key, data in (("episodes", index_rows), ("hashes", np.stack(digests))):
            arr = group[key]
            arr.resize((first + len(episodes), *arr.shape[1:]))
            arr[first:] = data
        self.meta["num_episodes"] = first + len(episodes)
        self.meta["num_frames"] = start + total
        self._commit()
        return list(range(first, first + len(episodes)))

    # ------------------------------------------------------------------ reads
    def __len__(self) -> int:
        return int(self.meta["num_episodes"])

    def reader(self, key: str) -> ChunkReader:
        """The lazy chunk reader of array `key` (frames, actions, states, episodes, hashes)."""
        if key not in self._readers:
            if not (self.path / key / "zarr.json").exists():
                raise StoreError(f"{self.path}: key {key!r} is missing ({self.path / key})")
            budget = self.cache_bytes if key == "frames" else max(1 << 20, self.cache_bytes // 8)
            self._readers[key] = ChunkReader(self.path / key, cache_bytes=budget)
        return self._readers[key]

    @property
    def index(self) -> np.ndarray:
        """(N, 2) int64: first frame row and number of frames of each committed episode."""
        if self._index is None:
            n = len(self)
            if n == 0:
                self._index = np.zeros((0, 2), np.int64)
            else:
                try:
                    self._index = self.reader("episodes").range(0, n)
                except ChunkError as err:
                    raise StoreError(f"{self.path}: key 'episodes': {err}") from None
        return self._index

    def episode_lengths(self) -> np.ndarray:
        """(N,) number of steps (actions) of each episode."""
        return self.index[:, 1] - 1

    def _empty(self, key: str) -> tuple | None:
        """The row shape of a feature with no values (actions of a video), else None."""
        shape = self.meta["features"].get(key, {}).get("shape")
        return tuple(shape) if shape is not None and 0 in shape else None

    def read(self, key: str, rows: np.ndarray) -> np.ndarray:
        """Rows (global frame indices, any shape) of array `key`, decoded lazily."""
        if (row := self._empty(key)) is not None:
            return np.zeros((*np.shape(rows), *row), np.float32)
        try:
            return self.reader(key).take(rows)
        except ChunkError as err:
            raise StoreError(f"{self.path}: key {key!r}: {err}") from None

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self):
            raise IndexError(f"episode {index} out of range for {self.path} ({len(self)} episodes)")

    def __getitem__(self, index: int) -> Episode:
        self._check_index(index)
        start, n = map(int, self.index[index])
        arrays = {}
        for key in KEYS:
            if (row := self._empty(key)) is not None:
                arrays[key] = np.zeros((n, *row), np.float32)
                continue
            try:
                arrays[key] = self.reader(key).range(start, start + n)
            except ChunkError as err:
                raise StoreError(f"{self.path}: episode {index}: key {key!r}: {err}") from None
        arrays["actions"] = arrays["actions"][:-1]
        try:
            return Episode(**arrays, meta={"index": index})
        except ValueError as err:
            raise StoreError(f"{self.path}: episode {index}: {err}") from err

    def __iter__(self) -> Iterator[Episode]:
        return (self[i] for i in range(len(self)))

    def stored_hash(self, index: int) -> bytes:
        self._check_index(index)
        return self.read("hashes", np.array([index]))[0].tobytes()

    def usable(self, ids: Sequence[int]) -> list[int]:
        """`ids` without the episodes `monde data repair` quarantined as corrupt."""
        bad = set(self.meta.get("quarantined", []))
        return [int(i) for i in ids if int(i) not in bad]

    def episodes(self, ids: Sequence[int]) -> list[Episode]:
        return [self[int(i)] for i in ids]

    def episodes_within(
        self, ids: Sequence[int], max_frames: int = 20_000, seed: int = 0
    ) -> list[Episode]:
        """The episodes `ids` if they hold ≤ max_frames frames together, else a seeded random
        subset of them (in id order) that does: bounded memory for probes and previews."""
        ids = self.usable(ids)
        lengths = self.index[ids, 1] if ids else np.zeros(0, np.int64)
        if lengths.sum() > max_frames:
            order = np.random.default_rng(seed).permutation(len(ids))
            keep = order[
                : max(1, int(np.searchsorted(np.cumsum(lengths[order]), max_frames, side="right")))
            ]
            ids = [ids[i] for i in np.sort(keep)]
        return self.episodes(ids)
