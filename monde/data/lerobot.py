"""LeRobotDataset v3 folders in and out: meta/info.json, parquet tables (pyarrow), mp4 (PyAV).

Layout read and written (LeRobot's published v3.0 layout):
    meta/info.json                               codebase_version "v3.0", fps, features, paths
    meta/tasks.parquet                           task_index, with the task strings as the
                                                 (pandas) index column "task", in task_index order
    meta/stats.json                              per feature: min, max, mean, std, count and the
                                                 q01 q10 q50 q90 q99 quantiles (images: per
                                                 channel, shape (3, 1, 1), in [0, 1])
    meta/episodes/chunk-000/file-000.parquet     one row per episode: episode_index, tasks,
                                                 length, data/{chunk,file}_index,
                                                 dataset_{from,to}_index, videos/<key>/{chunk_index,
                                                 file_index,from_timestamp,to_timestamp},
                                                 stats/<feature>/<stat>
    data/chunk-000/file-000.parquet              one row per frame: observation.state, action,
                                                 timestamp, frame_index, episode_index, index,
                                                 task_index (and the images as PNG bytes when
                                                 exported without video)
    videos/<key>/chunk-000/file-000.mp4          one camera's episodes back to back

A LeRobot episode of n rows has n frames and n actions; Monde's has n frames and n − 1 actions
(the action after the last frame is never taken), so export pads the last action with zeros
and import drops it. Several cameras: the first imported (or the one `--camera` names first)
becomes the store's `frames`, each other one an optional store key `frames.<feature key>`; the
tasks are kept (info `tasks`, and the per-frame key `task_index`). It knows nothing about
training.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np

from monde.data.errors import ImportFormatError, image_error
from monde.data.store import EpisodeStore
from monde.data.video import VideoWriter, decode_at
from monde.io import atomic_write_json, read_json
from monde.progress import tqdm
from monde.types import Episode

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
TASKS_PATH = "meta/tasks.parquet"
STATS_PATH = "meta/stats.json"
IMAGE_KEY = "observation.image"
CAMERA_PREFIX = "frames."
"""store key of an extra camera: `frames.<LeRobot feature key>`"""
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
"""the quantiles LeRobot v3 records per feature, as keys q01 q10 q50 q90 q99"""


class LeRobotError(ImportFormatError):
    """A LeRobot folder that cannot be read; the message names the file, episode and key."""


# ---------------------------------------------------------------------------------- stats
def _sample_frames(n: int) -> np.ndarray:
    """Which of an episode's n frames feed its image stats: all up to 100, then n^0.75 evenly
    spaced (at most 10 000), as LeRobot samples them."""
    k = min(n, max(100, min(int(n**0.75), 10_000)))
    return np.round(np.linspace(0, n - 1, k)).astype(np.int64)


def feature_stats(values: np.ndarray, count: int | None = None) -> dict[str, np.ndarray]:
    """min, max, mean, std (population), count and quantiles of `values` (N, D) over axis 0."""
    x = np.asarray(values, np.float64)  # (N, D)
    stats = {
        "min": x.min(axis=0),
        "max": x.max(axis=0),
        "mean": x.mean(axis=0),
        "std": x.std(axis=0),
        "count": np.array([len(x) if count is None else count]),
    }
    for q, value in zip(QUANTILES, np.quantile(x, QUANTILES, axis=0), strict=True):
        stats[f"q{round(q * 100):02d}"] = value
    return stats


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel stats of frames (T, H, W, C) uint8 in [0, 1], each of shape (C, 1, 1)."""
    sample = frames[_sample_frames(len(frames))]
    flat = sample.reshape(-1, sample.shape[-1]) / 255.0  # (K·H·W, C)
    stats = feature_stats(flat, count=len(sample))
    return {k: v if k == "count" else v.reshape(-1, 1, 1) for k, v in stats.items()}


