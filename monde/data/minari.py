"""Minari datasets in: observations, actions and the environment spec, read from disk.

Reads Minari's on-disk layout without the `minari` package:
    <dataset>/data/metadata.json     data_format ("arrow" or "hdf5"), observation_space and
                                     action_space (serialized Gymnasium spaces), env_spec, ...
    <dataset>/data/<episode_id>/*.arrow    arrow: one Arrow IPC table per episode, columns
                                     observations (T+1 rows), actions (padded to T+1 rows), ...
    <dataset>/data/main_data.hdf5    hdf5: groups episode_<id>/{observations, actions} (needs h5py)

Images come from a Box observation of shape (Hp, Wp, 3) uint8, or from such an entry of a Dict
observation; the other Box entries of a Dict, flattened, become the states. A Discrete action
becomes a one-hot vector. It knows nothing about training.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from monde.data.store import EpisodeStore
from monde.io import read_json
from monde.progress import tqdm
from monde.types import Episode


class MinariError(ValueError):
    """A Minari folder that cannot be read; the message names the file, episode and key."""


def _data_dir(path: Path) -> Path:
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").exists():
            return candidate
    raise FileNotFoundError(f"{path} is not a Minari dataset (no data/metadata.json)")


def _space(meta: dict, key: str, file: Path) -> dict:
    value = meta.get(key)
    if value is None:
        raise MinariError(f"{file}: missing key {key!r}")
    return json.loads(value) if isinstance(value, str) else value


def _is_image(space: dict) -> bool:
    return space.get("type") == "Box" and len(space["shape"]) == 3 and space["shape"][2] == 3


def _split_obs(space: dict, file: Path) -> tuple[str | None, list[str]]:
    """(image key or None for a bare Box, state keys) of an observation space."""
    if _is_image(space):
        return None, []
    if space.get("type") == "Dict":
        subs = space["subspaces"]
        images = [k for k, s in subs.items() if _is_image(s)]
        if images:
            return images[0], [k for k, s in subs.items() if s["type"] == "Box" and k != images[0]]
    raise MinariError(
        f"{file}: key 'observation_space' has no RGB image (Box of shape (H, W, 3)); Monde "
        f"learns from pixels. Space: {json.dumps(space)[:200]}"
    )


def _box(values, shape: list[int]) -> np.ndarray:
    """An Arrow FixedSizeList column (or numpy array) → (N, *shape)."""
    arr = (
        values
        if isinstance(values, np.ndarray)
        else np.stack(values.to_numpy(zero_copy_only=False))
    )
    return np.asarray(arr).reshape(-1, *shape)


class MinariReader:
    """Episodes of a Minari dataset folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.data = _data_dir(self.path)
        self.meta_file = self.data / "metadata.json"
        self.meta = read_json(self.meta_file)
        self.format = self.meta.get("data_format", "hdf5")
        self.obs_space = _space(self.meta, "observation_space", self.meta_file)
        self.act_space = _space(self.meta, "action_space", self.meta_file)
        if self.act_space["type"] not in ("Box", "Discrete"):
            raise MinariError(
                f"{self.meta_file}: key 'action_space' {self.act_space['type']} "
                "is not supported (Box or Discrete)"
            )
        self.image_key, self.state_keys = _split_obs(self.obs_space, self.meta_file)
        if self.format == "arrow":
            self.ids = sorted(
                int(p.name) for p in self.data.iterdir() if p.is_dir() and p.name.isdigit()
            )
        elif self.format == "hdf5":
            self.ids = list(range(int(self.meta.get("total_episodes", 0))))
        else:
            raise MinariError(f"{self.meta_file}: data_format {self.format!r} is not supported")

    def __len__(self) -> int:
        return len(self.ids)

    def _raw(self, episode_id: int) -> tuple[dict | np.ndarray, np.ndarray, Path]:
        """(observations: array or {key: array}, actions (T+1 or T, ...), file)."""
        if self.format == "arrow":
            import pyarrow as pa
            import pyarrow.dataset as ds

            folder = self.data / str(episode_id)
            try:
                table = ds.dataset(
                    folder, format="arrow", ignore_prefixes=["_", ".", "metadata.json"]
                ).to_table()
            except (pa.ArrowInvalid, OSError) as err:
                raise MinariError(f"{folder}: episode {episode_id}: unreadable ({err})") from None
            for key in ("observations", "actions"):
                if key not in table.column_names:
                    raise MinariError(f"{folder}: episode {episode_id}: missing key {key!r}")
            obs_col = table.column("observations").combine_chunks()
            if self.obs_space["type"] == "Dict":
                obs = {
                    k: _box(obs_col.field(k), self.obs_space["subspaces"][k]["shape"])
                    for k in [self.image_key, *self.state_keys]
                }
            else:
                obs = _box(obs_col, self.obs_space["shape"])
            act_col = table.column("actions").combine_chunks()
            if self.act_space["type"] == "Box":
                actions = _box(act_col, self.act_space["shape"])[:-1]  # last row is padding
            else:
                actions = act_col.to_numpy()[:-1]
            return obs, actions, folder
        try:
            import h5py
        except ImportError:
            raise MinariError(
                f"{self.data}: an hdf5 Minari dataset needs h5py (pip install h5py)"
            ) from None
        file = self.data / "main_data.hdf5"
        with h5py.File(file, "r") as f:
            group = f.get(f"episode_{episode_id}")
            if group is None:
                raise MinariError(f"{file}: missing key 'episode_{episode_id}'")
            o = group["observations"]
            obs = (
                {k: np.asarray(o[k]) for k in [self.image_key, *self.state_keys]}
                if isinstance(o, h5py.Group)
                else np.asarray(o)
            )
            return obs, np.asarray(group["actions"]), file

    def __getitem__(self, i: int) -> Episode:
        episode_id = self.ids[i]
        obs, actions, file = self._raw(episode_id)
        where = f"{file}: episode {episode_id}"
        if isinstance(obs, dict):
            frames = obs[self.image_key]
            states = np.concatenate(
                [obs[k].reshape(len(frames), -1) for k in self.state_keys]
                or [np.zeros((len(frames), 0))],
                axis=1,
            ).astype(np.float32)
        else:
            frames, states = obs, np.zeros((len(obs), 0), np.float32)
        if self.act_space["type"] == "Discrete":
            n, start = int(self.act_space["n"]), int(self.act_space.get("start", 0))
            actions = np.eye(n, dtype=np.float32)[np.asarray(actions, np.int64) - start]
        actions = np.asarray(actions, np.float32).reshape(len(actions), -1)
        if len(frames) != len(actions) + 1:
            raise MinariError(
                f"{where}: {len(frames)} observations but {len(actions)} actions in key "
                "'actions' (expected one observation more than actions)"
            )
        try:
            return Episode(np.asarray(frames, np.uint8), actions, states, {"id": episode_id})
        except ValueError as err:
            raise MinariError(f"{where}: {err}") from None


