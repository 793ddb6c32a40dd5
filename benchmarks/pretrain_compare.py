"""EMA target vs SIGReg against collapse: the same short `monde pretrain` run with each, and
what a linear probe reads from the pretrained encoder's tokens (held-out episodes' states).

    python benchmarks/pretrain_compare.py --config configs/pretrain/two_room_random_wall.yaml \
        [--data DATA] [--modes ema,sigreg] [--steps 600] [overrides…]

Without --data the config's episodes are collected into runs/pretrain_data/<config name>
(kept for the next run). Each mode pretrains into runs/pretrain_compare/<config name>-<mode>
and the entry <config name> of benchmarks/results/pretrain.json gets, per mode: the probe R²
by step (step 0 is the randomly initialised encoder, the baseline), read from the mean token
('probe_r2') and from the tokens averaged onto 2 × 2 cells ('probe_r2_grid'), the final loss
parts, frames/s, and the 1-minute load average before and after (a shared machine: others'
work slows the timings, not the probes).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from monde.config import RunConfig
from monde.config_io import load_config, to_dict
from monde.data.collect import collect
from monde.data.store import is_store
from monde.io import atomic_write_json, read_json
from monde.pretrain.loop import pretrain_run
from monde.report import provenance
from monde.runs import METRICS_FILE, read_metrics

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "pretrain.json"


def probe_curve(run_dir: Path) -> list[dict]:
    """The probe rows of a run's metrics.jsonl: step and every probe R²."""
    return [
        {"step": r["step"], **{k: v for k, v in r.items() if k.startswith("probe_r2")}}
        for r in read_metrics(run_dir / METRICS_FILE)
        if any(k.startswith("probe_r2") for k in r)
    ]


def compare(cfg: RunConfig, data: Path, modes: list[str], name: str) -> dict:
    runs = {}
    for mode in modes:
        cfg.pretrain.anti_collapse = mode
        run_dir = ROOT / "runs" / "pretrain_compare" / f"{name}-{mode}"
        before = os.getloadavg()[0]
        start = time.perf_counter()
        results = pretrain_run(cfg, data, run_dir, progress=False)
        runs[mode] = {
            "run": str(run_dir.relative_to(ROOT)),
            "probe_curve": probe_curve(run_dir),
            "final": results["final"],
            "frames_per_s": results["frames_per_s"],
            "compute_frames_per_s": results["compute_frames_per_s"],
            "seconds": time.perf_counter() - start,
            "threads": results["threads"],
            "load_avg_1m_before": before,
            "load_avg_1m_after": os.getloadavg()[0],
        }
        print(mode, {k: round(v, 3) for k, v in results["final"].items()}, flush=True)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="a configs/pretrain preset")
    parser.add_argument("--data", type=Path, default=None, help="episode store (else collected)")
    parser.add_argument("--modes", default="ema,sigreg", help="pretrain.anti_collapse values")
    parser.add_argument("--steps", type=int, default=600, help="pretraining steps per mode")
    parser.add_argument("--out", type=Path, default=OUT, help="results JSON")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. data.episodes=300")
    args = parser.parse_args()
    cfg = load_config(RunConfig, args.config, [f"pretrain.steps={args.steps}", *args.overrides])
    name = args.config.stem
    data = args.data or ROOT / "runs" / "pretrain_data" / name
    if not is_store(data):
        collect(cfg.env, cfg.data, data, progress=False)
    entry = {
        "command": "python " + shlex.join(["benchmarks/pretrain_compare.py", *sys.argv[1:]]),
        "data": str(data),
        "episodes": cfg.data.episodes,
        "model": to_dict(cfg.model),
        "pretrain": to_dict(cfg.pretrain),
        "note": "load averages: a shared 2-core machine; timings vary with others' work",
        "provenance": provenance(),
        "runs": compare(cfg, data, [m for m in args.modes.split(",") if m], name),
    }
    results = read_json(args.out) if args.out.exists() else {}
    results[name] = entry
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
