"""Video files in and out (PyAV): decode whole files or frames at timestamps, encode mp4, and
import a folder of videos (mp4, webm, gif, ...) as action-free episodes for video pretraining.

Frames are uint8 (T, Hp, Wp, 3) RGB everywhere. It knows nothing about training.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from monde.data.errors import ImportFormatError
from monde.progress import tqdm

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif", ".mkv", ".mov", ".avi")


def _open(path: Path):
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as err:
        why = getattr(err, "strerror", None) or err  # without FFmpeg's repeat of the path
        raise ImportFormatError(path, f"not a readable video file ({why})") from None


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of the first video stream → (frames (T, Hp, Wp, 3) uint8, fps)."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise ImportFormatError(path, "no video stream")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        try:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        except Exception as err:  # av raises InvalidDataError and friends mid-stream
            raise ImportFormatError(path, f"video is truncated or corrupt ({err})") from None
    if not frames:
        raise ImportFormatError(path, "the video stream holds no frames")
    return np.stack(frames), fps


def decode_at(path: str | Path, timestamps: Sequence[float], tolerance: float) -> np.ndarray:
    """Frames shown at `timestamps` (seconds, ascending) → (len(timestamps), Hp, Wp, 3) uint8.

    Seeks to the first timestamp and decodes forward; each timestamp takes the frame whose
    presentation time is nearest, and must lie within `tolerance` seconds of it.
    """
    path = Path(path)
    wanted = np.asarray(timestamps, np.float64)
    with _open(path) as container:
        if not container.streams.video:
            raise ImportFormatError(path, "no video stream")
        try:
            out = _decode_at(container, wanted, tolerance)
        except ImportFormatError:
            raise
        except Exception as err:  # av raises InvalidDataError and friends mid-stream
            raise ImportFormatError(path, f"video is truncated or corrupt ({err})") from None
    if len(out) < len(wanted):
        raise ImportFormatError(
            path,
            f"no frame within {tolerance:.4f} s of timestamp {wanted[len(out)]:.4f} s "
            "(the video is shorter than its table says, or truncated)",
        )
    return np.stack(out)


def _decode_at(container, wanted: np.ndarray, tolerance: float) -> list[np.ndarray]:
    """The frames nearest `wanted` (ascending seconds), as many as were found in order."""
    out: list[np.ndarray] = []
    stream = container.streams.video[0]
    base = stream.time_base
    container.seek(max(0, int(wanted[0] / base) - 1), stream=stream, backward=True)
    prev = None
    k = 0
    for frame in container.decode(stream):
        t = float(frame.pts * base)
        while k < len(wanted) and prev is not None and t > wanted[k]:
            # the previous frame or this one, whichever is nearer to wanted[k]
            pick = prev if abs(prev[0] - wanted[k]) <= abs(t - wanted[k]) else (t, frame)
            if abs(pick[0] - wanted[k]) > tolerance:
                break
            out.append(pick[1].to_ndarray(format="rgb24"))
            k += 1
        if k == len(wanted):
            break
        prev = (t, frame)
    while k < len(wanted) and prev is not None and abs(prev[0] - wanted[k]) <= tolerance:
        out.append(prev[1].to_ndarray(format="rgb24"))
        k += 1
    return out


class VideoWriter:
    """Stream frames (Hp, Wp, 3) uint8 into an mp4 (yuv420p: sides must be even for h264).

    Written to a temporary name and moved into place on a clean close, so a crash never
    leaves a truncated video under the final name.
    """

    def __init__(self, path: str | Path, fps: float, codec: str = "libx264", crf: int = 18):
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp{self.path.suffix}")
        self.rate = Fraction(fps).limit_denominator(1001)
        self.container = av.open(str(self.tmp), mode="w")
        self.stream = self.container.add_stream(codec, rate=self.rate)
        self.stream.pix_fmt = "yuv420p"
        self.options = {"crf": str(crf), "g": "10"} if codec == "libx264" else {}
        self.count = 0

    def write(self, frames: np.ndarray) -> None:
        """Append frames (T, Hp, Wp, 3) uint8."""
        import av

        if self.count == 0:
            self.stream.width, self.stream.height = frames.shape[2], frames.shape[1]
            self.stream.options = self.options  # keyframe every 10 frames: cheap seeks
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = self.count
            frame.time_base = 1 / self.rate
            self.container.mux(self.stream.encode(frame))
            self.count += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode())
        self.container.close()
        self.tmp.replace(self.path)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            self.close()
        else:
            self.container.close()
            self.tmp.unlink(missing_ok=True)


def write_video(
    path: str | Path, frames: np.ndarray, fps: float, codec: str = "libx264", crf: int = 18
) -> None:
    """Encode frames (T, Hp, Wp, 3) uint8 into an mp4 at `path`."""
    with VideoWriter(path, fps, codec, crf) as writer:
        writer.write(frames)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) between two uint8 arrays of the same shape."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Center-crop to a square and resize to size × size (PIL, bilinear)."""
    from PIL import Image

    t, h, w, _ = frames.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    out = np.empty((t, size, size, 3), np.uint8)
    for i, f in enumerate(frames[:, top : top + side, left : left + side]):
        out[i] = np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR))
    return out


def import_video_folder(
    src: str | Path, out: str | Path, image_size: int | None = None, progress: bool = True
):
    """Every video file under `src` (sorted) → one action-free episode of a new store at `out`.

    `image_size` center-crops and resizes frames to a square; without it all videos must share
    one frame size. Returns the store.
    """
    from monde.data.store import EpisodeStore
    from monde.types import Episode

    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"{src} is not a folder of video files")
    files = sorted(p for p in src.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise ValueError(f"{src}: no video files ({', '.join(VIDEO_SUFFIXES)})")
    store = None
    for e, file in enumerate(tqdm(files, desc="import videos", unit="file", disable=not progress)):
        try:
            frames, fps = read_video(file)
        except ImportFormatError as err:
            raise err.at_episode(e) from None
        if image_size is not None:
            frames = resize_frames(frames, image_size)
        if len(frames) < 2:
            raise ImportFormatError(file, f"{len(frames)} frame; an episode needs at least 2", e)
        if store is None:
            store = EpisodeStore.create(
                out,
                expected_episodes=len(files),
                info={
                    "env": None,
                    "source": {"format": "video", "path": str(src)},
                    "fps": fps,
                    "frameskip": 1,
                    "image_size": frames.shape[1] if frames.shape[1] == frames.shape[2] else None,
                    "action_dim": 0,
                    "state_dim": 0,
                    "policy": None,
                },
            )
        expected = store.meta["features"].get("frames", {}).get("shape")
        if expected is not None and list(frames.shape[1:]) != expected:
            raise ImportFormatError(
                file,
                f"frames are {list(frames.shape[1:])}, earlier videos {expected}; "
                "pass --image-size to resize them all",
                e,
            )
        t = len(frames) - 1
        store.append(
            Episode(frames, np.zeros((t, 0), np.float32), np.zeros((t + 1, 0), np.float32))
        )
    store.finish()  # the last write: the store is complete
    return store
