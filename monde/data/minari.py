"""Minari datasets in: observations, actions, rewards and the environment spec, read from disk.

Reads Minari's on-disk layout without the `minari` package:
    <dataset>/data/metadata.json     data_format ("hdf5", "arrow" or "parquet"), jpeg_encoding,
                                     observation_space and action_space (serialized Gymnasium
                                     spaces), env_spec, ...
    <dataset>/data/main_data.hdf5    hdf5 (needs h5py: `pip install 'monde[minari]'`): groups
                                     episode_<id>/{observations, actions, rewards, terminations,
                                     truncations}; observations T+1 rows, the others T
    <dataset>/data/<id>/*.arrow      arrow / parquet: one table per episode, T+1 rows; actions,
                                     rewards, terminations and truncations padded by one row

Images come from a Box observation of shape (Hp, Wp, 3) uint8, or from such an entry of a Dict
observation; the other Box entries of a Dict, flattened, become the states. Minari stores
images JPEG-encoded by default (`jpeg_encoding`, its default since 0.5.2): one byte string per
frame (hdf5: a variable-length uint8 dataset, or a fixed-length one when every frame encodes to
the same size; arrow: a binary column). They are decoded with Pillow; raw arrays are read as they
are. A Discrete action becomes a one-hot vector. Rewards, terminations and truncations are kept
as optional store keys (one row per frame, the last row padding like actions' — never used by
training). Every file that cannot be read raises MinariError naming the file and the episode.
It knows nothing about training.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from monde.data.errors import ImportFormatError, image_error
from monde.data.store import EpisodeStore
from monde.io import read_json
from monde.progress import tqdm
from monde.types import Episode

STEP_KEYS = {"rewards": np.float64, "terminations": np.bool_, "truncations": np.bool_}
"""per-step arrays kept as optional store keys, with the dtype they are stored in"""


class MinariError(ImportFormatError):
    """A Minari folder that cannot be read; the message names the file, episode and key."""


def _data_dir(path: Path) -> Path:
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").exists():
            return candidate
    raise FileNotFoundError(f"{path} is not a Minari dataset (no data/metadata.json)")


def _space(meta: dict, key: str, file: Path) -> dict:
    value = meta.get(key)
    if value is None:
        raise MinariError(file, f"missing key {key!r}")
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError as err:
        raise MinariError(file, f"key {key!r} is not a serialized space ({err})") from None


def _compact(space: dict) -> dict:
    """`space` with each Box's uniform low / high (Minari serializes an image's per pixel) as one
    number, so the store's attributes stay small."""
    space = dict(space)
    if space.get("type") == "Dict":
        space["subspaces"] = {k: _compact(s) for k, s in space["subspaces"].items()}
    for bound in ("low", "high"):
        if isinstance(space.get(bound), list):
            values = np.unique(np.asarray(space[bound], np.float64))
            if len(values) == 1 and np.isfinite(values[0]):
                space[bound] = values[0].item() if values[0] % 1 else int(values[0])
    return space


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
        file,
        "key 'observation_space' has no RGB image (Box of shape (H, W, 3)); Monde learns from "
        f"pixels. Space: {json.dumps(space)[:200]}",
    )


def _box(values, shape: list[int]) -> np.ndarray:
    """An Arrow FixedSizeList column (or numpy array) → (N, *shape)."""
    arr = (
        values
        if isinstance(values, np.ndarray)
        else np.stack(values.to_numpy(zero_copy_only=False))
    )
    return np.asarray(arr).reshape(-1, *shape)


def _is_encoded(values) -> bool:
    """True when stored image observations are byte strings (JPEG) rather than pixel arrays."""
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)
    values = np.asarray(values)
    return values.dtype == object or (values.dtype == np.uint8 and values.ndim == 2)


