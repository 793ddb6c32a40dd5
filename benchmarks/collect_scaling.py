"""Collection throughput against worker processes: episodes/s of `monde collect --workers N`.

    python benchmarks/collect_scaling.py                  # PushT and TwoRoom, 1, 2, … cores, 0
    python benchmarks/collect_scaling.py --envs two_room --episodes 100 --workers 1 2   # quick

Each row collects the preset's episodes (configs/<env>.yaml, its num_envs and steps; only the
episode count is set here) into a fresh store and times the whole `collect` call (--workers 0:
the default, chosen from the first batch's stepping and writing times): starting the
workers, stepping, compressing and writing, marking the store complete. Every worker count must
write the same episodes: the rows of one env are checked to hold the same per-episode hashes.
The machine is shared: the 1-minute load average before and after each row is recorded beside
it, so a slow row can be told from a busy machine. Writes benchmarks/results/collect_scaling.json.
"""

from __future__ import annotations

import argparse
import os
import platform
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
from monde.io import atomic_write_json  # noqa: E402
from monde.pipeline import run_config  # noqa: E402
from monde.report import provenance  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "collect_scaling.json"
EPISODES = {"push_t": 80, "two_room": 1000}
"""Episodes per row: several batches per worker at every worker count measured (PushT's preset
steps 20 environments per batch, TwoRoom's 50), and about a minute of serial collection."""


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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


def measure(
    env: str, episodes: int, workers: int, folder: Path, repeats: int
) -> tuple[dict, list[bytes]]:
    """One row: collect `episodes` of configs/<env>.yaml with `workers` processes, `repeats`
    times; the fastest repeat is the one the machine's other jobs disturbed least."""
    cfg = run_config(ROOT / "configs" / f"{env}.yaml", [f"data.episodes={episodes}"])
    out = folder / f"{env}_{workers}"
    load_before = os.getloadavg()[0]
    seconds, cpu = [], []
    for _ in range(repeats):
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        collect(cfg.env, cfg.data, out, progress=False, workers=workers)
        seconds.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - cpu_start)
        store = EpisodeStore(out)
        hashes = [store.stored_hash(i) for i in range(len(store))]
        used = store.meta["info"]["collect_workers"]
        shutil.rmtree(out)
    load_after = os.getloadavg()[0]
    row = {
        "env": env,
        "workers": workers,
        "workers_used": used,  # capped at the batches; with 0, what the first batch chose
        "episodes": episodes,
        "steps_per_episode": cfg.data.steps_per_episode,
        "num_envs": cfg.data.num_envs,
        "image_size": cfg.env.image_size,
        "seconds_each": seconds,
        "seconds": min(seconds),
        "episodes_per_s": episodes / min(seconds),
        # CPU time of the collecting process and its (joined) workers: what the row cost, and
        # how many cores the shared machine actually gave it (cpu / wall)
        "cpu_seconds_each": cpu,
        "cpu_seconds_per_episode": cpu[seconds.index(min(seconds))] / episodes,
        "cores_used": cpu[seconds.index(min(seconds))] / min(seconds),
        "load_average_1min": {"start": load_before, "end": load_after},
    }
    print(
        f"{env}: --workers {workers} → {used}, {episodes} episodes in "
        f"{', '.join(f'{s:.1f}' for s in seconds)} s: {row['episodes_per_s']:.2f} episodes/s "
        f"on {row['cores_used']:.2f} cores (load {load_before:.1f} → {load_after:.1f})"
    )
    return row, hashes


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
            reference = None
            same[env] = True
            for workers in counts:
                row, hashes = measure(env, episodes, workers, Path(tmp), args.repeats)
                if reference is None:
                    reference = hashes
                same[env] &= hashes == reference
                rows.append(row)
    for row in rows:  # against the same env's 1-worker row
        base = next((r for r in rows if r["env"] == row["env"] and r["workers"] == 1), None)
        row["speedup"] = row["episodes_per_s"] / base["episodes_per_s"] if base else None
    result = {
        "rows": rows,
        "same_episodes_at_every_worker_count": same,
        "cores_available": available_cores(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "shared_machine_note": "the machine is shared with other jobs; each row records the "
        "1-minute load average before and after it",
        "command": "python benchmarks/collect_scaling.py " + " ".join(sys.argv[1:]),
        "provenance": provenance(),
    }
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")
    if not all(same.values()):
        raise SystemExit(f"worker counts wrote different episodes: {same}")


if __name__ == "__main__":
    main()
