"""Loader throughput vs what training consumes → benchmarks/results/data_loader.json.

    python benchmarks/data_loader.py            # full: about 10 minutes on 2 cores
    python benchmarks/data_loader.py --quick    # a smoke check of the script (≈ 1 minute)

1. Consumption: the core TwoRoom training step (configs/two_room.yaml: 64×64, history 1,
   rollout 4, frameskip 5, batch 64, `--threads` threads) timed through `fit` on windows
   held in RAM; windows/s = batch × steps/s, fit's start-up cost removed by timing two lengths,
   the fastest of 3 repeats (the least disturbed by other work on the machine).
2. Delivery: windows/s of `WindowSampler.batches` for 64×64 and 224×224 RGB, windows of
   history 3 + horizon 1 with frameskip 5, batch 64, with 0 and 2 DataLoader workers, reading
   lazily from the native Zarr store and from a LeRobot v3 folder (mp4 decoded by timestamp).
   The native store hash-checks each episode on its first read in each process (the default,
   `verify_reads`); one more row per size reads with the check off, for comparison.
3. The check itself: seconds to hash-check every episode of a fresh store once (what each
   process pays, spread over its first reads of each episode).
The TwoRoom datasets are collected into runs/bench_data/ on first use and reused after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from monde.config import RunConfig  # noqa: E402
from monde.config_io import load_config  # noqa: E402
from monde.data.collect import collect  # noqa: E402
from monde.data.lerobot import LeRobotSource, export_lerobot  # noqa: E402
from monde.data.sampler import WindowSampler  # noqa: E402
from monde.data.store import EpisodeStore, is_store  # noqa: E402
from monde.io import atomic_write_json  # noqa: E402
from monde.models.world_model import WorldModel  # noqa: E402
from monde.report import provenance  # noqa: E402
from monde.train.fit import fit  # noqa: E402

HISTORY, HORIZON, FRAMESKIP, BATCH = 3, 1, 5, 64


def dataset(size: int, episodes: int, folder: Path) -> tuple[Path, Path]:
    """A TwoRoom store at `size` px and its LeRobot v3 export, collected once and reused."""
    cfg = load_config(RunConfig, ROOT / "configs/two_room.yaml", [])
    native, lerobot = (
        folder / f"two_room_{size}_{episodes}",
        folder / f"two_room_{size}_{episodes}_lerobot",
    )
    if not is_store(native) or len(EpisodeStore(native)) != episodes:
        shutil.rmtree(native, ignore_errors=True)
        shutil.rmtree(lerobot, ignore_errors=True)
        cfg.env.image_size = size
        cfg.data.episodes = episodes
        cfg.data.num_envs = min(50, episodes)
        collect(cfg.env, cfg.data, native)
    if not (lerobot / "meta" / "info.json").exists():
        shutil.rmtree(lerobot, ignore_errors=True)
        export_lerobot(native, lerobot)
    return native, lerobot


def consumption(native: Path, steps: int, threads: int, run: Path, repeats: int) -> dict:
    """Windows/s the core TwoRoom training step takes in, through fit on in-RAM windows."""
    cfg = load_config(RunConfig, ROOT / "configs/two_room.yaml", [])
    cfg.train.probe_every = cfg.train.checkpoint_every = 0
    cfg.train.log_every = 10_000
    torch.set_num_threads(threads)
    store = EpisodeStore(native)
    window = cfg.model.history + cfg.train.rollout_steps
    sampler = WindowSampler(list(store), window, cfg.model.frameskip)
    short, long = max(2, steps // 8), steps
    per_step = float("inf")
    for _ in range(repeats):  # the least disturbed of `repeats` measurements
        times = {}
        for n in (short, long):
            cfg.train.steps = n
            torch.manual_seed(0)
            model = WorldModel(cfg.model)
            start = time.perf_counter()
            fit(model, sampler, cfg.train, run, progress=False)
            times[n] = time.perf_counter() - start
        per_step = min(per_step, (times[long] - times[short]) / (long - short))
    from monde.precision import precision_record

    return {
        "precision": precision_record(cfg.train.precision, "cpu"),  # what fit computed in
        "windows_per_s": cfg.train.batch_size / per_step,
        "step_ms": per_step * 1000,
        "batch_size": cfg.train.batch_size,
        "window_frames": window,
        "frameskip": cfg.model.frameskip,
        "threads": threads,
        "steps_timed": [short, long],
        "repeats": repeats,
    }


def verify_once(native: Path, repeats: int) -> dict:
    """Seconds to hash-check every episode of the store once, in a fresh process's state (the
    fastest of `repeats`, each on a newly opened store with cold chunk caches)."""
    best = float("inf")
    for _ in range(repeats):
        store = EpisodeStore(native)
        start = time.perf_counter()
        for i in range(len(store)):
            store.verify_episode(i)
        best = min(best, time.perf_counter() - start)
    frames = int(EpisodeStore(native).meta["num_frames"])
    n = len(EpisodeStore(native))
    return {"episodes": n, "frames": frames, "seconds": best, "ms_per_episode": 1000 * best / n}


def delivery(sampler: WindowSampler, workers: int, seconds: float, min_batches: int) -> dict:
    """Windows/s of sampler.batches after a warm-up batch (workers started, caches cold)."""
    batches = sampler.batches(BATCH, seed=0, num_workers=workers, prefetch=4)
    next(batches)
    count, start = 0, time.perf_counter()
    while count < min_batches or time.perf_counter() - start < seconds:
        frames, _, _ = next(batches)
        assert frames.dtype == torch.uint8
        count += 1
    elapsed = time.perf_counter() - start
    del batches
    return {"windows_per_s": count * BATCH / elapsed, "batches": count, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the script")
    parser.add_argument("--threads", type=int, default=2, help="training threads (consumption)")
    parser.add_argument("--out", type=Path, default=None, help="default: results/data_loader.json")
    args = parser.parse_args()
    quick = args.quick
    if args.out is None:  # a quick check never overwrites the published figures
        args.out = ROOT / (
            "runs/bench_data/data_loader_quick.json"
            if quick
            else "benchmarks/results/data_loader.json"
        )
    folder = ROOT / "runs" / "bench_data"
    seconds, min_batches = (1.0, 2) if quick else (8.0, 10)
    lerobot_seconds, lerobot_batches = (1.0, 1) if quick else (15.0, 3)
    sizes = {64: 20 if quick else 200, 224: 6 if quick else 40}
    load_before = os.getloadavg()  # a shared machine: how busy it was says how far to trust this
    result: dict = {
        "window": {"history": HISTORY, "horizon": HORIZON, "frameskip": FRAMESKIP},
        "batch_size": BATCH,
        "quick": quick,
        "delivery": [],
    }
    paths = {size: dataset(size, n, folder) for size, n in sizes.items()}
    result["consumption"] = consumption(
        paths[64][0],
        6 if quick else 60,
        args.threads,
        folder / "consumption_run",
        1 if quick else 3,
    )
    print("training consumes", result["consumption"])
    result["verify_once"] = []
    for size, (native, lerobot) in paths.items():
        row = {"image_size": size, **verify_once(native, 1 if quick else 3)}
        print("hash check of every episode", row)
        result["verify_once"].append(row)
        for name, verified, make in (
            (
                "native",
                True,
                lambda p=native: WindowSampler.from_store(p, HISTORY + HORIZON, FRAMESKIP),
            ),
            (
                "native",
                False,
                lambda p=native: WindowSampler.from_store(
                    EpisodeStore(p, verify_reads=False), HISTORY + HORIZON, FRAMESKIP
                ),
            ),
            (
                "lerobot",
                False,
                lambda p=lerobot: WindowSampler(
                    None, HISTORY + HORIZON, FRAMESKIP, source=LeRobotSource(p)
                ),
            ),
        ):
            for workers in (0, 2) if verified or name == "lerobot" else (0,):
                sampler = make()
                budget = (
                    (seconds, min_batches)
                    if name == "native"
                    else (lerobot_seconds, lerobot_batches)
                )
                row = {
                    "source": name,
                    "verify_reads": verified,
                    "image_size": size,
                    "workers": workers,
                    "episodes": sizes[size],
                    **delivery(sampler, workers, *budget),
                }
                row["vs_training"] = row["windows_per_s"] / result["consumption"]["windows_per_s"]
                print(row)
                result["delivery"].append(row)
    native64 = [
        r
        for r in result["delivery"]
        if r["source"] == "native" and r["image_size"] == 64 and r["verify_reads"]
    ]
    result["native_64_best_vs_training"] = max(r["vs_training"] for r in native64)
    result["cpu_count"] = os.cpu_count()
    result["load_average_1min"] = {"start": load_before[0], "end": os.getloadavg()[0]}
    result["provenance"] = provenance()
    atomic_write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
