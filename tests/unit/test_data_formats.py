"""Public formats in and out: LeRobot v3, Minari, video folders, Monde 0.1 npz; round trips."""

import io
import json
import sys
from fractions import Fraction

import av
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from PIL import Image

from monde.cli import main
from monde.data.convert import convert, detect
from monde.data.lerobot import LeRobotError, LeRobotReader, export_lerobot, import_lerobot
from monde.data.minari import MinariError, import_minari
from monde.data.store import EpisodeStore, StoreError
from monde.data.video import psnr, read_video
from monde.types import Episode

VIDEO_PSNR_DB = 30.0  # the stated floor of the lossy (mp4) path


def smooth_frames(n: int, offset: int, size: int = 32) -> np.ndarray:
    """A gradient background with a moving bright square: video-codec friendly content."""
    yy, xx = np.mgrid[0:size, 0:size]
    frames = np.zeros((n, size, size, 3), np.uint8)
    for t in range(n):
        frames[t, ..., 0] = (xx * 6 + offset * 10) % 256
        frames[t, ..., 1] = yy * 6
        frames[t, ..., 2] = 90
        x = (t * 2 + offset) % (size - 8)
        frames[t, 8:16, x : x + 8] = 240
    return frames


def episode(n: int, offset: int) -> Episode:
    rng = np.random.default_rng(offset)
    return Episode(
        smooth_frames(n + 1, offset),
        rng.uniform(-1, 1, (n, 2)).astype(np.float32),
        rng.normal(size=(n + 1, 3)).astype(np.float32),
    )


@pytest.fixture
def store(tmp_path):
    s = EpisodeStore.create(
        tmp_path / "native",
        info={
            "env": "toy",
            "fps": 10.0,
            "action_low": -1.0,
            "action_high": 1.0,
            "state_names": ["a", "b", "c"],
        },
    )
    s.extend([episode(12, 0), episode(9, 5)])
    return s


CAM = "observation.images.cam"
WRIST = "observation.images.wrist"


def write_lerobot_tasks(path, tasks):
    """meta/tasks.parquet as LeRobot writes it: pandas, task strings as the index "task"."""
    pd = pytest.importorskip("pandas")
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"task_index": range(len(tasks))}, index=pd.Index(tasks, name="task")).to_parquet(
        path
    )


def wrist_view(frames):
    """A second camera's frames: the first camera's, mirrored and inverted."""
    return np.ascontiguousarray(255 - frames[:, :, ::-1])


def build_lerobot_folder(root, episodes, fps=10, cameras=(CAM,), tasks=None):
    """A LeRobot v3.0 folder written straight from the published layout (not by monde).

    Camera k > 0 sees `wrist_view` of the frames; with `tasks`, episode e does task e % len."""
    rows, ep_rows, start = [], [], 0
    containers = {}
    for key in cameras:
        video = root / f"videos/{key}/chunk-000/file-000.mp4"
        video.parent.mkdir(parents=True)
        container = av.open(str(video), "w")
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        containers[key] = (container, stream)
    pts = 0
    for e, (frames, actions, states) in enumerate(episodes):
        n = len(frames)
        task = e % len(tasks) if tasks else 0
        for t in range(n):
            rows.append(
                {
                    "observation.state": states[t].tolist(),
                    "action": actions[t].tolist(),
                    "timestamp": t / fps,
                    "frame_index": t,
                    "episode_index": e,
                    "index": start + t,
                    "task_index": task,
                }
            )
        for k, (container, stream) in enumerate(containers.values()):
            for t, image in enumerate(frames if k == 0 else wrist_view(frames)):
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts, frame.time_base = pts + t, Fraction(1, fps)
                container.mux(stream.encode(frame))
        pts += n
        row = {
            "episode_index": e,
            "length": n,
            "tasks": [tasks[task] if tasks else "push"],
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": start,
            "dataset_to_index": start + n,
        }
        for key in cameras:
            row.update(
                {
                    f"videos/{key}/chunk_index": 0,
                    f"videos/{key}/file_index": 0,
                    f"videos/{key}/from_timestamp": start / fps,
                    f"videos/{key}/to_timestamp": (start + n) / fps,
                }
            )
        ep_rows.append(row)
        start += n
    for container, stream in containers.values():
        container.mux(stream.encode())
        container.close()
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "data/chunk-000/file-000.parquet")
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(ep_rows), root / "meta/episodes/chunk-000/file-000.parquet")
    if tasks:
        write_lerobot_tasks(root / "meta/tasks.parquet", tasks)
    image = {"dtype": "video", "shape": [32, 32, 3], "names": ["height", "width", "channels"]}
    info = {
        "codebase_version": "v3.0",
        "fps": fps,
        "total_episodes": len(episodes),
        "total_frames": start,
        "total_tasks": len(tasks) if tasks else 0,
        "chunks_size": 1000,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": {
            **{key: dict(image) for key in cameras},
            "observation.state": {"dtype": "float32", "shape": [3], "names": None},
            "action": {"dtype": "float32", "shape": [2], "names": None},
        },
    }
    (root / "meta/info.json").write_text(json.dumps(info))
    return root


