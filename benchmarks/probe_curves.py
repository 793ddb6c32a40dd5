"""Held-out probe R² by training step of several runs, side by side: compare training variants.

Reads each run's `metrics.jsonl` (the `probe_r2/<state>` entries that `train.probe_every` logs)
and the training settings of its `config.yaml`, with its planning success where RUN/results.json
exists and, for a run started from a pretrained encoder (train.encoder_init), how that encoder
was pretrained and what its probes read at the end; and writes them into one JSON:

    python benchmarks/probe_curves.py runs/exp2/no_idm runs/exp2/time_sim_4 \
        --out benchmarks/results/experiments/push_t_quick_training_variants.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from monde.config import RunConfig
from monde.config_io import load_config, to_dict
from monde.io import atomic_write_json, read_json
from monde.report import provenance

PREFIX = "probe_r2/"


def probe_curve(run: Path) -> list[dict]:
    """[{step, <state>: R²}] from run/metrics.jsonl, one entry per probed step."""
    path = run / "metrics.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no metrics.jsonl (is {run} a training run folder?)")
    curve = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not JSON ({err})") from err
        probes = {k[len(PREFIX) :]: v for k, v in row.items() if k.startswith(PREFIX)}
        if probes and "step" in row:
            curve.append({"step": row["step"], **probes})
    return curve


def pretrained_from(encoder: Path) -> dict:
    """The pretrain section and final probes of the `monde pretrain` run that wrote `encoder`
    (RUN/encoder), as far as they are still on disk."""
    record: dict = {"encoder": str(encoder)}
    run = encoder.parent
    if (run / "config.yaml").exists():
        record["pretrain"] = to_dict(load_config(RunConfig, run / "config.yaml").pretrain)
    if (run / "results.json").exists():
        record["final"] = read_json(run / "results.json")["final"]
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = {}
    names = [run.name for run in args.runs]
    if len(set(names)) < len(names):  # v1/wm and v2/wm: keyed by the paths as given instead
        names = [str(run) for run in args.runs]
    for name, run in zip(names, args.runs, strict=True):
        cfg = load_config(RunConfig, run / "config.yaml")
        runs[name] = {
            "train": to_dict(cfg.train),
            "model": to_dict(cfg.model),
            "probe_curve": probe_curve(run),
        }
        results = run / "results.json"  # `monde demo` / `monde eval --out RUN/results.json`
        if results.exists() and "results" in (payload := read_json(results)):  # not pretrain's
            runs[name]["success"] = payload["results"]["planner"]
        if cfg.train.encoder_init:  # how its encoder was pretrained, and what that kept
            runs[name]["pretrained"] = pretrained_from(Path(cfg.train.encoder_init))
    command = "python benchmarks/probe_curves.py " + " ".join(str(r) for r in args.runs)
    atomic_write_json(
        args.out,
        {"command": f"{command} --out {args.out}", "runs": runs, "provenance": provenance()},
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
