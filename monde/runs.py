"""The run folder: who may write it.

A run folder (`monde train --run RUN`, `monde demo --run RUN`) is written by one process at a
time. `locked_run(RUN)` takes an OS-level advisory lock on `RUN/run.lock` (`fcntl.flock` on
POSIX, `msvcrt.locking` on Windows) and writes the holder's pid, host, start time and command
into it; a second process asking for the same folder gets `RunLockedError`, one line naming the
holder. The operating system drops the lock when the holder exits or is killed, so a crash
never leaves a stale lock behind (the file stays, with the last holder's details: it is only a
record, the lock is what counts). Within one process the lock is re-entrant: `monde demo`
holds it and the `train_run` it calls takes it again.

Where the filesystem offers no lock at all (some network mounts), the run goes on unlocked
with a one-line warning rather than not at all.

It knows nothing about training: under torchrun the caller takes the lock on rank 0 only,
which alone writes the folder.

Its metrics log, `RUN/metrics.jsonl` (one JSON row per logged training step), is read and
truncated here too (`read_metrics`, `truncate_metrics`), for training, the report, the
benchmarks and the command line alike, and so are the names of its resumable checkpoints
(`list_checkpoints`, `checkpoint_step`; what they hold is `monde.train.state`'s business).
An ensemble run (`train.ensemble` > 1) trains each member in its own run folder inside it,
`RUN/members/<i>` (`member_dir`, `training_dirs`).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import re
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from monde.io import atomic_write_text as _atomic_write_text

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt  # type: ignore[import-not-found]
except ImportError:  # POSIX
    msvcrt = None  # type: ignore[assignment]

LOCK_FILE = "run.lock"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS = "checkpoints"  # RUN/checkpoints/step-NNNNNNNNN/: resumable training state
_CHECKPOINT = re.compile(r"^step-(\d{9})$")
_WINDOWS_LOCK_OFFSET = 1 << 20  # msvcrt locks bytes: lock one far beyond the holder's record


class RunLockedError(RuntimeError):
    """Another process is writing this run folder."""


# lock file (resolved) → [fd, count]; fd None when the filesystem could not lock
_HELD: dict[str, list] = {}
_HELD_GUARD = threading.Lock()


def _try_lock(fd: int) -> bool | None:
    """True: locked; False: another process holds it; None: this filesystem cannot lock."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                return None
            raise
    if msvcrt is not None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    return None


def _unlock(fd: int) -> None:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        elif msvcrt is not None:
            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)


def _holder_record() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
    }


def read_holder(run_dir: str | Path) -> dict | None:
    """What `RUN/run.lock` says about its last holder (pid, host, started, command), or None.

    A record does not mean the folder is locked now: a finished or killed holder's record stays.
    """
    try:
        record = json.loads((Path(run_dir) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe_holder(record: dict | None) -> str:
    """One line about a holder: `pid 123 on host h since 2026-…Z (monde train …)`."""
    if not record:
        return "another process (it has not written its details yet)"
    text = f"pid {record.get('pid', '?')} on host {record.get('host', '?')}"
    if record.get("started"):
        text += f" since {record['started']}"
    if record.get("command"):
        text += f" ({record['command']})"
    return text


def _acquire(run_dir: Path) -> str:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    key = os.path.realpath(path)
    with _HELD_GUARD:
        if key in _HELD:  # this process holds it already: re-entrant
            _HELD[key][1] += 1
            return key
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            got = _try_lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if got is False:
            os.close(fd)
            raise RunLockedError(
                f"{run_dir} is being written by {describe_holder(read_holder(run_dir))}; wait "
                f"for it to finish or use another run folder (lock: {path})"
            )
        if got is None:
            os.close(fd)
            print(
                f"warning: {path}: this filesystem offers no file lock; nothing stops another "
                "process from writing this run folder at the same time",
                file=sys.stderr,
            )
            _HELD[key] = [None, 1]
            return key
        record = (json.dumps(_holder_record()) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)  # in place: replacing the file would swap the locked inode
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, record)
        _HELD[key] = [fd, 1]
        return key


def _release(key: str) -> None:
    with _HELD_GUARD:
        entry = _HELD[key]
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _HELD[key]
        if entry[0] is not None:
            _unlock(entry[0])


@contextlib.contextmanager
def locked_run(run_dir: str | Path) -> Iterator[Path]:
    """Hold the writer's lock on `run_dir` (created if missing) for the `with` block.

    Raises RunLockedError, naming the holder, when another process holds it.
    """
    run_dir = Path(run_dir)
    key = _acquire(run_dir)
    try:
        yield run_dir
    finally:
        _release(key)


def append_metrics(path: Path, row: dict) -> None:
    """Append one row to metrics.jsonl."""
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def read_metrics(path: Path) -> list[dict]:
    """metrics.jsonl rows; a line cut short by a killed run is skipped."""
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("step"), int)]


def _seconds_of(row: dict, batch_size: int) -> float:
    """Training seconds up to a row: its `train_seconds`, or, in rows of runs that predate that
    field, steps × batch / samples_per_s (exact when the run was never resumed)."""
    if "train_seconds" in row:
        return float(row["train_seconds"])
    rate = row.get("samples_per_s") or 0.0
    return row["step"] * batch_size / rate if rate > 0 else 0.0


def recorded_train_seconds(run_dir: str | Path, batch_size: int) -> float | None:
    """Training seconds a run's metrics.jsonl records, over all its resumes; None if no rows."""
    rows = read_metrics(Path(run_dir) / METRICS_FILE)
    return _seconds_of(rows[-1], batch_size) if rows else None


def truncate_metrics(path: Path, step: int, batch_size: int) -> float:
    """Drop rows a killed run logged after the checkpoint it resumes from (and a torn last line);
    → the training seconds recorded up to that checkpoint, which the resumed run carries on."""
    kept = [row for row in read_metrics(path) if row["step"] <= step]
    if path.exists():
        _atomic_write_text(path, "".join(json.dumps(row) + "\n" for row in kept))
    return _seconds_of(kept[-1], batch_size) if kept else 0.0


MEMBERS = "members"


def member_dir(run_dir: str | Path, index: int) -> Path:
    """RUN/members/<index>: the run folder of an ensemble's member `index`."""
    return Path(run_dir) / MEMBERS / str(index)


def training_dirs(run_dir: str | Path, ensemble: int = 1) -> list[Path]:
    """The folders that hold a run's training (metrics.jsonl, checkpoints): RUN itself for one
    model, each member's folder for an ensemble of `ensemble` members."""
    if ensemble == 1:
        return [Path(run_dir)]
    return [member_dir(run_dir, i) for i in range(ensemble)]


def checkpoint_name(step: int) -> str:
    """The folder name of the checkpoint taken at `step`: 2000 → `step-000002000`."""
    return f"step-{step:09d}"


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under root, oldest first."""
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _CHECKPOINT.match(p.name))


def prune_checkpoints(root: Path, keep: int) -> None:
    """Delete all but the newest `keep` complete checkpoints under root."""
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint folder was written at: `RUN/checkpoints/step-000002000` → 2000."""
    match = _CHECKPOINT.match(path.name)
    if match is None:
        raise ValueError(f"{path}: not a checkpoint folder (step-NNNNNNNNN)")
    return int(match.group(1))