def lerobot_episodes():
    out = []
    for e, n in enumerate((8, 11)):
        rng = np.random.default_rng(e)
        out.append(
            (
                smooth_frames(n, 3 * e),
                rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                rng.normal(size=(n, 3)).astype(np.float32),
            )
        )
    return out


def test_import_a_lerobot_v3_folder(tmp_path):
    source = lerobot_episodes()
    root = build_lerobot_folder(tmp_path / "lr", source)
    assert detect(root) == "lerobot"
    store = import_lerobot(root, tmp_path / "imported", progress=False)
    assert len(store) == 2 and store.meta["info"]["fps"] == 10
    assert store.completeness()["complete"] is True  # called from Python, not through convert
    for (frames, actions, states), ep in zip(source, store, strict=True):
        assert ep.frames.shape == frames.shape
        np.testing.assert_array_equal(ep.actions, actions[:-1])  # the last action is never taken
        np.testing.assert_array_equal(ep.states, states)
        assert psnr(ep.frames, frames) > VIDEO_PSNR_DB
    # frames decoded by timestamp are the frames of the full decode
    reader = LeRobotReader(root)
    picked = reader.frames_at(1, np.array([0, 4, 9]))
    np.testing.assert_array_equal(picked, store[1].frames[[0, 4, 9]])


def test_lossless_round_trip_through_lerobot_images(store, tmp_path):
    export_lerobot(store, tmp_path / "lr", video=False, progress=False)
    info = json.loads((tmp_path / "lr/meta/info.json").read_text())
    assert (
        info["codebase_version"] == "v3.0"
        and info["features"]["observation.image"]["dtype"] == "image"
    )
    back = import_lerobot(tmp_path / "lr", tmp_path / "back", progress=False)
    for a, b in zip(store, back, strict=True):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.states, b.states)
    assert back.meta["info"]["state_names"] == ["a", "b", "c"]


