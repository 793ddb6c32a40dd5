"""`monde bench ENV… --budget quick|full|large`: the benchmark table, one command (wiring only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from monde.bench import BUDGETS, INPUTS, PROTOCOLS, run_bench, write_doc


def cmd_bench(args: argparse.Namespace) -> None:
    if not args.render_only and not args.envs:
        raise SystemExit("monde bench: name at least one ENV (or pass --render-only)")
    if args.render_only:
        write_doc(args.results, args.doc)
        print(f"wrote {args.doc}")
        return
    run_bench(
        args.envs,
        budget=args.budget,
        protocol=args.protocol,
        presets=args.presets,
        runs=args.runs,
        results=args.results,
        overrides=args.overrides,
        progress=not args.quiet,
        inputs=args.inputs,
        resume=args.resume,
        success_curve_episodes=args.success_curve,
        train_seeds=args.train_seeds,
    )
    write_doc(args.results, args.doc)
    print(f"wrote {args.doc}")


def register(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser("bench", help="collect → train → eval per environment; results table")
    p.add_argument(
        "envs",
        nargs="*",
        metavar="ENV",
        help="a registered env with presets in configs/bench/ (also spelled pusht, pointmaze, "
        "tworoom), or the name of any other preset there",
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite the Markdown table from the results JSONs already there",
    )
    p.add_argument(
        "--budget",
        choices=BUDGETS,
        default="quick",
        help="quick: minutes; full: about an hour per row on 2 cores; large: longer, only where "
        "an env has a preset for it (push_t)",
    )
    p.add_argument("--protocol", choices=PROTOCOLS, default="monde")
    p.add_argument(
        "--inputs",
        nargs="+",
        choices=INPUTS,
        default=["rgb"],
        help="what the encoder sees; several give one row each (depth: MuJoCo envs only)",
    )
    p.add_argument("--presets", type=Path, default=Path("configs/bench"))
    p.add_argument("--runs", type=Path, default=Path("runs/bench"))
    p.add_argument(
        "--train-seeds",
        type=int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="train and evaluate each row once per training seed on the same episodes (default: "
        "the preset's seed only); the table pools them and shows the spread between seeds",
    )
    p.add_argument("--results", type=Path, default=Path("benchmarks/results/bench"))
    p.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"))
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue each run from its last checkpoint (its data and config.yaml are reused)",
    )
    p.add_argument(
        "--success-curve",
        type=int,
        default=0,
        metavar="EPISODES",
        help="keep every checkpoint and evaluate each on EPISODES episodes (success by "
        "training step, drawn beside the training curves; Monde protocol only)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        help="a dotted override for every env, e.g. --set train.steps=100",
    )
    p.set_defaults(func=cmd_bench)
