"""The data-scaling curve: goal-reaching success against training episodes (DINO-WM's figure).

    python benchmarks/data_scaling.py --sizes 1000 2000 5000 10000     # PushT: many CPU hours
    python benchmarks/data_scaling.py --sizes 20 40 --preset configs/bench/push_t_quick.yaml \\
        --runs runs/data_scaling_try --out runs/data_scaling_try/data_scaling.json \\
        train.steps=50 eval.episodes=4                                       # a try, minutes

Collects the largest size once (`monde collect` with worker processes, --workers; resumable),
then for each size N copies its first N episodes into RUN/data — bit for bit the episodes a
collection of N writes (monde.data.prefix) — and runs the demo pipeline on it (train with the
preset's steps, the same for every size, then evaluate on the preset's held-out episodes), in
runs/data_scaling/episodes_N. Sizes already evaluated with the same config are read back, and
an interrupted size resumes its collection or training, so the command can be re-run until the
curve is complete. Writes benchmarks/results/data_scaling.json after each size; dotted
overrides (train.steps=…, eval.episodes=…) apply to every size.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monde.config import RunConfig  # noqa: E402
from monde.config_io import ConfigError, from_dict, to_dict  # noqa: E402
from monde.data.collect import collect  # noqa: E402
from monde.data.collection_settings import resumable_differences  # noqa: E402
from monde.data.prefix import first_episodes  # noqa: E402
from monde.data.store import EpisodeStore, is_store  # noqa: E402
from monde.io import atomic_write_json, read_json  # noqa: E402
from monde.pipeline import run_config, run_demo  # noqa: E402
from monde.report import provenance  # noqa: E402
from monde.runs import read_metrics  # noqa: E402

PRESET = ROOT / "configs" / "bench" / "push_t_full.yaml"
OUT = ROOT / "benchmarks" / "results" / "data_scaling.json"


def collect_largest(cfg: RunConfig, data: Path, workers: int | None, progress: bool) -> None:
    """The largest size's episodes in `data`: collected, resumed, grown from a store of fewer
    episodes, or reused when complete (a complete store of more episodes is reused too, so that
    several runs of this script with different --sizes share one store)."""
    if not is_store(data):
        collect(cfg.env, cfg.data, data, progress, workers=workers)
        return
    store = EpisodeStore(data)
    stored = store.meta["info"].get("data_config", {}).get("episodes")
    complete = store.meta.get("complete") is True
    if complete and isinstance(stored, int) and stored > cfg.data.episodes:
        # a complete store of more episodes serves too: each size copies its prefix
        cfg = replace(cfg, data=replace(cfg.data, episodes=stored))
    if differ := resumable_differences(store.meta["info"], cfg.env, cfg.data):
        raise SystemExit(f"{data}: collected with other settings ({'; '.join(differ)})")
    if not complete or stored != cfg.data.episodes:  # resumed, or grown to the largest size
        collect(cfg.env, cfg.data, data, progress, resume=True, workers=workers)


def evaluated(run: Path, cfg: RunConfig) -> dict | None:
    """RUN/results.json when it was written for exactly this config, else None. The stored
    config is read as this Monde reads a config (a setting added since takes its default), so
    that a size evaluated before a new setting existed is not evaluated again."""
    path = run / "results.json"
    if path.exists():
        payload = read_json(path)
        try:
            stored = from_dict(RunConfig, payload.get("config", {}), source=str(path))
        except ConfigError:  # a setting this Monde no longer knows: not the same config
            return None
        if to_dict(stored) == to_dict(cfg):
            return payload
    return None


def final_probes(run: Path) -> dict[str, float] | None:
    """The held-out probe R² per state at the run's last probed training step, or None."""
    probed = [r for r in read_metrics(run / "metrics.jsonl") if any("probe_r2/" in k for k in r)]
    if not probed:
        return None
    return {k.split("/", 1)[1]: v for k, v in probed[-1].items() if k.startswith("probe_r2/")}


def row(size: int, run: Path, payload: dict) -> dict:
    planner, rand = payload["results"]["planner"], payload["results"].get("random")
    return {
        "episodes": size,
        "success_rate": planner["success_rate"],
        "ci95": planner["ci95"],
        "eval_episodes": planner["episodes"],
        "random_success_rate": rand["success_rate"] if rand else None,
        "train_steps": payload["config"]["train"]["steps"],
        "probe_r2": final_probes(run),  # held-out linear probes at the last probed step
        "collect_seconds": payload.get("collect_seconds"),
        "train_seconds": payload.get("train_seconds"),
        "eval_seconds": payload.get("eval_seconds"),
        "results": str(run / "results.json"),
        "commit": payload.get("provenance", {}).get("commit"),  # a size read back keeps its own
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 2000, 5000, 10000])
    parser.add_argument("--preset", type=Path, default=PRESET, help="config of every size")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "data_scaling")
    parser.add_argument("--workers", type=int, default=None, help="collection worker processes")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.steps=500")
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    progress = not args.quiet

    def config(size: int) -> RunConfig:
        return run_config(args.preset, [*args.overrides, f"data.episodes={size}"])

    largest = args.runs / "data"
    clock = time.perf_counter()
    collect_largest(config(sizes[-1]), largest, args.workers, progress)
    collect_seconds = EpisodeStore(largest).meta["info"].get("collect_seconds")
    result = {
        "command": "python benchmarks/data_scaling.py " + " ".join(sys.argv[1:]),
        "preset": os.path.relpath(args.preset.resolve(), ROOT),
        "overrides": args.overrides,
        "largest_store": str(largest),
        "largest_collect_seconds": collect_seconds,
        "rows": [],
        "load_average_1min": {"start": os.getloadavg()[0]},
        "provenance": provenance(),
    }
    for size in sizes:
        cfg, run = config(size), args.runs / f"episodes_{size}"
        payload = evaluated(run, cfg)
        if payload is None:
            if not is_store(run / "data"):
                run.mkdir(parents=True, exist_ok=True)
                first_episodes(largest, run / "data", cfg.env, cfg.data, progress)
            resume = (run / "config.yaml").exists()  # an interrupted training continues
            payload = run_demo(cfg, run, resume=resume, progress=progress)
        result["rows"].append(row(size, run, payload))
        result["load_average_1min"]["end"] = os.getloadavg()[0]
        result["seconds"] = time.perf_counter() - clock
        atomic_write_json(args.out, result)
        r = result["rows"][-1]
        print(
            f"{size} episodes: success {100 * r['success_rate']:.0f} % "
            f"({100 * r['ci95'][0]:.0f}–{100 * r['ci95'][1]:.0f}) → {args.out}"
        )


if __name__ == "__main__":
    main()
