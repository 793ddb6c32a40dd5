"""`verify` and `repair` of an episode store: find corruption, name it, fix what can be fixed.

verify re-reads every committed episode that is not quarantined, recomputes its content hashes
(per key where the store has them, then the whole episode) and compares them with the stored
ones, and checks actions and states are finite; it also reports whether the store is complete
and what a crash mid-append leaves behind (rows past the committed end, temporary files).
repair removes those leftovers and quarantines corrupt episodes (readers and samplers skip
them; later verifies list them as quarantined, not as failures); it never deletes a committed,
intact episode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monde.data.chunks import ChunkError
from monde.data.store import KEYS, EpisodeStore, StoreError, episode_hash
from monde.progress import tqdm

_ARRAYS = {"frames": "num_frames", "actions": "num_frames", "states": "num_frames"}
_INDEX_ARRAYS = {"episodes": "num_episodes", "hashes": "num_episodes", "key_hashes": "num_episodes"}
_OPTIONAL = {"key_hashes"}  # absent in stores written before Monde kept per-key hashes


def _array_rows(store: EpisodeStore, key: str) -> int | None:
    from monde.io import read_json

    path = store.path / key / "zarr.json"
    return int(read_json(path)["shape"][0]) if path.exists() else None


def check_episode(store: EpisodeStore, i: int) -> dict | None:
    """None when episode i is intact, else {"episode", "key", "error"} naming what is wrong."""
    start, n = map(int, store.index[i])
    arrays = {}
    for key in [*KEYS, *store.extra_keys()]:  # extras (cameras, rewards) are hashed per key
        if store._empty(key) is not None:
            arrays[key] = np.zeros((n, *store._empty(key)), np.float32)
            continue
        try:
            arrays[key] = store.reader(key).range(start, start + n)
        except ChunkError as err:
            return {"episode": i, "key": key, "error": str(err)}
    actions = arrays["actions"][:-1]
    problem = store.hash_problem(i, {**arrays, "actions": actions})
    if problem is not None:
        return {"episode": i, "key": problem[0], "error": problem[1]}
    if episode_hash(arrays["frames"], actions, arrays["states"]) != store.stored_hash(i):
        return {"episode": i, "key": "hash", "error": "content hash mismatch (data changed)"}
    for key in ("actions", "states"):
        if not np.isfinite(arrays[key]).all():
            return {"episode": i, "key": key, "error": "NaN or inf"}
    return None


def leftovers(store: EpisodeStore) -> dict:
    """What an interrupted append leaves: rows past the committed end, temporary files."""
    tail = {}
    extras = {key: "num_frames" for key in store.extra_keys()}  # one row per frame, like states
    for key, count in {**_ARRAYS, **extras, **_INDEX_ARRAYS}.items():
        rows = _array_rows(store, key)
        if rows is not None and rows > int(store.meta[count]):
            tail[key] = rows - int(store.meta[count])
    temp = sorted(str(p) for p in Path(store.path).rglob("*.partial"))
    return {"uncommitted_rows": tail, "temporary_files": temp}


def verify(store: EpisodeStore | str | Path, progress: bool = True) -> dict:
    """Check every committed episode but the quarantined ones; returns {"episodes", "ok",
    "problems", "quarantined", "completeness", "leftovers", ...}.

    A problem names the episode, the key and (for unreadable data) the chunk file. "ok" counts
    the intact episodes among the checked (not quarantined) ones.
    """
    if not isinstance(store, EpisodeStore):
        store = EpisodeStore(store)
    problems: list[dict] = []
    extras = {key: "num_frames" for key in store.extra_keys()}
    for key, count in {**_ARRAYS, **extras, **_INDEX_ARRAYS}.items():
        if store._empty(key) is not None or not len(store):
            continue
        if key in _OPTIONAL and "hash_keys" not in store.meta:
            continue
        rows = _array_rows(store, key)
        if rows is None:
            problems.append({"episode": None, "key": key, "error": f"array {key!r} is missing"})
        elif rows < int(store.meta[count]):
            problems.append(
                {
                    "episode": None,
                    "key": key,
                    "error": f"array has {rows} rows, fewer than the {store.meta[count]} committed",
                }
            )
    if problems:
        return _report(store, problems)
    try:
        store.index  # noqa: B018 — reads the episode index, raising if it is unreadable
    except StoreError as err:
        return _report(store, [{"episode": None, "key": "episodes", "error": str(err)}])
    checked = store.usable(range(len(store)))
    for i in tqdm(checked, desc="verify", unit="ep", disable=not progress):
        if (problem := check_episode(store, i)) is not None:
            problems.append(problem)
    return _report(store, problems)


def _report(store: EpisodeStore, problems: list[dict]) -> dict:
    bad = {p["episode"] for p in problems}
    quarantined = sorted(int(i) for i in store.meta.get("quarantined", []))
    checked = len(store) - len(quarantined)
    return {
        "path": str(store.path),
        "episodes": len(store),
        "checked": checked,
        "ok": checked - len(bad - {None}) if None not in bad else 0,
        "problems": problems,
        "quarantined": quarantined,
        "completeness": store.completeness(),
        "leftovers": leftovers(store),
    }


def exit_code(report: dict) -> int:
    """`monde data verify`'s exit status: 0 every checked episode intact and the store complete
    (or its completeness not recorded), 1 a corrupt episode or store, 3 intact but empty or
    incomplete. Quarantined episodes do not count as failures."""
    if report["problems"]:
        return 1
    state = report["completeness"]
    if report["checked"] == 0 or state["complete"] is False:
        return 3
    return 0


def repair(store: EpisodeStore | str | Path, progress: bool = True) -> dict:
    """Trim uncommitted rows, delete temporary files, quarantine corrupt episodes.

    Returns {"trimmed", "removed_files", "quarantined"}. Intact episodes are never touched.
    """
    import zarr

    if not isinstance(store, EpisodeStore):
        store = EpisodeStore(store)
    found = leftovers(store)
    for file in found["temporary_files"]:
        Path(file).unlink(missing_ok=True)
    group = zarr.open_group(str(store.path), mode="r+")
    for key, extra in found["uncommitted_rows"].items():
        arr = group[key]
        arr.resize((arr.shape[0] - extra, *arr.shape[1:]))
    report = verify(store, progress=progress)
    corrupt = sorted({p["episode"] for p in report["problems"] if p["episode"] is not None})
    if any(p["episode"] is None for p in report["problems"]):
        raise StoreError(
            f"{store.path}: cannot repair: "
            + "; ".join(p["error"] for p in report["problems"] if p["episode"] is None)
        )
    quarantined = sorted(set(store.meta.get("quarantined", [])) | set(corrupt))
    if quarantined != store.meta.get("quarantined", []):
        store.meta["quarantined"] = quarantined
        store._commit()
    return {
        "trimmed": found["uncommitted_rows"],
        "removed_files": found["temporary_files"],
        "quarantined": quarantined,
        "problems": report["problems"],
    }
