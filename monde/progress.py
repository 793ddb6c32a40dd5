"""Progress bars that suit a terminal and a log file alike.

On a terminal this is plain tqdm. When the bar's output is not a terminal (redirected to a file,
a CI log, a pipe) it redraws at most every 30 s (`MONDE_PROGRESS_INTERVAL` seconds), so a log
gets a few lines per bar instead of thousands of redraws. Every module that shows progress
imports `tqdm` from here.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm import tqdm as _tqdm

LOG_INTERVAL_S = 30.0
"""seconds between redraws when the output is not a terminal (MONDE_PROGRESS_INTERVAL overrides)"""


def is_terminal(stream: Any) -> bool:
    """True when `stream` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def log_interval() -> float:
    """Seconds between redraws of a bar whose output is not a terminal."""
    raw = os.environ.get("MONDE_PROGRESS_INTERVAL")
    if raw is None:
        return LOG_INTERVAL_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        msg = f"MONDE_PROGRESS_INTERVAL must be a number of seconds, got {raw!r}"
        raise ValueError(msg) from None


class tqdm(_tqdm):  # noqa: N801  (a drop-in for tqdm.tqdm)
    """tqdm that redraws rarely when its output is not a terminal (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        stream = kwargs.get("file") or sys.stderr
        self._live = is_terminal(stream)
        if not self._live:
            interval = log_interval()
            kwargs.setdefault("mininterval", interval)
            # tqdm's monitor thread lowers miniters after maxinterval: keep it from redrawing
            kwargs.setdefault("maxinterval", max(interval, 10.0))
            kwargs.setdefault("ascii", True)  # no block characters in a log file
        super().__init__(*args, **kwargs)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        """As tqdm's, but in a log the new postfix waits for the next timed redraw."""
        super().set_postfix(ordered_dict, refresh=refresh and self._live, **kwargs)