def aggregate_stats(per_episode: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One feature's dataset stats from its episodes': count-weighted mean, pooled variance,
    min of mins, max of maxes, and for quantiles the envelope LeRobot keeps (the lowest episode
    value for q ≤ 50, the highest above)."""
    counts = np.array([float(s["count"][0]) for s in per_episode])
    total = counts.sum()
    means = np.stack([s["mean"] for s in per_episode])  # (E, ...)
    w = counts.reshape(-1, *[1] * (means.ndim - 1))
    mean = (means * w).sum(axis=0) / total
    var = ((np.stack([s["std"] for s in per_episode]) ** 2 + (means - mean) ** 2) * w).sum(0)
    out = {
        "min": np.min([s["min"] for s in per_episode], axis=0),
        "max": np.max([s["max"] for s in per_episode], axis=0),
        "mean": mean,
        "std": np.sqrt(var / total),
        "count": np.array([int(total)]),
    }
    for q in QUANTILES:
        key = f"q{round(q * 100):02d}"
        values = np.stack([s[key] for s in per_episode])
        out[key] = values.min(axis=0) if q <= 0.5 else values.max(axis=0)
    return out


def _listed(stats: dict[str, np.ndarray]) -> dict[str, list]:
    return {k: np.asarray(v).tolist() for k, v in stats.items()}


# ---------------------------------------------------------------------------------- tasks
def write_tasks(tasks: list[str], path: Path) -> None:
    """meta/tasks.parquet as LeRobot writes it (pandas `DataFrame.to_parquet` of a frame with
    column task_index and the task strings as its index named "task"): the columns task_index
    (int64) and task (string), and the "pandas" schema metadata naming "task" as the index, so
    `pd.read_parquet` gives back the index. Written with pyarrow alone, in the layout of the
    pandas 2 series LeRobot requires."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.3",
    }
    schema = pa.schema(
        [("task_index", pa.int64()), ("task", pa.string())],
        metadata={b"pandas": json.dumps(pandas_meta).encode()},
    )
    table = pa.table({"task_index": np.arange(len(tasks), dtype=np.int64), "task": tasks}, schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def read_tasks(root: Path) -> list[str] | None:
    """The task strings of a LeRobot folder by task_index, or None without meta/tasks.parquet."""
    import pyarrow.parquet as pq

    file = root / TASKS_PATH
    if not file.exists():
        return None
    try:
        table = pq.read_table(file)
    except Exception as err:  # pyarrow's ArrowInvalid and friends
        raise LeRobotError(file, f"unreadable parquet ({err})") from None
    names = [c for c in ("task", "__index_level_0__") if c in table.column_names]
    if "task_index" not in table.column_names or not names:
        raise LeRobotError(file, f"needs columns 'task_index' and 'task'; has {table.column_names}")
    index = table.column("task_index").to_numpy()
    tasks: list[str | None] = [None] * (int(index.max()) + 1 if len(index) else 0)
    for i, task in zip(index, table.column(names[0]).to_pylist(), strict=True):
        tasks[int(i)] = task
    return tasks  # type: ignore[return-value]


# ---------------------------------------------------------------------------------- export
def _export_cameras(store: EpisodeStore) -> dict[str, str]:
    """{store key: LeRobot feature key} of every camera the store holds, `frames` first."""
    info = store.meta["info"]
    source = info.get("source") or {}
    main = source.get("image_key") if source.get("format") == "lerobot" else None
    cameras = {"frames": main or IMAGE_KEY}
    for key in store.extra_keys():
        if key.startswith(CAMERA_PREFIX) and store.meta["features"][key].get("kind") == "rgb":
            cameras[key] = key[len(CAMERA_PREFIX) :]
    return cameras


def _export_tasks(store: EpisodeStore) -> tuple[list[str], bool]:
    """(task strings by task_index, whether the store holds a per-frame task_index)."""
    info = store.meta["info"]
    tasks = info.get("tasks")
    if isinstance(tasks, list) and tasks and "task_index" in store.extra_keys():
        return [str(t) for t in tasks], True
    return [str(info.get("task") or info.get("env") or "unknown")], False


def export_lerobot(
    store: EpisodeStore | str | Path,
    out: str | Path,
    video: bool = True,
    fps: float | None = None,
    progress: bool = True,
) -> Path:
    """Write the store's episodes as a LeRobot v3 folder at `out` (video=False: PNG frames).

    Every camera of the store is exported, with its task strings, meta/stats.json and
    meta/tasks.parquet. Frame sizes must be even for the mp4 path (h264 with yuv420p). The
    folder is written under a temporary name and renamed into place when complete.
    """
    if not isinstance(store, EpisodeStore):
        store = EpisodeStore(store)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} already exists and is not empty")
    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _export(store, tmp, video, fps, progress)
        if out.exists():
            out.rmdir()  # empty, checked above
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _export(store: EpisodeStore, out: Path, video: bool, fps: float | None, progress: bool):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    feats = store.meta["features"]
    info = store.meta["info"]
    fps = float(fps or info.get("fps") or 10.0)
    cameras = _export_cameras(store)
    for name in cameras:
        if feats[name]["shape"][-1] != 3:
            raise ValueError(
                f"{store.path}: key {name!r} has {feats[name]['shape'][-1]} channels; LeRobot "
                "export writes RGB only (an RGB-D store's depth has no LeRobot image feature "
                "here yet; a store of stacked frames, env.frame_stack, holds each frame k times: "
                "collect it without the stack)"
            )
    tasks, per_frame_tasks = _export_tasks(store)
    a_dim, s_dim = feats["actions"]["shape"][0], feats["states"]["shape"][0]
    data_file = out / DATA_PATH.format(chunk_index=0, file_index=0)
    data_file.parent.mkdir(parents=True, exist_ok=True)
    episodes_rows: list[dict] = []
    episode_stats: list[dict[str, dict]] = []
    writer = None
    start = 0
    video_writers = (
        {
            name: VideoWriter(
                out / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0), fps
            )
            for name, key in cameras.items()
        }
        if video and len(store)
        else {}
    )
    png_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for e in tqdm(range(len(store)), desc="export lerobot", unit="ep", disable=not progress):
        ep = store[e]
        extras = store.extras(e) if store.extra_keys() else {}
        images = {"frames": ep.frames, **{k: extras[k] for k in cameras if k != "frames"}}
        n = len(ep.frames)
        actions = np.zeros((n, a_dim), np.float32)
        actions[:-1] = ep.actions
        task_index = (
            extras["task_index"].astype(np.int64) if per_frame_tasks else np.zeros(n, np.int64)
        )
        numeric = {
            "observation.state": ep.states.astype(np.float32),
            "action": actions,
            "timestamp": np.arange(n, dtype=np.float32) / np.float32(fps),
            "frame_index": np.arange(n, dtype=np.int64),
            "episode_index": np.full(n, e, np.int64),
            "index": np.arange(start, start + n, dtype=np.int64),
            "task_index": task_index,
        }
        columns = {  # fixed-size lists; of size 0 pyarrow cannot read back: a plain list then
            "observation.state": pa.array(
                list(numeric["observation.state"]), pa.list_(pa.float32(), s_dim or -1)
            ),
            "action": pa.array(list(actions), pa.list_(pa.float32(), a_dim or -1)),
            **{k: pa.array(numeric[k]) for k in list(numeric)[2:]},
        }
        if not video:
            for name, key in cameras.items():
                pngs = []
                for frame in images[name]:
                    buf = io.BytesIO()
                    Image.fromarray(frame).save(buf, format="PNG")
                    pngs.append({"bytes": buf.getvalue(), "path": None})
                columns[key] = pa.array(pngs, png_type)
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(data_file, table.schema)
        writer.write_table(table)
        stats = {
            k: feature_stats(v.reshape(n, -1) if v.ndim > 1 else v.reshape(n, 1))
            for k, v in numeric.items()
        }
        stats.update({cameras[name]: image_stats(frames) for name, frames in images.items()})
        episode_stats.append(stats)
        row = {
            "episode_index": e,
            "tasks": [tasks[int(i)] for i in dict.fromkeys(task_index.tolist())],
            "length": n,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
            "meta/episodes/chunk_index": 0,
            "meta/episodes/file_index": 0,
        }
        for name, writer_ in video_writers.items():
            key = cameras[name]
            row.update(
                {
                    f"videos/{key}/chunk_index": 0,
                    f"videos/{key}/file_index": 0,
                    f"videos/{key}/from_timestamp": start / fps,
                    f"videos/{key}/to_timestamp": (start + n) / fps,
                }
            )
            writer_.write(images[name])  # the episodes back to back
        for feature, s in stats.items():
            row.update({f"stats/{feature}/{k}": v for k, v in _listed(s).items()})
        episodes_rows.append(row)
        start += n
    if writer is not None:
        writer.close()
    for writer_ in video_writers.values():
        writer_.close()
    ep_file = out / "meta/episodes/chunk-000/file-000.parquet"
    ep_file.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(episodes_rows), ep_file)
    write_tasks(tasks, out / TASKS_PATH)
    if episode_stats:
        atomic_write_json(
            out / STATS_PATH,
            {k: _listed(aggregate_stats([s[k] for s in episode_stats])) for k in episode_stats[0]},
        )
    features = {}
    for name, key in cameras.items():
        shape = feats[name]["shape"]
        feature = {
            "dtype": "video" if video else "image",
            "shape": list(shape),
            "names": ["height", "width", "channels"],
        }
        if video:
            feature["info"] = {
                "video.height": shape[0],
                "video.width": shape[1],
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": shape[2],
                "has_audio": False,
            }
        features[key] = feature
    features.update(
        {
            "observation.state": {
                "dtype": "float32",
                "shape": [s_dim],
                "names": feats["states"].get("names"),
            },
            "action": {"dtype": "float32", "shape": [a_dim], "names": None},
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
            "frame_index": {"dtype": "int64", "shape": [1], "names": None},
            "episode_index": {"dtype": "int64", "shape": [1], "names": None},
            "index": {"dtype": "int64", "shape": [1], "names": None},
            "task_index": {"dtype": "int64", "shape": [1], "names": None},
        }
    )
    atomic_write_json(
        out / "meta/info.json",
        {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": None,
            "total_episodes": len(store),
            "total_frames": start,
            "total_tasks": len(tasks),
            "chunks_size": 1000,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200,
            "fps": int(fps) if fps == int(fps) else fps,
            "splits": {"train": f"0:{len(store)}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if video else None,
            "features": features,
            "monde": {"info": info},
        },
    )


# ---------------------------------------------------------------------------------- import
class LeRobotReader:
    """Episodes of a LeRobot v3 folder: tables read with pyarrow, frames decoded by timestamp.

    `cameras` (image feature keys) picks the cameras and their order: the first becomes the
    episode's frames, the others `meta["extras"]["frames.<key>"]`. Default: `image_key` alone
    when given, else every image feature, in info.json's order.
    """

    def __init__(
        self,
        path: str | Path,
        image_key: str | None = None,
        state_key: str = "observation.state",
        action_key: str = "action",
        cameras: list[str] | None = None,
    ):
        import pyarrow.parquet as pq

        self.path = Path(path)
        info_file = self.path / "meta" / "info.json"
        if not info_file.exists():
            raise FileNotFoundError(f"{self.path} is not a LeRobot dataset (no meta/info.json)")
        self.info = read_json(info_file)
        version = str(self.info.get("codebase_version", ""))
        if not version.startswith("v3"):
            raise LeRobotError(
                info_file, f"codebase_version {version!r}; only LeRobot v3 folders are read"
            )
        feats = self.info.get("features", {})
        if not isinstance(feats, dict) or not all(isinstance(f, dict) for f in feats.values()):
            raise LeRobotError(info_file, "key 'features' is not a mapping of feature specs")
        self.image_features = [k for k, f in feats.items() if f.get("dtype") in ("video", "image")]
        chosen = list(cameras) if cameras else [image_key] if image_key else self.image_features
        if not chosen:
            raise LeRobotError(info_file, f"no image feature; features: {sorted(feats)}")
        for key in chosen:
            if key not in self.image_features:
                raise LeRobotError(
                    info_file,
                    f"no image feature {key!r}; image features: {self.image_features}",
                )
        if len(set(chosen)) != len(chosen):
            raise LeRobotError(info_file, f"cameras named twice: {chosen}")
        self.cameras = chosen
        self.image_key = chosen[0]
        if action_key not in feats:
            raise LeRobotError(info_file, f"missing key {action_key!r}")
        self.is_video = feats[self.image_key]["dtype"] == "video"
        self.state_key = state_key if state_key in feats else None
        self.action_key = action_key
        needed = ["fps", "data_path"] + (["video_path"] if self.is_video else [])
        if missing := [k for k in needed if not self.info.get(k)]:
            raise LeRobotError(info_file, f"missing key(s) {missing}")
        try:
            self.fps = float(self.info["fps"])
        except (TypeError, ValueError):
            raise LeRobotError(info_file, f"key 'fps' is {self.info['fps']!r}") from None
        self.tasks = read_tasks(self.path)
        ep_files = sorted((self.path / "meta" / "episodes").rglob("*.parquet"))
        if not ep_files:
            raise LeRobotError(self.path / "meta" / "episodes", "no episode tables")
        rows = []
        for f in ep_files:
            try:
                rows += pq.read_table(f).to_pylist()
            except Exception as err:  # pyarrow's ArrowInvalid and friends
                raise LeRobotError(f, f"unreadable episode table ({err})") from None
        self.episodes = sorted(rows, key=lambda r: r["episode_index"])
        self._tables: dict[Path, object] = {}

    def __len__(self) -> int:
        return len(self.episodes)

    def _table(self, row: dict):
        import pyarrow.parquet as pq

        file = self.path / self.info["data_path"].format(
            chunk_index=row["data/chunk_index"], file_index=row["data/file_index"]
        )
        if file not in self._tables:
            if not file.exists():
                raise LeRobotError(file, "data file missing", row["episode_index"])
            try:
                self._tables = {file: pq.read_table(file)}  # one file held at a time
            except Exception as err:
                raise LeRobotError(
                    file, f"unreadable parquet ({err})", row["episode_index"]
                ) from None
        return file, self._tables[file]

    def video_file(self, row: dict, key: str | None = None) -> Path:
        k = key or self.image_key
        return self.path / self.info["video_path"].format(
            video_key=k,
            chunk_index=row[f"videos/{k}/chunk_index"],
            file_index=row[f"videos/{k}/file_index"],
        )

    def frames_at(
        self,
        i: int,
        frame_indices: np.ndarray,
        timestamps: np.ndarray | None = None,
        key: str | None = None,
    ) -> np.ndarray:
        """Frames `frame_indices` (ascending) of episode i, camera `key` (default the first)
        → (K, Hp, Wp, C) uint8."""
        key = key or self.image_key
        row = self.episodes[i]
        if timestamps is None:
            timestamps = np.asarray(frame_indices) / self.fps
        try:
            file = self.video_file(row, key)
            start = float(row[f"videos/{key}/from_timestamp"])
        except (KeyError, TypeError) as err:
            where = self.path / "meta" / "episodes"
            raise LeRobotError(
                where, f"no video position for key {key!r} ({err})", row["episode_index"]
            ) from None
        if not file.exists():
            raise LeRobotError(file, f"video of key {key!r} missing", row["episode_index"])
        try:
            return decode_at(file, start + np.asarray(timestamps), tolerance=0.5 / self.fps)
        except ImportFormatError as err:
            raise LeRobotError(err.file, err.reason, row["episode_index"]) from None

    def _images(self, i: int, key: str, sub, timestamps: np.ndarray) -> np.ndarray:
        from PIL import Image

        if self.info["features"][key]["dtype"] == "video":
            return self.frames_at(i, np.arange(len(timestamps)), timestamps, key=key)
        if key not in sub.column_names:
            raise ValueError(f"missing key {key!r}")
        frames = []
        for t, v in enumerate(sub.column(key).to_pylist()):
            try:
                with Image.open(io.BytesIO(v["bytes"])) as image:
                    frames.append(np.asarray(image.convert("RGB")))
            except (OSError, ValueError, TypeError) as err:
                raise ValueError(
                    f"key {key!r} frame {t}: not a decodable image ({image_error(err)})"
                ) from None
        return np.stack(frames)

    def __getitem__(self, i: int) -> Episode:
        row = self.episodes[i]
        episode = row.get("episode_index", i)
        try:
            file, table = self._table(row)
        except KeyError as err:
            where = self.path / "meta" / "episodes"
            raise LeRobotError(where, f"missing key {err}", episode) from None
        try:
            return self._episode(i, row, table)
        except ImportFormatError:
            raise
        except KeyError as err:
            raise LeRobotError(file, f"missing key {err}", episode) from None
        except (ValueError, TypeError) as err:
            raise LeRobotError(file, err, episode) from None

    def _episode(self, i: int, row: dict, table) -> Episode:
        lo, hi = row["dataset_from_index"], row["dataset_to_index"]
        index = table.column("index").to_numpy()
        rows = np.flatnonzero((index >= lo) & (index < hi))
        sub = table.take(rows)

        def column(key: str) -> np.ndarray:
            if key not in sub.column_names:
                raise ValueError(f"missing key {key!r}")
            return np.asarray(sub.column(key).to_pylist(), np.float32).reshape(len(rows), -1)

        actions = column(self.action_key)
        if len(actions) != row["length"]:
            raise ValueError(
                f"{len(actions)} rows of key {self.action_key!r} but the episode table says "
                f"{row['length']} frames"
            )
        states = column(self.state_key) if self.state_key else np.zeros((len(rows), 0), np.float32)
        timestamps = sub.column("timestamp").to_numpy().astype(np.float64)
        images = {k: self._images(i, k, sub, timestamps) for k in self.cameras}
        frames = images[self.image_key]
        for key, camera in images.items():
            if len(camera) != len(actions):
                raise ValueError(
                    f"{len(camera)} frames of key {key!r} but {len(actions)} actions in key "
                    f"{self.action_key!r}"
                )
        extras = {CAMERA_PREFIX + k: images[k] for k in self.cameras[1:]}
        if self.tasks is not None and "task_index" in sub.column_names:
            extras["task_index"] = sub.column("task_index").to_numpy().astype(np.int64)
        meta: dict = {"index": i, "extras": extras} if extras else {"index": i}
        return Episode(frames, actions[:-1], states, meta)


def import_lerobot(
    src: str | Path,
    out: str | Path,
    image_key: str | None = None,
    progress: bool = True,
    action_bounds: tuple[float, float] | None = None,
    cameras: list[str] | None = None,
) -> EpisodeStore:
    """A LeRobot v3 folder → a new native store at `out` (frames, actions, observation.state).

    `cameras`: the image features to keep, the first as `frames` (default: all of them, in
    info.json's order). Tasks are kept: info `tasks` and the per-frame key `task_index`.
    """
    reader = LeRobotReader(src, image_key=image_key, cameras=cameras)
    store = None
    for i in tqdm(range(len(reader)), desc="import lerobot", unit="ep", disable=not progress):
        ep = reader[i]
        if store is None:
            monde_info = reader.info.get("monde", {}).get("info", {})
            names = reader.info["features"].get("observation.state", {}).get("names")
            info = {
                **monde_info,
                "source": {
                    "format": "lerobot",
                    "path": str(src),
                    "image_key": reader.image_key,
                    "cameras": reader.cameras,
                    "image_features": reader.image_features,
                },
                "cameras": reader.cameras,
                "fps": reader.fps,
                "image_size": ep.frames.shape[1]
                if ep.frames.shape[1] == ep.frames.shape[2]
                else None,
                "action_dim": ep.actions.shape[1],
                "state_dim": ep.states.shape[1],
                "state_names": names if isinstance(names, list) else monde_info.get("state_names"),
            }
            if reader.tasks is not None:
                info["tasks"] = reader.tasks
            if action_bounds is not None:
                info["action_low"], info["action_high"] = action_bounds
            store = EpisodeStore.create(out, info=info, expected_episodes=len(reader))
        store.append(ep)
    if store is None:
        raise LeRobotError(src, "no episodes")
    store.finish()  # the last write: the store is complete
    return store


def is_lerobot(path: str | Path) -> bool:
    """True for a folder holding meta/info.json, readable or not: a LeRobot folder whose
    info.json is corrupt is refused by the reader with the file named, never taken for another
    format (its mp4 files would pass for a folder of videos)."""
    return (Path(path) / "meta" / "info.json").is_file()


class LeRobotSource:
    """Window rows straight from a LeRobot v3 video folder, for WindowSampler(source=...).

    Actions and states (small) are held in RAM from the parquet tables; frames are decoded from
    the mp4 by timestamp, window by window. Row r of an episode holds frame r, the action taken
    after it (the episode's last action is never used) and the state: Monde's own row layout.
    """

    def __init__(self, path: str | Path, image_key: str | None = None):
        import pyarrow.parquet as pq

        self.reader = LeRobotReader(path, image_key=image_key)
        if not self.reader.is_video:
            raise LeRobotError(path, "LeRobotSource reads video features only")
        eps = self.reader.episodes
        self.index = np.array([[r["dataset_from_index"], r["length"]] for r in eps], np.int64)
        files = sorted({self.reader._table(r)[0] for r in eps})
        tables = [pq.read_table(f, columns=["index", "action", "observation.state"]) for f in files]
        order = np.concatenate([t.column("index").to_numpy() for t in tables])
        take = np.argsort(order)

        def stacked(key: str) -> np.ndarray:
            cols = [np.stack(t.column(key).to_numpy(zero_copy_only=False)) for t in tables]
            return np.concatenate(cols).astype(np.float32)[take]  # (ΣN, ·) by global index

        self.actions, self.states = stacked("action"), stacked("observation.state")
        self._episode_of = np.repeat(np.arange(len(eps)), self.index[:, 1])  # global row → ep

    def take(self, key: str, rows: np.ndarray) -> np.ndarray:
        if key != "frames":
            return getattr(self, key)[rows]
        rows = np.asarray(rows)
        flat = rows.reshape(-1, rows.shape[-1])  # (windows, L): one episode per window
        out = []
        for window in flat:
            e = int(self._episode_of[window[0]])
            out.append(self.reader.frames_at(e, window - self.index[e, 0]))
        return np.stack(out).reshape(*rows.shape, *out[0].shape[1:])
