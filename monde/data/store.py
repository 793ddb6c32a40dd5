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
    key_hashes/     (N, K, 16) uint8: blake2b-128 of each key of `hash_keys` on its own, so a
                    read that finds changed data names the key (absent in stores before 0.2)

Appending writes the data rows past the committed end, then the index and hash rows, and only
then the group attributes (one atomic file replace). A crash at any point leaves the store
readable with the episode either complete or absent; `repair` trims the uncommitted tail.

Completeness: `create` records `complete: false` and `expected_episodes` (when the writer
knows it); the writer's `finish()` sets `complete: true` as its very last write, and a writer
that fails calls `mark_failed(reason)`. A store without the `complete` attribute was written
before Monde recorded it ("completeness not recorded"): it reads and trains as before.

Reads verify: the first read of an episode in a process recomputes its content hash and
compares it with the stored one (`verify_reads=True`, the default), so changed data raises a
StoreError naming the store, the episode and the key instead of training silently.
The store knows nothing about models or training.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections import Counter
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


def key_hash(arr: np.ndarray) -> bytes:
    """blake2b-128 of one array's bytes (one entry of the key_hashes rows)."""
    return hashlib.blake2b(np.ascontiguousarray(arr).tobytes(), digest_size=16).digest()


def episode_extras(episode: Episode) -> dict[str, np.ndarray]:
    """The optional keys an importer attached in `episode.meta["extras"]` (one row per frame:
    extra cameras, rewards, terminations, ...), by name. Stored beside frames, never trained on."""
    return {k: np.asarray(v) for k, v in sorted(episode.meta.get("extras", {}).items())}


