"""Collection throughput against worker processes: episodes/s of `monde collect --workers N`.

    python benchmarks/collect_scaling.py                  # PushT and TwoRoom, 1, 2, … cores, 0
    python benchmarks/collect_scaling.py --envs two_room --episodes 100 --workers 1 2   # quick

Each row collects the preset's episodes (configs/<env>.yaml, its num_envs and steps; only the
episode count is set here) into a fresh store and times the whole `collect` call (--workers 0:
the default, chosen from the first batch's stepping and writing times): starting the
workers, stepping, compressing and writing, marking the store complete. Every worker count must
write the same episodes: the rows of one env are checked to hold the same per-episode hashes.
The machine is shared: the repeats are interleaved across worker counts (1, 2, …, 1, 2, …) so
that every count meets the same spells of load, each row keeps its fastest repeat, and records
the 1-minute load average around it and the cores it got (its CPU seconds, workers included,
over its wall seconds), so a slow row can be told from a busy machine.
Writes benchmarks/results/collect_scaling.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde.data.batches import available_cores  # noqa: E402
from monde.data.collect import collect  # noqa: E402
from monde.data.store import EpisodeStore  # noqa: E402
from monde.hardware import cpu_model  # noqa: E402
from monde.io import atomic_write_json  # noqa: E402
from monde.pipeline import run_config  # noqa: E402
from monde.report import provenance  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "collect_scaling.json"
EPISODES = {"push_t": 80, "two_room": 1000}
"""Episodes per row: several batches per worker at every worker count measured (PushT's preset
steps 20 environments per batch, TwoRoom's 50), and about a minute of serial collection."""


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have ended."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def default_workers() -> list[int]:
    """1, 2, 4, … up to the available cores, the core count itself, then 0 (measured choice)."""
    cores = available_cores()
    counts = {1, cores}
    n = 2
    while n < cores:
        counts.add(n)
        n *= 2
    return [*sorted(counts | {2}), 0]  # 0: the choice `monde collect` makes by default


def time_once(env: str, episodes: int, workers: int, folder: Path) -> dict:
    """Collect `episodes` of configs/<env>.yaml with `workers` processes once: wall and CPU
    seconds, the processes used, the load around it and the stored per-episode hashes."""
    cfg = run_config(ROOT / "configs" / f"{env}.yaml", [f"data.episodes={episodes}"])
    out = folder / f"{env}_{workers}"
    load_before = os.getloadavg()[0]
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    collect(cfg.env, cfg.data, out, progress=False, workers=workers)
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_start  # the collecting process and its joined workers
    store = EpisodeStore(out)
    timing = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "workers_used": store.meta["info"]["collect_workers"],
        "hashes": [store.stored_hash(i) for i in range(len(store))],
        "load": (load_before, os.getloadavg()[0]),
        "data": cfg.data,
        "image_size": cfg.env.image_size,
    }
    shutil.rmtree(out)
    print(
        f"{env}: --workers {workers} → {timing['workers_used']}, {episodes} episodes in "
        f"{seconds:.1f} s: {episodes / seconds:.2f} episodes/s on {cpu / seconds:.2f} cores "
        f"(load {load_before:.1f} → {timing['load'][1]:.1f})"
    )
    return timing


def row(env: str, episodes: int, workers: int, timings: list[dict]) -> dict:
    """The row of one worker count from its repeats: the fastest repeat is the one the
    machine's other jobs disturbed least; CPU time over wall time says how many cores the
    shared machine actually gave it."""
    best = min(timings, key=lambda t: t["seconds"])
    return {
        "env": env,
        "workers": workers,
        "workers_used": best["workers_used"],  # capped at the batches; 0: the measured choice
        "episodes": episodes,
        "steps_per_episode": best["data"].steps_per_episode,
        "num_envs": best["data"].num_envs,
        "image_size": best["image_size"],
        "seconds_each": [t["seconds"] for t in timings],
        "cpu_seconds_each": [t["cpu_seconds"] for t in timings],
        "seconds": best["seconds"],
        "episodes_per_s": episodes / best["seconds"],
        "cpu_seconds_per_episode": best["cpu_seconds"] / episodes,
        "cores_used": best["cpu_seconds"] / best["seconds"],
        "load_average_1min": {"start": best["load"][0], "end": best["load"][1]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(EPISODES), help="presets in configs/")
    parser.add_argument("--workers", nargs="+", type=int, default=None, help="worker counts")
    parser.add_argument("--episodes", type=int, default=None, help="episodes per row")
    parser.add_argument("--repeats", type=int, default=2, help="timings per row (fastest kept)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    counts = args.workers or default_workers()
    rows, same = [], {}
    with tempfile.TemporaryDirectory(prefix="collect_scaling_") as tmp:
        for env in args.envs:
            episodes = args.episodes or EPISODES.get(env, 100)
            timings: dict[int, list[dict]] = {n: [] for n in counts}
            for _ in range(args.repeats):  # interleaved: every count sees the same spells of load
                for workers in counts:
                    timings[workers].append(time_once(env, episodes, workers, Path(tmp)))
            hashes = [t["hashes"] for ts in timings.values() for t in ts]
            same[env] = all(h == hashes[0] for h in hashes)
            rows += [row(env, episodes, n, timings[n]) for n in counts]
    for r in rows:  # against the same env's 1-worker row
        base = next((b for b in rows if b["env"] == r["env"] and b["workers"] == 1), None)
        r["speedup"] = r["episodes_per_s"] / base["episodes_per_s"] if base else None
    result = {
        "rows": rows,
        "same_episodes_at_every_worker_count": same,
        "cores_available": available_cores(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "shared_machine_note": "the machine is shared with other jobs: repeats are interleaved "
        "across worker counts, each row keeps its fastest repeat and records the 1-minute load "
        "average around it and the cores it got (CPU seconds / wall seconds)",
        "command": "python benchmarks/collect_scaling.py " + " ".join(sys.argv[1:]),
        "provenance": provenance(),
    }
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    if not all(same.values()):
        raise SystemExit(f"worker counts wrote different episodes: {same}")


if __name__ == "__main__":
    main()
