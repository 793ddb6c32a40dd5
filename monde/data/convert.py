"""`monde data convert`: one entry point from any supported source to any supported target.

Sources: a native store, a LeRobot v3 folder, a Minari dataset, a folder of videos, and the
npz folders of Monde ≤ 0.1 (meta.json + episodes/NNNNNN.npz). Targets: native, lerobot.

An import either finishes (the store is marked complete as its last write) or leaves its store
marked incomplete with the error that stopped it, so a half-written import never looks valid.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from monde.data.store import EpisodeStore, is_store
from monde.io import read_json
from monde.progress import tqdm
from monde.types import Episode

SOURCES = ("auto", "native", "lerobot", "minari", "video", "npz")
TARGETS = ("native", "lerobot", "lerobot-images")


def detect(path: str | Path) -> str:
    """The format of the dataset at `path` (a name of SOURCES other than auto)."""
    from monde.data.lerobot import is_lerobot
    from monde.data.minari import is_minari
    from monde.data.video import VIDEO_SUFFIXES

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if is_store(path):
        return "native"
    if is_lerobot(path):
        return "lerobot"
    if is_minari(path):
        return "minari"
    if (path / "meta.json").exists() and (path / "episodes").is_dir():
        return "npz"
    if path.is_dir() and any(p.suffix.lower() in VIDEO_SUFFIXES for p in path.rglob("*")):
        return "video"
    raise ValueError(
        f"{path}: not a dataset Monde reads (a native store, a LeRobot v3 folder, a Minari "
        "dataset, a folder of videos, or a Monde 0.1 npz folder)"
    )


def import_npz(src: str | Path, out: str | Path, progress: bool = True) -> EpisodeStore:
    """A Monde 0.1 store (meta.json + episodes/*.npz) → a native store; never unpickles."""
    src = Path(src)
    meta = read_json(src / "meta.json")
    info = dict(meta.get("info", {}))
    info.setdefault("action_low", -1.0)
    info.setdefault("action_high", 1.0)
    count = int(meta["num_episodes"])
    store = EpisodeStore.create(out, info=info, expected_episodes=count)
    for i in tqdm(range(count), desc="import npz", disable=not progress):
        file = src / "episodes" / f"{i:06d}.npz"
        try:
            with np.load(file, allow_pickle=False) as data:
                missing = [k for k in ("frames", "actions", "states") if k not in data.files]
                if missing:
                    raise ValueError(f"{file}: episode {i}: missing key(s) {missing}")
                arrays = data["frames"], data["actions"], data["states"]
            episode = Episode(*arrays)
        except ValueError as err:  # arrays that do not make an episode (shapes, dtype, NaN)
            if str(err).startswith(str(file)):
                raise
            raise ValueError(f"{file}: episode {i}: {err}") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # missing, corrupt
            raise ValueError(f"{file}: episode {i}: unreadable ({err})") from None
        store.append(episode)
    store.finish()
    return store


def _occupied(path: Path) -> bool:
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def finish_import(out: str | Path, existed: bool, error: BaseException | None) -> None:
    """Mark the store an import wrote at `out` complete, or failed with `error`.

    Nothing is touched when `out` held something before the import (the importer refused it)
    or when the import stopped before creating a store.
    """
    if existed or not is_store(out):
        return
    store = EpisodeStore(out, verify_reads=False)
    if error is None:
        if store.meta.get("complete") is not True:
            store.finish()
    elif isinstance(error, KeyboardInterrupt):
        store.mark_failed("interrupted")
    else:
        store.mark_failed(f"import failed: {error}")


def convert(
    src: str | Path,
    out: str | Path,
    source: str = "auto",
    target: str = "native",
    image_size: int | None = None,
    progress: bool = True,
    cameras: list[str] | None = None,
) -> Path:
    """Convert the dataset at `src` into a new dataset at `out`; returns `out`.

    `cameras` (LeRobot sources): the image features to keep, the first as `frames`.
    """
    from monde.data.lerobot import export_lerobot, import_lerobot
    from monde.data.minari import import_minari
    from monde.data.video import import_video_folder

    if source not in SOURCES or target not in TARGETS:
        raise ValueError(f"convert: source must be one of {SOURCES}, target one of {TARGETS}")
    source = detect(src) if source == "auto" else source
    if cameras and (source != "lerobot" or target != "native"):
        raise ValueError(f"convert: --camera picks cameras of a LeRobot import, not of {source}")
    if target == "native" and source == "native":
        raise ValueError(f"{src} is already a native store")
    if target != "native":
        if source != "native":
            raise ValueError(
                "export to LeRobot starts from a native store; convert to native first"
            )
        export_lerobot(src, out, video=target == "lerobot", progress=progress)
        return Path(out)
    importers = {
        "lerobot": lambda: import_lerobot(src, out, progress=progress, cameras=cameras),
        "minari": lambda: import_minari(src, out, progress=progress),
        "video": lambda: import_video_folder(src, out, image_size=image_size, progress=progress),
        "npz": lambda: import_npz(src, out, progress=progress),
    }
    existed = _occupied(Path(out))
    try:
        importers[source]()
    except BaseException as err:
        finish_import(out, existed, err)
        raise
    finish_import(out, existed, None)
    return Path(out)