def _writer() -> dict:
    """Who writes the store now: lets `info` tell a running writer from an interrupted one."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _writer_alive(writer: object) -> bool:
    if not isinstance(writer, dict) or writer.get("host") != socket.gethostname():
        return False
    pid = writer.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _monde_version() -> str:
    from monde._version import __version__

    return __version__


class EpisodeStore:
    """Append-only episodes on disk. `EpisodeStore.create(path, info)` or `EpisodeStore(path)`.

    `cache_bytes` bounds the decoded chunks each array keeps in memory while reading.
    `verify_reads` checks each episode's content hash on its first read in this process.
    A writer ends with `finish()`, or writes inside `with EpisodeStore.create(...) as store:`.
    """

    def __init__(self, path: str | Path, cache_bytes: int = 64 << 20, verify_reads: bool = True):
        self.path = Path(path)
        self.cache_bytes = cache_bytes
        self.verify_reads = verify_reads
        self._verified: set[tuple[int, str]] = set()  # (episode, key) checked in this process
        self._verified_per_key: Counter[str] = Counter()  # episodes checked, by key
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
        expected_episodes: int | None = None,
    ) -> EpisodeStore:
        """A new, empty store at `path` with dataset-level `info` (env, fps, policy, ...).

        Frames are compressed in chunks of `chunk_frames` (default: the power of two that keeps
        a decoded chunk near 192 KiB, 16 for 64×64 RGB, 1 for 224×224) packed into shard files
        of `shard_frames` frames. The store is marked incomplete (of `expected_episodes`, when
        known) until `finish()`.
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
            "complete": False,
            "expected_episodes": expected_episodes,
            "writer": _writer(),
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

    # ------------------------------------------------------------------ completeness
    def finish(self) -> None:
        """Mark the store complete: the writer's very last write (one atomic attribute replace).

        Raises StoreError when the store holds fewer or more episodes than it expected.
        """
        expected = self.meta.get("expected_episodes")
        if expected is not None and expected != len(self):
            raise StoreError(
                f"{self.path}: holds {len(self)} episodes, {expected} expected; not marking it "
                "complete"
            )
        self.meta.update(complete=True, expected_episodes=len(self))
        self.meta.pop("failed", None)
        self.meta.pop("writer", None)
        self._commit()

    def mark_failed(self, reason: str) -> None:
        """Record why the writer stopped ("import failed: …"): the store stays incomplete."""
        self.meta.update(complete=False, failed=reason)
        self.meta.pop("writer", None)
        self._commit()

    def resume_writing(self, expected_episodes: int | None = None) -> None:
        """Take over an incomplete store to append its remaining episodes (`collect --resume`)."""
        self.meta.update(complete=False, expected_episodes=expected_episodes, writer=_writer())
        self.meta.pop("failed", None)
        self._commit()

    def __enter__(self) -> EpisodeStore:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Leaving a `with` block finishes the store, or marks it failed on an exception."""
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.mark_failed("interrupted")
        else:
            self.mark_failed(f"writer failed: {exc_type.__name__}: {exc}")

    def completeness(self) -> dict:
        """{"complete": True | False | None (not recorded), "episodes", "expected", "reason",
        "summary"}: the summary is the one line `info` and `verify` print, e.g.
        "incomplete: 70 of 300 episodes (interrupted)"."""
        n, expected = len(self), self.meta.get("expected_episodes")
        complete = self.meta.get("complete")
        reason = None
        if complete is None:
            reason = "completeness not recorded: written before Monde recorded it"
            summary = f"{'empty: ' if n == 0 else ''}{n} episodes ({reason})"
        elif complete:
            summary = f"{'empty' if n == 0 else 'complete'}: {n} episodes"
        else:
            if self.meta.get("failed"):
                reason = str(self.meta["failed"])
            elif _writer_alive(self.meta.get("writer")):
                reason = f"still being written by process {self.meta['writer']['pid']}"
            else:
                reason = "interrupted"
            count = f"{n} of {expected}" if expected is not None else f"{n}"
            summary = f"{'empty' if n == 0 else 'incomplete'}: {count} episodes ({reason})"
        return {
            "complete": complete,
            "episodes": n,
            "expected": expected,
            "reason": reason,
            "summary": summary,
        }

    def require_trainable(self, allow_incomplete: bool = False) -> None:
        """Raise StoreError (one line naming the store) unless training may read this store.

        An empty store (no usable episode) is always refused; an incomplete one unless
        `allow_incomplete`. A store whose completeness was not recorded is accepted.
        """
        state = self.completeness()
        if not self.usable(range(len(self))):
            what = state["summary"] if len(self) == 0 else "every episode is quarantined"
            raise StoreError(f"{self.path}: no episodes to train on ({what})")
        if state["complete"] is False and not allow_incomplete:
            raise StoreError(
                f"{self.path}: {state['summary']}; continue it (`monde collect --resume`, or "
                "import again), or train on what it holds with --allow-incomplete-data"
            )

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
            "key_hashes": ((len(KEYS) + len(episode_extras(episode)), 16), "uint8", _INDEX_ROWS),
        }
        extras = episode_extras(episode)
        images = {k for k, v in extras.items() if v.dtype == np.uint8 and v.ndim == 4}
        for name, arr in extras.items():  # optional keys: frame-like chunks for extra cameras
            specs[name] = (arr.shape[1:], arr.dtype.name, ch if name in images else _INDEX_ROWS)
        for name, (row, dtype, rows) in specs.items():
            if 0 in row:  # e.g. action-free video episodes: nothing to store
                continue
            group.create_array(
                name,
                shape=(0, *row),
                dtype=dtype,
                chunks=(rows, *row),
                shards=(shard, *row) if name == "frames" or name in images else None,
                chunk_key_encoding={"name": "default", "separator": "."},
                compressors=ZstdCodec(level=3),
                fill_value=0,
                overwrite=True,
                config={"write_empty_chunks": True},  # a missing chunk file means corruption
            )
        self.meta["hash_keys"] = [*KEYS, *extras]
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
        for name, arr in extras.items():
            self.meta["features"][name] = {
                "kind": "rgb" if name in images else "extra",
                "shape": list(arr.shape[1:]),
                "dtype": arr.dtype.name,
                "extra": True,
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
        extras, wanted = episode_extras(episode), self.extra_keys()
        if feats and sorted(extras) != wanted:
            raise StoreError(f"{where}: optional keys {sorted(extras)}, the store holds {wanted}")
        for key, arr in extras.items():
            if len(arr) != len(episode.frames) or (
                key in feats and list(arr.shape[1:]) != feats[key]["shape"]
            ):
                raise StoreError(
                    f"{where}: key {key!r} is {list(arr.shape)}; the store holds one row of "
                    f"{feats.get(key, {}).get('shape')} per frame ({len(episode.frames)} frames)"
                )
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
        rows: dict[str, list[np.ndarray]] = {k: [] for k in [*KEYS, *self.extra_keys()]}
        digests, key_digests = [], []
        hash_keys = self.meta.get("hash_keys")  # None: a store from before key_hashes
        for e in episodes:
            actions = np.zeros((len(e.frames), *e.actions.shape[1:]), np.float32)
            actions[:-1] = e.actions  # the last row of an episode is padding
            states = e.states.astype(np.float32)
            rows["frames"].append(e.frames)
            rows["actions"].append(actions)
            rows["states"].append(states)
            extras = episode_extras(e)
            for key, arr in extras.items():
                rows[key].append(arr)
            digests.append(np.frombuffer(episode_hash(e.frames, actions[:-1], states), np.uint8))
            if hash_keys is not None:
                parts = {"frames": e.frames, "actions": actions[:-1], "states": states, **extras}
                key_digests.append(  # (K, 16)
                    np.stack([np.frombuffer(key_hash(parts[k]), np.uint8) for k in hash_keys])
                )
        group = self._zgroup()
        for key, parts in rows.items():
            if self._empty(key) is not None:
                continue
            # all-zero chunks too (all-False truncations): a missing chunk file means corruption
            arr = group[key].with_config({"write_empty_chunks": True})
            arr.resize((start + total, *arr.shape[1:]))
            arr[start : start + total] = np.concatenate(parts)
        index_rows = np.stack([starts, np.asarray(lengths, np.int64)], axis=1)  # (n, 2)
        index_arrays = [("episodes", index_rows), ("hashes", np.stack(digests))]
        if hash_keys is not None:
            index_arrays.append(("key_hashes", np.stack(key_digests)))  # (n, K, 16)
        for key, data in index_arrays:
            arr = group[key]
            arr.resize((first + len(episodes), *arr.shape[1:]))
            arr[first:] = data
        self.meta["num_episodes"] = first + len(episodes)
        self.meta["num_frames"] = start + total
        if self.meta.get("complete"):  # appended to a finished store: complete episodes still
            self.meta["expected_episodes"] = first + len(episodes)
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
        """Rows (global frame indices, any shape) of array `key`, decoded lazily.

        With `verify_reads`, this key of the episodes these rows belong to is hash-checked first
        (once per episode and key in a process): a StoreError names the store, the episode and
        the key that changed.
        """
        if self.verify_reads and key in KEYS and len(self):
            self._verify_rows(rows, key)
        if (row := self._empty(key)) is not None:
            return np.zeros((*np.shape(rows), *row), np.float32)
        try:
            return self.reader(key).take(rows)
        except ChunkError as err:
            raise StoreError(f"{self.path}: key {key!r}: {err}") from None

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self):
            raise IndexError(f"episode {index} out of range for {self.path} ({len(self)} episodes)")

    def _episode_arrays(self, index: int, keys: Sequence[str] = KEYS) -> dict[str, np.ndarray]:
        """`keys` of episode `index` (actions without the padding row), unchecked."""
        start, n = map(int, self.index[index])
        arrays = {}
        for key in keys:
            if (row := self._empty(key)) is not None:
                arrays[key] = np.zeros((n, *row), np.float32)
                continue
            try:
                arrays[key] = self.reader(key).range(start, start + n)
            except ChunkError as err:
                raise StoreError(f"{self.path}: episode {index}: key {key!r}: {err}") from None
        if "actions" in arrays:
            arrays["actions"] = arrays["actions"][:-1]
        return arrays

    def _has_key_hashes(self) -> bool:
        return "hash_keys" in self.meta and (self.path / "key_hashes" / "zarr.json").exists()

    def hash_problem(self, index: int, arrays: dict[str, np.ndarray]) -> tuple[str, str] | None:
        """(key, message) when episode `index`'s `arrays` (as `_episode_arrays` returns them) do
        not hash to what was stored, else None. Per-key hashes name the key; a store without
        them (older than key_hashes) can only say the episode changed."""
        hash_keys = self.meta.get("hash_keys")
        if self._has_key_hashes():
            try:
                stored = self.reader("key_hashes").take(np.array([index]))[0]  # (K, 16)
            except ChunkError as err:
                return "key_hashes", str(err)
            for key, want in zip(hash_keys, stored, strict=True):
                if key in arrays and key_hash(arrays[key]) != want.tobytes():
                    return key, "content hash mismatch (data changed since it was written)"
            return None
        digest = episode_hash(arrays["frames"], arrays["actions"], arrays["states"])
        if digest != self.stored_hash(index):
            return "frames/actions/states", "content hash mismatch (data changed)"
        return None

    def verify_episode(self, index: int, keys: Sequence[str] = KEYS) -> None:
        """Raise StoreError naming the store, episode and key unless `keys` of episode `index`
        read back exactly as written. Each (episode, key) is checked once in this process, then
        remembered; a store without per-key hashes checks the whole episode at once."""
        todo = [k for k in keys if (index, k) not in self._verified]
        if todo:
            self._check_index(index)
            self._checked(
                index, self._episode_arrays(index, todo if self._has_key_hashes() else KEYS)
            )

    def _checked(self, index: int, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if (problem := self.hash_problem(index, arrays)) is not None:
            key, message = problem
            raise StoreError(
                f"{self.path}: episode {index}: key {key!r}: {message}; `monde data verify` "
                "lists every corrupt episode and `monde data repair` quarantines them"
            )
        new = [key for key in arrays if (index, key) not in self._verified]
        self._verified.update((index, key) for key in new)
        self._verified_per_key.update(new)
        return arrays

    def _verify_rows(self, rows: np.ndarray, key: str) -> None:
        """Hash-check (once) `key` of every episode holding one of `rows` (frame indices)."""
        if self._verified_per_key[key] >= len(self):  # every episode checked: nothing to look up
            return
        flat = np.unique(np.asarray(rows, np.int64).ravel())
        for i in np.unique(np.searchsorted(self.index[:, 0], flat, side="right") - 1):
            if (int(i), key) not in self._verified:
                self.verify_episode(int(i), (key,))

    def __getitem__(self, index: int) -> Episode:
        self._check_index(index)
        arrays = self._episode_arrays(index)
        if self.verify_reads and any((index, k) not in self._verified for k in KEYS):
            self._checked(index, arrays)
        try:
            return Episode(**arrays, meta={"index": index})
        except ValueError as err:
            raise StoreError(f"{self.path}: episode {index}: {err}") from err

    def __iter__(self) -> Iterator[Episode]:
        return (self[i] for i in range(len(self)))

    def stored_hash(self, index: int) -> bytes:
        self._check_index(index)
        return self.read("hashes", np.array([index]))[0].tobytes()

    def extra_keys(self) -> list[str]:
        """Names of the optional keys this store holds (extra cameras, rewards, ...), sorted."""
        return sorted(k for k, f in self.meta["features"].items() if f.get("extra"))

    def extras(self, index: int) -> dict[str, np.ndarray]:
        """The optional keys of episode `index`, one row per frame (the last row of per-step
        values such as rewards is padding, like actions'). Training never reads them."""
        self._check_index(index)
        start, n = map(int, self.index[index])
        out = {}
        for key in self.extra_keys():
            try:
                out[key] = self.reader(key).range(start, start + n)
            except ChunkError as err:
                raise StoreError(f"{self.path}: episode {index}: key {key!r}: {err}") from None
        return out

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
