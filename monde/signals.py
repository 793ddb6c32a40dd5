"""Stopping cleanly when told to: SIGTERM handled as Ctrl-C is, and worker processes that do not
outlive the process that started them.

`kill`, `timeout`, Slurm's `scancel`, `docker stop` and systemd end a process with SIGTERM, whose
default action ends Python at once: no `finally` runs, so a collection's worker processes stay
behind (idle, waiting for work forever) and its store is never marked interrupted. Under
`stop_on_sigterm` SIGTERM raises `Terminated`, a KeyboardInterrupt, so every cleanup written for
Ctrl-C runs for it too. A process killed outright (SIGKILL, out of memory) runs nothing;
`die_with_parent` makes the kernel end its workers then (Linux).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TERMINATED_EXIT_CODE = 128 + signal.SIGTERM  # what a shell reports for a process SIGTERM ended
_PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): a signal sent when the parent thread exits


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (under `stop_on_sigterm`)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(f"stopped by signal {signal.Signals(signum).name}")


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises `Terminated` in the main thread (as Ctrl-C raises
    KeyboardInterrupt); the previous handler is restored after. Outside the main thread, where
    Python cannot set handlers, it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def end_by_sigterm() -> None:
    """End this process by SIGTERM's default action, after its cleanup has run: its parent then
    sees what it would have seen without `stop_on_sigterm` (a shell prints status 143; systemd
    counts a service stopped this way as cleanly stopped, where exit code 143 reads as failed).
    Returns only where the signal cannot end the process."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def die_with_parent() -> bool:
    """In a child process: ask the kernel to send it SIGTERM when its parent ends, however the
    parent ends (Linux; elsewhere nothing). Returns whether that was arranged. Exits at once when
    the parent already ended before the request (the child is then an orphan).

    The kernel's signal follows the parent's thread that started the child: a pool's workers
    are started by the thread that submits to it, which for a collection is the one consuming
    its batches until they are done."""
    if not sys.platform.startswith("linux"):
        return False
    started_by = multiprocessing.parent_process()  # None outside a multiprocessing child
    parent = started_by.pid if started_by is not None else os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent ended before the request: nobody will signal
        os._exit(TERMINATED_EXIT_CODE)
    return True


class StopRequest:
    """Set by `stop_at_safe_point`'s handler: the signal asked for (None while none came)."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None

    def stop_at(
        self, step: int, checkpoint: Path, save: Callable[[], object] | None
    ) -> KeyboardInterrupt:
        """A loop stops before `step`: `save()` writes `checkpoint` unless it exists or nothing
        was trained (`save` None: the run keeps no checkpoints here) → the exception to raise,
        `Terminated` for SIGTERM, KeyboardInterrupt for Ctrl-C, as either raises outside."""
        if save is not None and step > 0 and not checkpoint.exists():
            save()
        kind = Terminated if self.signal == signal.SIGTERM else KeyboardInterrupt
        where = "no checkpoint kept at it"
        if checkpoint.exists():
            where = f"checkpoint {checkpoint} written"
        return kind(f"stopped by signal {self.signal.name} at step {step} ({where})")


@contextmanager
def stop_at_safe_point(active: bool = True) -> Iterator[StopRequest]:
    """Within the block, the first Ctrl-C or SIGTERM only records itself in the yielded
    `StopRequest`: a loop reads it between steps and raises `request.stop_at(…)`, which saves
    what it needs to resume. A second signal raises at once, as it would outside. Signals the
    process ignores (SIGINT in a background job) stay ignored; outside the main thread or with
    `active` False nothing changes (a distributed run's ranks could not agree on the step)."""
    request = StopRequest()
    if not active or threading.current_thread() is not threading.main_thread():
        yield request
        return
    watched = [signal.SIGINT, signal.SIGTERM]
    previous = {s: signal.getsignal(s) for s in watched}

    def record(signum: int, frame: object) -> None:
        if request.signal is not None:  # asked again: stop now
            if signum == signal.SIGTERM:
                _raise_terminated(signum, frame)
            raise KeyboardInterrupt
        request.signal = signal.Signals(signum)

    for s in watched:
        if previous[s] is not signal.SIG_IGN:
            signal.signal(s, record)
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