def test_video_round_trip_keeps_psnr(store, tmp_path):
    export_lerobot(store, tmp_path / "lr", progress=False)
    assert (tmp_path / "lr/videos/observation.image/chunk-000/file-000.mp4").exists()
    episodes = pq.read_table(tmp_path / "lr/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["length"] for e in episodes] == [13, 10]
    assert episodes[1]["videos/observation.image/from_timestamp"] == pytest.approx(1.3)
    back = import_lerobot(tmp_path / "lr", tmp_path / "back", progress=False)
    for a, b in zip(store, back, strict=True):
        assert psnr(a.frames, b.frames) > VIDEO_PSNR_DB
        np.testing.assert_array_equal(a.actions, b.actions)


def test_lerobot_bad_input_names_file_episode_key(tmp_path):
    root = build_lerobot_folder(tmp_path / "lr", lerobot_episodes())
    table = pq.read_table(root / "data/chunk-000/file-000.parquet")
    pq.write_table(table.drop_columns(["action"]), root / "data/chunk-000/file-000.parquet")
    with pytest.raises(LeRobotError, match=r"file-000\.parquet: episode 0: missing key 'action'"):
        LeRobotReader(root)[0]
    pq.write_table(
        table.filter(pa.compute.not_equal(table["index"], 3)),
        root / "data/chunk-000/file-000.parquet",
    )
    with pytest.raises(
        LeRobotError, match="episode 0: 7 rows of key 'action' but the episode table says 8"
    ):
        LeRobotReader(root)[0]
    info = json.loads((root / "meta/info.json").read_text())
    info["codebase_version"] = "v2.1"
    (root / "meta/info.json").write_text(json.dumps(info))
    with pytest.raises(LeRobotError, match="info.json: codebase_version 'v2.1'"):
        LeRobotReader(root)
    with pytest.raises(FileNotFoundError, match="not a LeRobot dataset"):
        LeRobotReader(tmp_path)


def write_arrow_episode(table, data_dir):
    """One episode's table into minari's arrow layout (partitioned by episode_id)."""
    ds.write_dataset(
        table,
        data_dir,
        format="arrow",
        partitioning=["episode_id"],
        existing_data_behavior="overwrite_or_ignore",
    )


def write_minari(root, episodes, obs_space, act_space, env_spec=None):
    """A Minari dataset in its arrow layout (data/metadata.json, data/<id>/*.arrow)."""
    data = root / "data"
    data.mkdir(parents=True)
    for i, (obs, actions) in enumerate(episodes):
        n = len(obs)
        pad = np.concatenate([actions, np.zeros_like(actions[:1])])
        flat = obs.reshape(n, -1)
        batch = pa.RecordBatch.from_pydict(
            {
                "episode_id": np.full(n, i, np.int32),
                "observations": pa.FixedSizeListArray.from_arrays(flat.reshape(-1), flat.shape[1]),
                "actions": pa.FixedSizeListArray.from_arrays(pad.reshape(-1), pad.shape[1]),
                "rewards": np.zeros(n),
                "terminations": np.zeros(n, bool),
                "truncations": np.zeros(n, bool),
            }
        )
        write_arrow_episode(batch, data)
    meta = {
        "total_episodes": len(episodes),
        "total_steps": sum(len(a) for _, a in episodes),
        "data_format": "arrow",
        "observation_space": json.dumps(obs_space),
        "action_space": json.dumps(act_space),
        "dataset_id": "toy/pixels-v0",
    }
    if env_spec is not None:
        meta["env_spec"] = json.dumps(env_spec)
    (data / "metadata.json").write_text(json.dumps(meta))
    return root


def test_import_minari_arrow(tmp_path):
    episodes = [
        (smooth_frames(7, 0, 16), np.full((6, 2), 0.5, np.float32)),
        (smooth_frames(5, 2, 16), np.full((4, 2), -0.25, np.float32)),
    ]
    obs = {"type": "Box", "dtype": "uint8", "shape": [16, 16, 3], "low": 0, "high": 255}
    act = {"type": "Box", "dtype": "float32", "shape": [2], "low": [-1, -1], "high": [1, 1]}
    root = write_minari(tmp_path / "m", episodes, obs, act, env_spec={"id": "Toy-v0"})
    assert detect(root) == "minari"
    store = import_minari(root, tmp_path / "imported", progress=False)
    assert len(store) == 2 and store.meta["info"]["env_spec"] == {"id": "Toy-v0"}
    assert store.completeness()["complete"] is True
    assert store.meta["info"]["action_high"] == [1, 1]
    for (frames, actions), ep in zip(episodes, store, strict=True):
        np.testing.assert_array_equal(ep.frames, frames)
        np.testing.assert_array_equal(ep.actions, actions)
    vector = {"type": "Box", "dtype": "float64", "shape": [4], "low": -1, "high": 1}
    write_minari(tmp_path / "v", [(np.zeros((3, 4)), np.zeros((2, 2), np.float32))], vector, act)
    with pytest.raises(MinariError, match="metadata.json: key 'observation_space' has no RGB"):
        import_minari(tmp_path / "v", tmp_path / "nope", progress=False)
    assert not (tmp_path / "nope").exists()


def test_import_a_folder_of_videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    frames = smooth_frames(9, 1)
    Image.fromarray(frames[0]).save(
        folder / "b.gif",
        save_all=True,
        append_images=[Image.fromarray(f) for f in frames[1:]],
        duration=100,
        loop=0,
    )
    from monde.data.video import write_video

    write_video(folder / "a.mp4", smooth_frames(12, 4), fps=10)
    webm = smooth_frames(6, 2, size=48)
    with av.open(str(folder / "c.webm"), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=10)
        stream.width = stream.height = 48
        stream.pix_fmt = "yuv420p"
        for f in webm:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        container.mux(stream.encode())
    assert detect(folder) == "video"
    with pytest.raises(
        ValueError, match=r"c\.webm: episode 2: frames are \[48, 48, 3\], earlier videos"
    ):
        convert(folder, tmp_path / "mixed", progress=False)
    store = EpisodeStore(convert(folder, tmp_path / "v", image_size=32, progress=False))
    assert [len(e.frames) for e in store] == [12, 9, 6]
    assert store[0].actions.shape == (11, 0)
    gif_frames, _ = read_video(folder / "b.gif")
    np.testing.assert_array_equal(store[1].frames, gif_frames)  # gif is lossless, same size
    assert store.meta["info"]["action_dim"] == 0
    # action-free episodes go out to LeRobot and back (zero-width columns read back)
    export_lerobot(store, tmp_path / "lr", video=False, progress=False)
    back = import_lerobot(tmp_path / "lr", tmp_path / "back", progress=False)
    np.testing.assert_array_equal(back[2].frames, store[2].frames)
    assert back[2].actions.shape == (5, 0)


def test_old_npz_folder_converts(tmp_path):
    old = tmp_path / "old"
    (old / "episodes").mkdir(parents=True)
    e = episode(6, 0)
    np.savez_compressed(
        old / "episodes/000000.npz", frames=e.frames, actions=e.actions, states=e.states
    )
    (old / "meta.json").write_text(
        json.dumps({"format": "monde.episodes/1", "num_episodes": 1, "info": {"env": "two_room"}})
    )
    with pytest.raises(ValueError, match="Monde 0.1 npz dataset; convert it once"):
        EpisodeStore(old)
    store = EpisodeStore(convert(old, tmp_path / "new", progress=False))
    np.testing.assert_array_equal(store[0].frames, e.frames)


def test_cli_verify_view_convert(store, tmp_path, capsys):
    main(["data", "view", str(store.path), "--out", str(tmp_path / "view"), "--episodes", "2"])
    sheet = Image.open(tmp_path / "view/contact_sheet.png")
    assert sheet.size == ((10 * 34 + 2) * 2, (2 * 34 + 2) * 2)
    gif = Image.open(tmp_path / "view/episodes.gif")
    assert gif.n_frames == 13
    main(
        [
            "data",
            "convert",
            str(store.path),
            str(tmp_path / "lr"),
            "--to",
            "lerobot-images",
            "--quiet",
        ]
    )
    main(["data", "convert", str(tmp_path / "lr"), str(tmp_path / "back"), "--quiet"])
    main(["data", "verify", str(tmp_path / "back"), "--quiet"])
    assert "2/2 episodes intact" in capsys.readouterr().out
    shard = tmp_path / "back/frames/c.0.0.0.0"
    shard.write_bytes(shard.read_bytes()[:-40])
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "verify", str(tmp_path / "back"), "--quiet"])
    assert exit_info.value.code == 1
    assert "episode 0: key 'frames'" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="monde data: error: .* is not a Monde episode store"):
        main(["data", "info", str(tmp_path)])