def import_minari(src: str | Path, out: str | Path, progress: bool = True) -> EpisodeStore:
    """A Minari dataset folder → a new native store at `out`, with the env spec in its info."""
    reader = MinariReader(src)
    if not len(reader):
        raise MinariError(f"{reader.meta_file}: the dataset holds no episodes")
    store = None
    for i in tqdm(range(len(reader)), desc="import minari", unit="ep", disable=not progress):
        ep = reader[i]
        if store is None:
            env_spec = reader.meta.get("env_spec")
            bounds = {}
            if reader.act_space["type"] == "Box":
                low, high = (
                    np.asarray(reader.act_space["low"]),
                    np.asarray(reader.act_space["high"]),
                )
                if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
                    bounds = {
                        "action_low": low.ravel().tolist(),
                        "action_high": high.ravel().tolist(),
                    }
            store = EpisodeStore.create(
                out,
                info={
                    "env": reader.meta.get("dataset_id"),
                    "source": {"format": "minari", "path": str(src)},
                    "env_spec": json.loads(env_spec) if isinstance(env_spec, str) else env_spec,
                    "observation_space": reader.obs_space,
                    "action_space": reader.act_space,
                    "image_size": ep.frames.shape[1]
                    if ep.frames.shape[1] == ep.frames.shape[2]
                    else None,
                    "action_dim": ep.actions.shape[1],
                    "state_dim": ep.states.shape[1],
                    "state_names": reader.state_keys
                    if len(reader.state_keys) == ep.states.shape[1]
                    else None,
                    "fps": None,
                    "frameskip": 1,
                    **bounds,
                },
            )
        store.append(ep)
    return store


def is_minari(path: str | Path) -> bool:
    try:
        _data_dir(Path(path))
        return True
    except FileNotFoundError:
        return False
