"""Public formats in and out: LeRobot v3, Minari, video folders, Monde 0.1 npz; round trips."""

import json
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
from monde.data.store import EpisodeStore
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


def build_lerobot_folder(root, episodes, fps=10):
    """A LeRobot v3.0 folder written straight from the published layout (not by monde)."""
    rows, ep_rows, start = [], [], 0
    video = root / "videos/observation.images.cam/chunk-000/file-000.mp4"
    video.parent.mkdir(parents=True)
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10"}
        pts = 0
        for e, (frames, actions, states) in enumerate(episodes):
            n = len(frames)
            for t in range(n):
                rows.append(
                    {
                        "observation.state": states[t].tolist(),
                        "action": actions[t].tolist(),
                        "timestamp": t / fps,
                        "frame_index": t,
                        "episode_index": e,
                        "index": start + t,
                        "task_index": 0,
                    }
                )
                frame = av.VideoFrame.from_ndarray(frames[t], format="rgb24")
                frame.pts, frame.time_base = pts, Fraction(1, fps)
                pts += 1
                container.mux(stream.encode(frame))
            ep_rows.append(
                {
                    "episode_index": e,
                    "length": n,
                    "tasks": ["push"],
                    "data/chunk_index": 0,
                    "data/file_index": 0,
                    "dataset_from_index": start,
                    "dataset_to_index": start + n,
                    "videos/observation.images.cam/chunk_index": 0,
                    "videos/observation.images.cam/file_index": 0,
                    "videos/observation.images.cam/from_timestamp": start / fps,
                    "videos/observation.images.cam/to_timestamp": (start + n) / fps,
                }
            )
            start += n
        container.mux(stream.encode())
    (root / "data/chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "data/chunk-000/file-000.parquet")
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(ep_rows), root / "meta/episodes/chunk-000/file-000.parquet")
    info = {
        "codebase_version": "v3.0",
        "fps": fps,
        "total_episodes": len(episodes),
        "total_frames": start,
        "chunks_size": 1000,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": {
            "observation.images.cam": {
                "dtype": "video",
                "shape": [32, 32, 3],
                "names": ["height", "width", "channels"],
            },
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
        ds.write_dataset(
            batch,
            data,
            format="arrow",
            partitioning=["episode_id"],
            existing_data_behavior="overwrite_or_ignore",
        )
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
    with pytest.raises(ValueError, match=r"c\.webm: frames are \[48, 48, 3\], earlier videos"):
        convert(folder, tmp_path / "mixed", progress=False)
    store = EpisodeStore(convert(folder, tmp_path / "v", image_size=32, progress=False))
    assert [len(e.frames) for e in store] == [12, 9, 6]
    assert store[0].actions.shape == (11, 0)
    gif_frames, _ = read_video(folder / "b.gif")
    np.testing.assert_array_equal(store[1].frames, gif_frames)  # gif is lossless, same size
    assert store.meta["info"]["action_dim"] == 0


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
