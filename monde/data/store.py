"""A small episode store: a folder of compressed .npz episodes and a meta.json index.

Layout:
    meta.json               {"format", "num_episodes", "info": {env, image_size, action_dim,
                            state_names, env_config, data_config, coverage, ...}}
    episodes/000000.npz     frames (T+1, Hp, Wp, C) uint8, actions (T, A) float32,
                            states (T+1, S) float32

Appending writes the episode file atomically, then the index atomically: a crash leaves the
store readable, with the episode either listed and complete or not listed. Files are read with
allow_pickle=False. The store knows nothing about models or training.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from monde.io import atomic_write_bytes, atomic_write_json, read_json
from monde.types import Episode

FORMAT = "monde.episodes/1"
_KEYS = ("frames", "actions", "states")


class EpisodeStore:
    """Append-only episodes on disk. `EpisodeStore.create(path, info)` or `EpisodeStore(path)`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.path} is not a Monde episode store (no meta.json)")
        self.meta = read_json(meta_path)
        if self.meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: format {self.meta.get('format')!r} is not {FORMAT!r}")

    @classmethod
    def create(cls, path: str | Path, info: dict, overwrite: bool = False) -> EpisodeStore:
        path = Path(path)
        if (path / "meta.json").exists() and not overwrite:
            raise FileExistsError(f"{path} already holds an episode store")
        (path / "episodes").mkdir(parents=True, exist_ok=True)
        atomic_write_json(path / "meta.json", {"format": FORMAT, "num_episodes": 0, "info": info})
        return cls(path)

    def __len__(self) -> int:
        return int(self.meta["num_episodes"])

    def _episode_path(self, index: int) -> Path:
        return self.path / "episodes" / f"{index:06d}.npz"

    def append(self, episode: Episode) -> int:
        index = len(self)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            frames=episode.frames,
            actions=episode.actions.astype(np.float32),
            states=episode.states.astype(np.float32),
        )
        atomic_write_bytes(self._episode_path(index), buffer.getvalue())
        self.meta["num_episodes"] = index + 1
        atomic_write_json(self.path / "meta.json", self.meta)
        return index

    def set_info(self, **info: object) -> None:
        self.meta["info"].update(info)
        atomic_write_json(self.path / "meta.json", self.meta)

    def __getitem__(self, index: int) -> Episode:
        if not 0 <= index < len(self):
            raise IndexError(f"episode {index} out of range for {self.path} ({len(self)} episodes)")
        path = self._episode_path(index)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [k for k in _KEYS if k not in data.files]
                if missing:
                    raise ValueError(f"{path}: missing key(s) {missing}")
                arrays = {k: data[k] for k in _KEYS}
        except (zipfile.BadZipFile, EOFError, OSError) as err:
            raise ValueError(f"{path}: unreadable episode file ({err})") from err
        try:
            return Episode(**arrays, meta={"index": index})
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err

    def __iter__(self) -> Iterator[Episode]:
        return (self[i] for i in range(len(self)))
