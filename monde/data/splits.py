"""Which episodes of a store are trained on and which are held out: one rule for all callers.

Training, the probes, the waypoint graph, the report and the benchmarks all split a store
with `split_episodes`, so "held out" means the same episodes everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split_episodes(episodes: Sequence[T], val_fraction: float) -> tuple[list[T], list[T]]:
    """(trained on, held out): the last ⌈val_fraction·N⌉ episodes are held out, never trained
    on; at least one episode stays for training. Pass a store's indices (`range(len(store))`)
    or the episodes themselves."""
    n = len(episodes)
    n_val = min(int(math.ceil(val_fraction * n)) if val_fraction > 0 else 0, n - 1)
    first_held_out = n - n_val
    return list(episodes[:first_held_out]), list(episodes[first_held_out:])