def decode_images(values, shape: list[int], key: str) -> np.ndarray:
    """Stored image observations → (N, *shape) uint8: pixel arrays as they are, JPEG (or any
    Pillow-readable) byte strings decoded. Raises ValueError naming the key and the frame."""
    from PIL import Image

    if not _is_encoded(values):
        return np.asarray(_box(values, shape))
    encoded = values.to_pylist() if hasattr(values, "to_pylist") else list(values)
    out = np.empty((len(encoded), *shape), np.uint8)
    for t, data in enumerate(encoded):
        try:
            raw = data if isinstance(data, bytes) else np.asarray(data, np.uint8).tobytes()
            with Image.open(io.BytesIO(raw)) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (OSError, ValueError, TypeError) as err:  # PIL: UnidentifiedImageError, truncated
            raise ValueError(
                f"key {key!r} frame {t}: not a decodable image ({image_error(err)})"
            ) from None
        if list(pixels.shape) != list(shape):
            raise ValueError(
                f"key {key!r} frame {t}: decoded image is {list(pixels.shape)}, the "
                f"observation space says {list(shape)}"
            )
        out[t] = pixels
    return out


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
        try:
            if self.act_space["type"] not in ("Box", "Discrete"):
                raise MinariError(
                    self.meta_file,
                    f"key 'action_space' {self.act_space['type']} is not supported "
                    "(Box or Discrete)",
                )
            self.image_key, self.state_keys = _split_obs(self.obs_space, self.meta_file)
            self._image_space()
        except (KeyError, TypeError, AttributeError, IndexError) as err:
            raise MinariError(self.meta_file, f"malformed space ({err!r})") from None
        if self.format in ("arrow", "parquet"):
            self.ids = sorted(
                int(p.name) for p in self.data.iterdir() if p.is_dir() and p.name.isdigit()
            )
        elif self.format == "hdf5":
            try:
                import h5py  # noqa: F401
            except ImportError:
                raise MinariError(
                    self.data,
                    "an hdf5 Minari dataset needs h5py: pip install 'monde[minari]' (or h5py)",
                ) from None
            self.ids = list(range(int(self.meta.get("total_episodes", 0))))
        else:
            raise MinariError(self.meta_file, f"data_format {self.format!r} is not supported")

    def __len__(self) -> int:
        return len(self.ids)

    def _image_space(self) -> list[int]:
        space = self.obs_space if self.image_key is None else self.obs_space["subspaces"]
        return (space if self.image_key is None else space[self.image_key])["shape"]

    def _raw_table(self, episode_id: int) -> tuple[dict, Path]:
        """arrow / parquet: {observations, actions, rewards, ...} of one episode, and its folder."""
        import pyarrow as pa
        import pyarrow.dataset as ds

        folder = self.data / str(episode_id)
        try:
            table = ds.dataset(
                folder, format=self.format, ignore_prefixes=["_", ".", "metadata.json"]
            ).to_table()
        except (pa.ArrowException, OSError, ValueError) as err:
            raise MinariError(
                folder, f"unreadable {self.format} table ({err})", episode_id
            ) from None
        for key in ("observations", "actions"):
            if key not in table.column_names:
                raise MinariError(folder, f"missing key {key!r}", episode_id)
        obs_col = table.column("observations").combine_chunks()
        image_shape = self._image_space()
        if self.obs_space["type"] == "Dict":
            obs = {
                k: _box(obs_col.field(k), self.obs_space["subspaces"][k]["shape"])
                for k in self.state_keys
            }
            obs[self.image_key] = decode_images(
                obs_col.field(self.image_key), image_shape, f"observations/{self.image_key}"
            )
        else:
            obs = decode_images(obs_col, image_shape, "observations")
        act_col = table.column("actions").combine_chunks()
        if self.act_space["type"] == "Box":
            actions = _box(act_col, self.act_space["shape"])[:-1]  # last row is padding
        else:
            actions = act_col.to_numpy(zero_copy_only=False)[:-1]
        steps = {k: table.column(k).to_numpy()[:-1] for k in STEP_KEYS if k in table.column_names}
        return {"observations": obs, "actions": actions, **steps}, folder

    def _raw_hdf5(self, episode_id: int) -> tuple[dict, Path]:
        """hdf5: {observations, actions, rewards, ...} of one episode, and the file."""
        import h5py

        file = self.data / "main_data.hdf5"
        if not file.exists():
            raise MinariError(file, "missing (the hdf5 dataset's data file)", episode_id)
        image_shape = self._image_space()
        try:
            with h5py.File(file, "r") as f:
                group = f.get(f"episode_{episode_id}")
                if group is None:
                    raise MinariError(file, f"missing key 'episode_{episode_id}'", episode_id)
                for key in ("observations", "actions"):
                    if key not in group:
                        raise MinariError(file, f"missing key {key!r}", episode_id)
                o = group["observations"]
                if isinstance(o, h5py.Group):
                    obs = {k: np.asarray(o[k]) for k in self.state_keys}
                    images = o[self.image_key][()]
                else:
                    obs, images = None, o[()]
                steps = {k: np.asarray(group[k]) for k in STEP_KEYS if k in group}
                actions = np.asarray(group["actions"])
        except MinariError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as err:  # cut, corrupt
            raise MinariError(file, f"unreadable hdf5 data ({err})", episode_id) from None
        try:
            if obs is None:
                obs = decode_images(images, image_shape, "observations")
            else:
                key = f"observations/{self.image_key}"
                obs[self.image_key] = decode_images(images, image_shape, key)
        except ValueError as err:
            raise MinariError(file, err, episode_id) from None
        return {"observations": obs, "actions": actions, **steps}, file

    def __getitem__(self, i: int) -> Episode:
        episode_id = self.ids[i]
        if self.format == "hdf5":
            raw, file = self._raw_hdf5(episode_id)
        else:
            try:
                raw, file = self._raw_table(episode_id)
            except MinariError:
                raise
            except (ValueError, TypeError, KeyError) as err:
                raise MinariError(self.data / str(episode_id), err, episode_id) from None
        try:
            return self._episode(raw, episode_id)
        except MinariError:
            raise
        except (ValueError, TypeError, IndexError) as err:
            raise MinariError(file, err, episode_id) from None

    def _episode(self, raw: dict, episode_id: int) -> Episode:
        obs, actions = raw["observations"], raw["actions"]
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
            raise ValueError(
                f"{len(frames)} observations but {len(actions)} actions in key 'actions' "
                "(expected one observation more than actions)"
            )
        extras = {}
        for key, dtype in STEP_KEYS.items():
            if key not in raw:
                continue
            values = np.asarray(raw[key]).reshape(-1)
            if len(values) != len(actions):
                raise ValueError(f"{len(values)} rows in key {key!r} for {len(actions)} actions")
            extras[key] = np.concatenate([values, np.zeros(1, values.dtype)]).astype(dtype)
        return Episode(
            np.asarray(frames, np.uint8),
            actions,
            states,
            {"id": episode_id, "extras": extras} if extras else {"id": episode_id},
        )


def import_minari(src: str | Path, out: str | Path, progress: bool = True) -> EpisodeStore:
    """A Minari dataset folder → a new native store at `out`, with the env spec in its info."""
    reader = MinariReader(src)
    if not len(reader):
        raise MinariError(reader.meta_file, "the dataset holds no episodes")
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
                expected_episodes=len(reader),
                info={
                    "env": reader.meta.get("dataset_id"),
                    "source": {"format": "minari", "path": str(src)},
                    "env_spec": json.loads(env_spec) if isinstance(env_spec, str) else env_spec,
                    "observation_space": _compact(reader.obs_space),
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
    store.finish()  # the last write: the store is complete
    return store


def is_minari(path: str | Path) -> bool:
    try:
        _data_dir(Path(path))
        return True
    except FileNotFoundError:
        return False
