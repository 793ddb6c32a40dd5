"""LeRobotDataset v3 folders in and out: meta/info.json, parquet tables (pyarrow), mp4 (PyAV).

Layout read and written (LeRobot's published v3.0 layout):
    meta/info.json                               codebase_version "v3.0", fps, features, paths
    meta/tasks.parquet                           task_index, task
    meta/episodes/chunk-000/file-000.parquet     one row per episode: episode_index, length,
                                                 data/{chunk,file}_index, dataset_{from,to}_index,
                                                 videos/<key>/{chunk_index,file_index,
                                                 from_timestamp,to_timestamp}
    data/chunk-000/file-000.parquet              one row per frame: observation.state, action,
                                                 timestamp, frame_index, episode_index, index,
                                                 task_index (and the image as PNG bytes when
                                                 exported without video)
    videos/<key>/chunk-000/file-000.mp4          the episodes' frames back to back

A LeRobot episode of n rows has n frames and n actions; Monde's has n frames and n − 1 actions
(the action after the last frame is never taken), so export pads the last action with zeros
and import drops it. It knows nothing about training.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from monde.data.store import EpisodeStore
from monde.data.video import VideoWriter, decode_at
from monde.io import atomic_write_json, read_json
from monde.progress import tqdm
from monde.types import Episode

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
IMAGE_KEY = "observation.image"


class LeRobotError(ValueError):
    """A LeRobot folder that cannot be read; the message names the file and the key."""


# ---------------------------------------------------------------------------------- export
def export_lerobot(
    store: EpisodeStore | str | Path,
    out: str | Path,
    video: bool = True,
    fps: float | None = None,
    progress: bool = True,
) -> Path:
    """Write the store's episodes as a LeRobot v3 folder at `out` (video=False: PNG frames).

    Frame sizes must be even for the mp4 path (h264 with yuv420p).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    if not isinstance(store, EpisodeStore):
        store = EpisodeStore(store)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} already exists and is not empty")
    feats = store.meta["features"]
    info = store.meta["info"]
    fps = float(fps or info.get("fps") or 10.0)
    shape = feats["frames"]["shape"]
    if shape[-1] != 3:
        raise ValueError(
            f"{store.path}: frames have {shape[-1]} channels; LeRobot export writes RGB only "
            "(an RGB-D store's depth has no LeRobot image feature here yet)"
        )
    a_dim, s_dim = feats["actions"]["shape"][0], feats["states"]["shape"][0]
    data_file = out / DATA_PATH.format(chunk_index=0, file_index=0)
    video_file = out / VIDEO_PATH.format(video_key=IMAGE_KEY, chunk_index=0, file_index=0)
    data_file.parent.mkdir(parents=True, exist_ok=True)
    episodes_rows: list[dict] = []
    writer = None
    start = 0
    video_writer = VideoWriter(video_file, fps) if video and len(store) else None
    for e in tqdm(range(len(store)), desc="export lerobot", unit="ep", disable=not progress):
        ep = store[e]
        n = len(ep.frames)
        actions = np.zeros((n, a_dim), np.float32)
        actions[:-1] = ep.actions
        columns = {
            "observation.state": pa.array(
                list(ep.states.astype(np.float32)), pa.list_(pa.float32(), s_dim)
            ),
            "action": pa.array(list(actions), pa.list_(pa.float32(), a_dim)),
            "timestamp": pa.array(np.arange(n, dtype=np.float32) / np.float32(fps)),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "episode_index": pa.array(np.full(n, e, np.int64)),
            "index": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "task_index": pa.array(np.zeros(n, np.int64)),
        }
        if not video:
            pngs = []
            for frame in ep.frames:
                buf = io.BytesIO()
                Image.fromarray(frame).save(buf, format="PNG")
                pngs.append({"bytes": buf.getvalue(), "path": None})
            columns[IMAGE_KEY] = pa.array(
                pngs, pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            )
        table = pa.table(columns)
        if writer is None:
            writer = pq.ParquetWriter(data_file, table.schema)
        writer.write_table(table)
        row = {
            "episode_index": e,
            "length": n,
            "tasks": [info.get("env") or "unknown"],
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
            "meta/episodes/chunk_index": 0,
            "meta/episodes/file_index": 0,
        }
        if video:
            row.update(
                {
                    f"videos/{IMAGE_KEY}/chunk_index": 0,
                    f"videos/{IMAGE_KEY}/file_index": 0,
                    f"videos/{IMAGE_KEY}/from_timestamp": start / fps,
                    f"videos/{IMAGE_KEY}/to_timestamp": (start + n) / fps,
                }
            )
            video_writer.write(ep.frames)  # the episodes back to back
        episodes_rows.append(row)
        start += n
    if writer is not None:
        writer.close()
    if video_writer is not None:
        video_writer.close()
    ep_file = out / "meta/episodes/chunk-000/file-000.parquet"
    ep_file.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(episodes_rows), ep_file)
    pq.write_table(
        pa.table({"task_index": [0], "task": [info.get("env") or "unknown"]}),
        out / "meta/tasks.parquet",
    )
    image_feature = {
        "dtype": "video" if video else "image",
        "shape": list(shape),
        "names": ["height", "width", "channels"],
    }
    if video:
        image_feature["info"] = {
            "video.height": shape[0],
            "video.width": shape[1],
            "video.codec": "h264",
            "video.pix_fmt": "yuv420p",
            "video.is_depth_map": False,
            "video.fps": fps,
            "video.channels": shape[2],
            "has_audio": False,
        }
    state_names = feats["states"].get("names")
    features = {
        IMAGE_KEY: image_feature,
        "observation.state": {"dtype": "float32", "shape": [s_dim], "names": state_names},
        "action": {"dtype": "float32", "shape": [a_dim], "names": None},
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        "frame_index": {"dtype": "int64", "shape": [1], "names": None},
        "episode_index": {"dtype": "int64", "shape": [1], "names": None},
        "index": {"dtype": "int64", "shape": [1], "names": None},
        "task_index": {"dtype": "int64", "shape": [1], "names": None},
    }
    atomic_write_json(
        out / "meta/info.json",
        {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": None,
            "total_episodes": len(store),
            "total_frames": start,
            "total_tasks": 1,
            "chunks_size": 1000,
            "data_files_size_in_mb": 100,
            "video_files_size_in_mb": 200,
            "fps": fps,
            "splits": {"train": f"0:{len(store)}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if video else None,
            "features": features,
            "monde": {"info": info},
        },
    )
    return out


# ---------------------------------------------------------------------------------- import
class LeRobotReader:
    """Episodes of a LeRobot v3 folder: tables read with pyarrow, frames decoded by timestamp."""

    def __init__(
        self,
        path: str | Path,
        image_key: str | None = None,
        state_key: str = "observation.state",
        action_key: str = "action",
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
                f"{info_file}: codebase_version {version!r}; only LeRobot v3 folders are read"
            )
        feats = self.info.get("features", {})
        images = [k for k, f in feats.items() if f.get("dtype") in ("video", "image")]
        self.image_key = image_key or (images[0] if images else None)
        if self.image_key not in feats:
            raise LeRobotError(
                f"{info_file}: no image feature {self.image_key!r}; features: {sorted(feats)}"
            )
        if action_key not in feats:
            raise LeRobotError(f"{info_file}: missing key {action_key!r}")
        self.is_video = feats[self.image_key]["dtype"] == "video"
        self.state_key = state_key if state_key in feats else None
        self.action_key = action_key
        self.fps = float(self.info["fps"])
        ep_files = sorted((self.path / "meta" / "episodes").rglob("*.parquet"))
        if not ep_files:
            raise LeRobotError(f"{self.path / 'meta' / 'episodes'}: no episode tables")
        try:
            rows = [r for f in ep_files for r in pq.read_table(f).to_pylist()]
        except Exception as err:  # pyarrow's ArrowInvalid and friends
            raise LeRobotError(f"{ep_files[0].parent}: unreadable episode table ({err})") from None
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
                raise LeRobotError(f"{file}: data file of episode {row['episode_index']} missing")
            try:
                self._tables = {file: pq.read_table(file)}  # one file held at a time
            except Exception as err:
                raise LeRobotError(f"{file}: unreadable parquet ({err})") from None
        return file, self._tables[file]

    def video_file(self, row: dict) -> Path:
        k = self.image_key
        return self.path / self.info["video_path"].format(
            video_key=k,
            chunk_index=row[f"videos/{k}/chunk_index"],
            file_index=row[f"videos/{k}/file_index"],
        )

    def frames_at(self, i: int, frame_indices: np.ndarray, timestamps: np.ndarray | None = None):
        """Frames `frame_indices` (ascending) of episode i → (K, Hp, Wp, C) uint8."""
        row = self.episodes[i]
        if timestamps is None:
            timestamps = np.asarray(frame_indices) / self.fps
        file = self.video_file(row)
        if not file.exists():
            raise LeRobotError(f"{file}: video of episode {row['episode_index']} missing")
        start = float(row[f"videos/{self.image_key}/from_timestamp"])
        return decode_at(file, start + np.asarray(timestamps), tolerance=0.5 / self.fps)

    def __getitem__(self, i: int) -> Episode:
        from PIL import Image

        row = self.episodes[i]
        file, table = self._table(row)
        lo, hi = row["dataset_from_index"], row["dataset_to_index"]
        index = table.column("index").to_numpy()
        rows = np.flatnonzero((index >= lo) & (index < hi))
        sub = table.take(rows)
        where = f"{file}: episode {row['episode_index']}"

        def column(key: str) -> np.ndarray:
            if key not in sub.column_names:
                raise LeRobotError(f"{where}: missing key {key!r}")
            return np.asarray(sub.column(key).to_pylist(), np.float32).reshape(len(rows), -1)

        actions = column(self.action_key)
        if len(actions) != row["length"]:
            raise LeRobotError(
                f"{where}: {len(actions)} rows of key {self.action_key!r} but the episode table "
                f"says {row['length']} frames"
            )
        states = column(self.state_key) if self.state_key else np.zeros((len(rows), 0), np.float32)
        timestamps = sub.column("timestamp").to_numpy().astype(np.float64)
        if self.is_video:
            frames = self.frames_at(i, np.arange(len(rows)), timestamps)
        else:
            if self.image_key not in sub.column_names:
                raise LeRobotError(f"{where}: missing key {self.image_key!r}")
            frames = np.stack(
                [
                    np.asarray(Image.open(io.BytesIO(v["bytes"])).convert("RGB"))
                    for v in sub.column(self.image_key).to_pylist()
                ]
            )
        if len(frames) != len(actions):
            raise LeRobotError(
                f"{where}: {len(frames)} frames but {len(actions)} actions in key "
                f"{self.action_key!r}"
            )
        try:
            return Episode(frames, actions[:-1], states, {"index": i})
        except ValueError as err:
            raise LeRobotError(f"{where}: {err}") from None


def import_lerobot(
    src: str | Path,
    out: str | Path,
    image_key: str | None = None,
    progress: bool = True,
    action_bounds: tuple[float, float] | None = None,
) -> EpisodeStore:
    """A LeRobot v3 folder → a new native store at `out` (frames, actions, observation.state)."""
    reader = LeRobotReader(src, image_key=image_key)
    store = None
    for i in tqdm(range(len(reader)), desc="import lerobot", unit="ep", disable=not progress):
        ep = reader[i]
        if store is None:
            monde_info = reader.info.get("monde", {}).get("info", {})
            names = reader.info["features"].get("observation.state", {}).get("names")
            info = {
                **monde_info,
                "source": {"format": "lerobot", "path": str(src), "image_key": reader.image_key},
                "fps": reader.fps,
                "image_size": ep.frames.shape[1]
                if ep.frames.shape[1] == ep.frames.shape[2]
                else None,
                "action_dim": ep.actions.shape[1],
                "state_dim": ep.states.shape[1],
                "state_names": names if isinstance(names, list) else monde_info.get("state_names"),
            }
            if action_bounds is not None:
                info["action_low"], info["action_high"] = action_bounds
            store = EpisodeStore.create(out, info=info)
        store.append(ep)
    if store is None:
        raise LeRobotError(f"{src}: no episodes")
    return store


def is_lerobot(path: str | Path) -> bool:
    try:
        return (
            json.loads((Path(path) / "meta" / "info.json").read_text())
            .get("codebase_version", "")
            .startswith("v")
        )
    except (OSError, ValueError, AttributeError):
        return False


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
            raise LeRobotError(f"{path}: LeRobotSource reads video features only")
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
