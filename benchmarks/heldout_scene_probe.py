"""Held-out scenes: does a trained model's latent read a scene it never trained on?

A diagnostic, not a result row. `make heldout-walls` trains on TwoRoom walls from one colour of
a checkerboard over (wall x, door y) and plans on the other. This script asks where that
costs success: it fits probes (linear and MLP) from the run's latents to the state of its
training episodes, then reads two held-out sets with them, the run's own validation episodes
(training scenes, unseen episodes) and episodes collected on the held-out scenes, and rolls
the predictor open-loop on both (`monde understand`'s probe and rollout sections). If the wall
and door probes fall on held-out scenes, the encoder does not generalise to the new walls; if
only the rollout error grows, the predictor does not.

    monde collect --config configs/two_room_random_wall.yaml env.options.scene_split=heldout \
        data.episodes=100 data.seed=5000000 --out runs/heldout_scene_data
    python benchmarks/heldout_scene_probe.py --run runs/heldout_walls [--run OTHER_RUN …] \
        --heldout-data runs/heldout_scene_data --out OUT.json

Each run's success is read from RUN/results.json (`monde demo`'s default --out) where present.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from monde.eval.understanding import UnderstandingConfig, evaluate_understanding
from monde.io import atomic_write_json, read_json
from monde.precision import torch_threads
from monde.report import provenance
from monde.report.build import load_run, open_episodes


def probe_run(run_dir: Path, heldout: list, train_episodes: int, cfg: UnderstandingConfig) -> dict:
    """One run's understanding sections on its validation episodes and on the held-out scenes,
    with its planning success where its results JSON (RUN/results.json) exists."""
    run = load_run(run_dir, train_cap=train_episodes)
    env = run.cfg.env.name
    sets = {"training_scenes": run.test, "heldout_scenes": heldout}
    out: dict = {"train": asdict(run.cfg.train), "train_episodes": len(run.train)}
    results_path = run_dir / "results.json"
    if results_path.exists():
        out["success"] = read_json(results_path)["results"]["planner"]
    for name, episodes in sets.items():
        out[name] = evaluate_understanding(
            run.model, run.train, episodes, run.state_names, None, cfg, True, env
        )[0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run", type=Path, action="append", required=True, help="trained run folder (repeat)"
    )
    parser.add_argument("--heldout-data", type=Path, required=True, help="held-out scene store")
    parser.add_argument("--out", type=Path, required=True, help="JSON to write")
    parser.add_argument("--train-episodes", type=int, default=300, help="probe-fitting episodes")
    parser.add_argument("--horizon", type=int, default=8, help="open-loop model steps")
    parser.add_argument(
        "--probe-kinds", nargs="+", default=["linear", "mlp"], choices=["linear", "mlp"]
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    with torch_threads(args.threads):
        count, get, _ = open_episodes(args.heldout_data)
        heldout = [get(i) for i in range(count)]
        cfg = UnderstandingConfig(horizon=args.horizon, probe_kinds=tuple(args.probe_kinds))
        runs = {
            run_dir.name: {"path": str(run_dir)}
            | probe_run(run_dir, heldout, args.train_episodes, cfg)
            for run_dir in args.run
        }
    atomic_write_json(
        args.out,
        {
            "command": "python benchmarks/heldout_scene_probe.py " + " ".join(argv or sys.argv[1:]),
            "heldout_data": str(args.heldout_data),
            "heldout_episodes": count,
            "runs": runs,
            "provenance": provenance(),
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
