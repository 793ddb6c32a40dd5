"""SIGTERM stops a monde command as Ctrl-C does (workers stopped, the store marked interrupted and
resumable), and a collection's workers end with their parent even when it is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monde.data.store import EpisodeStore
from monde.signals import Terminated, stop_on_sigterm

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux's"
)
SMALL = ["--quiet", "data.steps_per_episode=4", "data.num_envs=2", "env.image_size=16"]


def collect_argv(out: Path, episodes: int, workers: int) -> list[str]:
    """`monde collect` of TwoRoom episodes into `out`, as a subprocess's argv."""
    return [
        *[sys.executable, "-m", "monde.cli", "collect", "--out", str(out), *SMALL],
        *[f"data.episodes={episodes}", "--workers", str(workers)],
    ]


def test_sigterm_raises_terminated_inside_the_block_and_the_old_handler_returns_after():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated, match="SIGTERM"), stop_on_sigterm():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs at once; this is never reached
    assert signal.getsignal(signal.SIGTERM) is before
    assert issubclass(Terminated, KeyboardInterrupt)  # every Ctrl-C cleanup runs for it


def children(pid: int) -> set[int]:
    """Live processes whose parent is `pid` (from /proc/*/stat)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, …
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def start_collect(out: Path) -> tuple[subprocess.Popen, set[int]]:
    """`monde collect` running with its workers started → (process, its child processes)."""
    proc = subprocess.Popen(  # long enough to be stopped while its two workers step
        collect_argv(out, 200_000, 2),
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(children(proc.pid)) < 3:  # two workers and multiprocessing's resource tracker
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.2)
    while not (out / "zarr.json").exists() or len(EpisodeStore(out)) == 0:
        assert time.monotonic() < deadline, "no episode was written"
        time.sleep(0.2)
    return proc, children(proc.pid)


def wait_gone(pids: set[int], seconds: float = 30.0) -> set[int]:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


@linux_only
def test_sigterm_stops_the_workers_and_marks_the_store_interrupted(tmp_path):
    out = tmp_path / "data"
    proc, workers = start_collect(out)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM, err  # ended as SIGTERM ends it: a clean stop
    assert "stopped by signal SIGTERM" in err and "--resume" in err
    assert wait_gone(workers) == set()
    store = EpisodeStore(out)
    stored = len(store)
    assert store.completeness()["summary"].endswith(f"{stored} of 200000 episodes (interrupted)")
    assert stored > 0  # what was written before the signal is kept, for --resume to continue


@linux_only
def test_the_workers_of_a_killed_collection_end_with_it(tmp_path):
    proc, workers = start_collect(tmp_path / "data")
    proc.kill()  # SIGKILL: nothing of the parent runs
    proc.communicate(timeout=60)
    assert wait_gone(workers) == set()


@linux_only
def test_a_child_asking_to_die_with_its_parent_is_told_yes():
    code = "from monde.signals import die_with_parent; print(die_with_parent())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