# ----------------------------------------------------------------- Minari as minari writes it
PIXELS = {"type": "Box", "dtype": "uint8", "shape": [48, 48, 3], "low": 0, "high": 255}
POS = {"type": "Box", "dtype": "float32", "shape": [2], "low": [-1, -1], "high": [1, 1]}
ACT = {"type": "Box", "dtype": "float32", "shape": [2], "low": [-1, -1], "high": [1, 1]}


def jpeg(frame) -> bytes:
    """A frame JPEG-encoded as minari does by default (Pillow, default quality)."""
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG")
    return buf.getvalue()


def unjpeg(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def minari_episodes():
    """(frames (T+1, 48, 48, 3), pos (T+1, 2), actions, rewards, terminations, truncations)."""
    out = []
    for e, t in enumerate((5, 7)):
        frames = np.stack(
            [np.kron(f, np.ones((3, 3, 1), np.uint8)) for f in smooth_frames(t + 1, e, 16)]
        )
        out.append(
            (
                frames,
                np.stack([np.arange(t + 1) / 10, np.full(t + 1, e)], 1).astype(np.float32),
                np.linspace(-1, 1, 2 * t).reshape(t, 2).astype(np.float32),
                np.arange(t, dtype=np.float64) * 0.5,
                np.arange(t) == t - 1,
                np.zeros(t, bool),
            )
        )
    return out


def write_minari_hdf5(root, episodes, jpeg_encoding=True):
    """main_data.hdf5 laid out as minari ≥ 0.5.2 writes it with its default settings: each image
    JPEG-encoded (a variable-length uint8 dataset; a fixed-length 2-D one when every frame
    encodes to the same size), rewards / terminations / truncations of T rows."""
    h5py = pytest.importorskip("h5py")
    data = root / "data"
    data.mkdir(parents=True)
    with h5py.File(data / "main_data.hdf5", "w") as f:
        for i, (frames, pos, actions, rewards, terms, truncs) in enumerate(episodes):
            group = f.create_group(f"episode_{i}")
            group.attrs.update({"id": i, "total_steps": len(actions)})
            obs = group.create_group("observations")
            if jpeg_encoding:
                encoded = [np.frombuffer(jpeg(x), np.uint8) for x in frames]
                if len({len(x) for x in encoded}) == 1:  # all one size: a 2-D uint8 dataset
                    obs.create_dataset("pixels", data=np.stack(encoded))
                else:
                    obs.create_dataset("pixels", data=encoded, dtype=h5py.vlen_dtype(np.uint8))
            else:
                obs.create_dataset("pixels", data=frames)
            obs.create_dataset("pos", data=pos)
            group.create_dataset("actions", data=actions)
            group.create_dataset("rewards", data=rewards)
            group.create_dataset("terminations", data=terms)
            group.create_dataset("truncations", data=truncs)
    meta = {
        "total_episodes": len(episodes),
        "total_steps": sum(len(e[2]) for e in episodes),
        "data_format": "hdf5",
        "jpeg_encoding": jpeg_encoding,
        "observation_space": json.dumps(
            {"type": "Dict", "subspaces": {"pixels": PIXELS, "pos": POS}}
        ),
        "action_space": json.dumps(ACT),
        "dataset_id": "toy/pixels-v0",
    }
    (data / "metadata.json").write_text(json.dumps(meta))
    return root


def test_minari_default_jpeg_hdf5_imports_with_rewards(tmp_path, capsys):
    episodes = minari_episodes()
    root = write_minari_hdf5(tmp_path / "m", episodes)
    store = EpisodeStore(convert(root, tmp_path / "imported", progress=False))
    assert store.extra_keys() == ["rewards", "terminations", "truncations"]
    for e, (frames, pos, actions, rewards, terms, _) in enumerate(episodes):
        ep = store[e]
        # exactly what Pillow decodes from the stored JPEG bytes, and close to the original
        np.testing.assert_array_equal(ep.frames, np.stack([unjpeg(jpeg(f)) for f in frames]))
        assert psnr(ep.frames, frames) > VIDEO_PSNR_DB
        np.testing.assert_array_equal(ep.states, pos)
        np.testing.assert_array_equal(ep.actions, actions)
        extras = store.extras(e)  # one row per frame; the last row is padding, like actions'
        np.testing.assert_array_equal(extras["rewards"], np.append(rewards, 0.0))
        np.testing.assert_array_equal(extras["terminations"], np.append(terms, False))
        np.testing.assert_array_equal(extras["truncations"], np.zeros(len(frames), bool))
        assert extras["rewards"].dtype == np.float64 and extras["truncations"].dtype == bool
    assert store.meta["info"]["observation_space"]["subspaces"]["pixels"]["low"] == 0
    # all-False truncations are stored (not skipped as an "empty" chunk): verify is clean
    main(["data", "verify", str(store.path), "--quiet"])
    # and a changed reward is caught by the per-key hashes, named by its key
    import zarr

    zarr.open_array(str(store.path / "rewards"), mode="r+")[1] = 99.0
    with pytest.raises(SystemExit) as stop:
        main(["data", "verify", str(store.path), "--quiet"])
    assert stop.value.code == 1
    assert "episode 0: key 'rewards'" in capsys.readouterr().out
    # the raw-array variant (jpeg_encoding=False) imports the frames exactly
    raw = write_minari_hdf5(tmp_path / "raw", episodes, jpeg_encoding=False)
    np.testing.assert_array_equal(
        import_minari(raw, tmp_path / "raw_in", progress=False)[1].frames, episodes[1][0]
    )


def test_minari_jpeg_fixed_length_and_arrow(tmp_path):
    episodes = minari_episodes()
    # frames that all encode to one size: minari stores a 2-D uint8 dataset of JPEG bytes
    still = [(np.repeat(e[0][:1], len(e[0]), 0), *e[1:]) for e in episodes]
    store = import_minari(
        write_minari_hdf5(tmp_path / "h5", still), tmp_path / "h5in", progress=False
    )
    np.testing.assert_array_equal(store[1].frames, np.stack([unjpeg(jpeg(f)) for f in still[1][0]]))
    # arrow layout, images as a binary column of JPEG bytes
    data = tmp_path / "arrow/data"
    for i, (frames, pos, actions, rewards, terms, truncs) in enumerate(episodes):
        n = len(frames)
        pad = np.concatenate([actions, np.zeros_like(actions[:1])])
        obs = pa.StructArray.from_arrays(
            [
                pa.array([jpeg(f) for f in frames], pa.binary()),
                pa.FixedSizeListArray.from_arrays(pos.reshape(-1), 2),
            ],
            names=["pixels", "pos"],
        )
        batch = pa.RecordBatch.from_pydict(
            {
                "episode_id": np.full(n, i, np.int32),
                "observations": obs,
                "actions": pa.FixedSizeListArray.from_arrays(pad.reshape(-1), 2),
                "rewards": np.append(rewards, 0.0),
                "terminations": np.append(terms, False),
                "truncations": np.append(truncs, False),
            }
        )
        write_arrow_episode(batch, data)
    space = {"type": "Dict", "subspaces": {"pixels": PIXELS, "pos": POS}}
    (data / "metadata.json").write_text(
        json.dumps(
            {
                "total_episodes": 2,
                "data_format": "arrow",
                "jpeg_encoding": True,
                "observation_space": json.dumps(space),
                "action_space": json.dumps(ACT),
            }
        )
    )
    store = import_minari(tmp_path / "arrow", tmp_path / "arrow_in", progress=False)
    for e, (frames, _, _, rewards, _, _) in enumerate(episodes):
        np.testing.assert_array_equal(store[e].frames, np.stack([unjpeg(jpeg(f)) for f in frames]))
        np.testing.assert_array_equal(store.extras(e)["rewards"][:-1], rewards)


def one_line_error(argv, capsys) -> str:
    """Run `monde ...argv`, expect it to stop with a one-line error (no traceback)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    message = stop.value.code
    assert isinstance(message, str) and "\n" not in message, message
    assert "Traceback" not in capsys.readouterr().err
    return message


def test_truncated_or_corrupt_inputs_give_one_line_naming_file_and_episode(tmp_path, capsys):
    # hdf5 cut in half (h5py.File used to raise a 33-line traceback)
    root = write_minari_hdf5(tmp_path / "m", minari_episodes())
    h5 = root / "data/main_data.hdf5"
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    message = one_line_error(
        ["data", "convert", str(root), str(tmp_path / "o1"), "--quiet"], capsys
    )
    assert f"{h5}: episode 0: unreadable hdf5 data" in message
    # an undecodable JPEG frame
    root = write_minari_hdf5(tmp_path / "m2", minari_episodes())
    h5py = pytest.importorskip("h5py")
    with h5py.File(root / "data/main_data.hdf5", "r+") as f:
        frames = f["episode_1/observations/pixels"]
        frames[3] = np.frombuffer(b"not a jpeg", np.uint8)
    message = one_line_error(
        ["data", "convert", str(root), str(tmp_path / "o2"), "--quiet"], capsys
    )
    assert (
        "main_data.hdf5: episode 1: key 'observations/pixels' frame 3: not a decodable" in message
    )
    # a LeRobot mp4 cut short ([Errno 1094995529] Invalid data ... named neither)
    lr = build_lerobot_folder(tmp_path / "lr", lerobot_episodes())
    mp4 = lr / f"videos/{CAM}/chunk-000/file-000.mp4"
    mp4.write_bytes(mp4.read_bytes()[:1000])
    message = one_line_error(["data", "convert", str(lr), str(tmp_path / "o3"), "--quiet"], capsys)
    assert message.startswith(f"monde data: error: {mp4}: episode 0: ")
    # a truncated data parquet, then a missing one
    lr = build_lerobot_folder(tmp_path / "lr2", lerobot_episodes())
    data = lr / "data/chunk-000/file-000.parquet"
    data.write_bytes(data.read_bytes()[:-100])
    message = one_line_error(["data", "convert", str(lr), str(tmp_path / "o4"), "--quiet"], capsys)
    assert f"{data}: episode 0: unreadable parquet" in message
    data.unlink()
    message = one_line_error(["data", "convert", str(lr), str(tmp_path / "o5"), "--quiet"], capsys)
    assert f"{data}: episode 0: data file missing" in message
    # a cut info.json: refused naming it (its mp4 files used to pass for a folder of videos)
    info = lr / "meta/info.json"
    info.write_text(info.read_text()[:100])
    message = one_line_error(["data", "convert", str(lr), str(tmp_path / "o7"), "--quiet"], capsys)
    assert f"not valid JSON: {info}" in message
    info.write_text(json.dumps({"codebase_version": "v3.0", "features": {CAM: {"dtype": "video"}}}))
    message = one_line_error(["data", "convert", str(lr), str(tmp_path / "o8"), "--quiet"], capsys)
    assert f"{info}: missing key 'action'" in message
    # a video folder holding a truncated file names the file and its episode
    folder = tmp_path / "videos"
    folder.mkdir()
    from monde.data.video import write_video

    write_video(folder / "a.mp4", smooth_frames(12, 4), fps=10)
    write_video(folder / "b.mp4", smooth_frames(12, 5), fps=10)
    (folder / "b.mp4").write_bytes((folder / "b.mp4").read_bytes()[:600])
    message = one_line_error(
        ["data", "convert", str(folder), str(tmp_path / "o6"), "--quiet"], capsys
    )
    assert f"{folder / 'b.mp4'}: episode 1: " in message


def test_hdf5_minari_without_h5py_says_how_to_install(tmp_path, monkeypatch):
    root = write_minari_hdf5(tmp_path / "m", minari_episodes()[:1])
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py → ImportError
    with pytest.raises(MinariError, match=r"needs h5py: pip install 'monde\[minari\]'"):
        import_minari(root, tmp_path / "o", progress=False)


# ----------------------------------------------------------------- LeRobot cameras and tasks
def test_lerobot_two_cameras_kept_and_chosen(tmp_path, capsys):
    source = lerobot_episodes()
    root = build_lerobot_folder(tmp_path / "lr", source, cameras=(CAM, WRIST))
    main(["data", "convert", str(root), str(tmp_path / "both"), "--quiet"])
    out = capsys.readouterr().out
    assert f"cameras: frames = {CAM}; also kept: frames.{WRIST} (choose with --camera" in out
    both = EpisodeStore(tmp_path / "both")
    assert both.extra_keys() == [f"frames.{WRIST}"]
    assert both.meta["features"][f"frames.{WRIST}"]["kind"] == "rgb"
    for (frames, _, _), e in zip(source, range(len(both)), strict=True):
        assert psnr(both[e].frames, frames) > VIDEO_PSNR_DB
        assert psnr(both.extras(e)[f"frames.{WRIST}"], wrist_view(frames)) > VIDEO_PSNR_DB
    # --camera picks the trained camera (and which others to keep)
    main(["data", "convert", str(root), str(tmp_path / "wrist"), "--camera", WRIST, "--quiet"])
    assert f"frames = {WRIST}; not imported: {CAM}" in capsys.readouterr().out
    wrist = EpisodeStore(tmp_path / "wrist")
    assert wrist.extra_keys() == [] and psnr(wrist[1].frames, wrist_view(source[1][0])) > 30
    with pytest.raises(SystemExit, match="no image feature 'observation.images.nope'"):
        main(
            [
                "data",
                "convert",
                str(root),
                str(tmp_path / "x"),
                "--camera",
                "observation.images.nope",
            ]
        )
    # both cameras go back out to LeRobot and in again
    export_lerobot(both, tmp_path / "export", video=False, progress=False)
    info = json.loads((tmp_path / "export/meta/info.json").read_text())
    assert {CAM, WRIST} <= set(info["features"])
    back = import_lerobot(tmp_path / "export", tmp_path / "back", progress=False)
    np.testing.assert_array_equal(back[0].frames, both[0].frames)
    np.testing.assert_array_equal(
        back.extras(1)[f"frames.{WRIST}"], both.extras(1)[f"frames.{WRIST}"]
    )


def load_like_lerobot(root):
    """meta/ read by the rules of LeRobot's own loaders (io_utils.load_tasks / load_stats,
    dataset_reader: task = tasks.iloc[task_index].name)."""
    pd = pytest.importorskip("pandas")
    tasks = pd.read_parquet(root / "meta/tasks.parquet")
    tasks.index.name = "task"
    stats = json.loads((root / "meta/stats.json").read_text())
    stats = {f: {k: np.atleast_1d(np.array(v)) for k, v in s.items()} for f, s in stats.items()}
    return tasks, stats


def test_lerobot_export_reads_as_lerobot_reads_it(tmp_path):
    pd = pytest.importorskip("pandas")
    tasks = ["push the T into place", "do nothing"]
    root = build_lerobot_folder(tmp_path / "lr", lerobot_episodes(), tasks=tasks)
    store = import_lerobot(root, tmp_path / "imported", progress=False)
    assert store.meta["info"]["tasks"] == tasks  # kept on import
    np.testing.assert_array_equal(store.extras(1)["task_index"], np.ones(11, np.int64))
    out = export_lerobot(store, tmp_path / "export", progress=False)
    # tasks.parquet: the pandas index metadata the real files carry
    schema = pq.read_schema(out / "meta/tasks.parquet")
    assert json.loads(schema.metadata[b"pandas"])["index_columns"] == ["task"]
    assert schema.names == ["task_index", "task"]
    lr_tasks, stats = load_like_lerobot(out)
    assert list(lr_tasks.columns) == ["task_index"] and lr_tasks.index.name == "task"
    data = pd.read_parquet(out / "data/chunk-000/file-000.parquet")
    episodes = pd.read_parquet(out / "meta/episodes/chunk-000/file-000.parquet")
    for _, row in data.iterrows():
        task = lr_tasks.iloc[int(row["task_index"])].name
        assert task == tasks[int(row["episode_index"]) % 2]
        assert int(lr_tasks.loc[task].task_index) == int(row["task_index"])
    assert [list(t) for t in episodes["tasks"]] == [[tasks[0]], [tasks[1]]]
    info = json.loads((out / "meta/info.json").read_text())
    assert info["total_tasks"] == 2 and info["fps"] == 10
    # stats.json: what LeRobot's aggregate_stats checks, and the values of the data itself
    for feature, s in stats.items():
        assert set(s) == {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
        assert s["count"].shape == (1,)
        if "image" in feature:
            assert all(v.shape == (3, 1, 1) for k, v in s.items() if k != "count")
            assert 0 <= s["min"].min() and s["max"].max() <= 1
    assert set(stats) == {
        CAM,
        "observation.state",
        "action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    }
    actions = np.stack(data["action"].to_numpy())  # (N, 2), each episode's padding row included
    np.testing.assert_array_equal(stats["action"]["min"], actions.min(0).astype(np.float64))
    np.testing.assert_array_equal(stats["action"]["max"], actions.max(0).astype(np.float64))
    np.testing.assert_allclose(stats["action"]["mean"], actions.astype(np.float64).mean(0))
    np.testing.assert_allclose(stats["action"]["std"], actions.astype(np.float64).std(0))
    assert int(stats["action"]["count"][0]) == len(data) == 19
    np.testing.assert_allclose(stats["task_index"]["mean"], [11 / 19])
    assert "stats/action/mean" in episodes.columns
    # a store that never had task strings exports its env name, not "unknown"
    native = EpisodeStore.create(tmp_path / "native", info={"env": "two_room", "fps": 5})
    native.append(episode(4, 0))
    lr_tasks, _ = load_like_lerobot(export_lerobot(native, tmp_path / "e2", progress=False))
    assert list(lr_tasks.index) == ["two_room"]


def test_store_refuses_an_episode_without_the_stores_optional_keys(tmp_path):
    store = EpisodeStore.create(tmp_path / "s", info={"env": "toy"})
    first = episode(3, 0)
    first.meta["extras"] = {"rewards": np.arange(4.0)}
    store.append(first)
    with pytest.raises(
        StoreError, match=r"episode 1: optional keys \[\], the store holds \['rewards'\]"
    ):
        store.append(episode(3, 1))
    bad = episode(3, 1)
    bad.meta["extras"] = {"rewards": np.arange(3.0)}
    with pytest.raises(StoreError, match="episode 1: key 'rewards' is \\[3\\]; the store holds"):
        store.append(bad)
    np.testing.assert_array_equal(store.extras(0)["rewards"], np.arange(4.0))
