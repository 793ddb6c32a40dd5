"""`monde report RUN_DIR` and `monde understand RUN_DIR`: wiring only.

monde report RUN_DIR [--out DIR]       HTML + Markdown report of a run (RUN_DIR/report)
monde understand RUN_DIR --out JSON    probes, rollout error and surprise as JSON
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path


def _run_folder(run: Path) -> Path:
    """RUN; a model folder (RUN/model) given instead is refused with a hint."""
    if not (run / "config.yaml").exists() and (run / "config.json").exists():
        raise FileNotFoundError(
            f"{run} is a model folder; did you mean its run folder {run.parent}?"
        )
    return run


def _options(args: argparse.Namespace):
    from monde.eval.understanding import UnderstandingConfig
    from monde.report.build import ReportOptions

    und = UnderstandingConfig(horizon=args.horizon, surprise_pairs=args.pairs)
    if args.quick:
        und = replace(und, mlp_steps=200, surprise_pairs=min(args.pairs, 20))
    opts = ReportOptions(train_episodes=args.train_episodes, understanding=und)
    if args.quick:
        opts = replace(opts, decoder_steps=150, decoder_frames=4000, gif_episodes=1)
    return opts


def cmd_report(args: argparse.Namespace) -> None:
    from monde.report.build import build_report

    _run_folder(args.run)
    opts = _options(args)
    if args.decoder_steps is not None:
        opts = replace(opts, decoder_steps=args.decoder_steps)
    if args.planned is not None:
        opts = replace(opts, planned_episodes=args.planned)
    paths = build_report(args.run, args.out, opts, args.results, args.data, not args.quiet)
    print(f"wrote {paths['html']}, {paths['markdown']} and {paths['understanding']}")


def cmd_understand(args: argparse.Namespace) -> None:
    from monde.io import atomic_write_json
    from monde.pipeline import understand
    from monde.report import provenance

    opts = _options(args)
    run = _run_folder(args.run)
    results = understand(run, opts.understanding, args.data, opts.train_episodes, not args.quiet)
    results["run"] = str(args.run)
    results["provenance"] = provenance()
    atomic_write_json(args.out, results)
    print(f"wrote {args.out}")


def _shared(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="run folder (config.yaml, model/, metrics.jsonl)")
    p.add_argument("--data", type=Path, default=None, help="episode store (default RUN/data)")
    p.add_argument("--train-episodes", type=int, default=None, help="cap on fitting episodes")
    p.add_argument("--horizon", type=int, default=10, help="model steps of open-loop rollouts")
    p.add_argument("--pairs", type=int, default=100, help="surprise clip pairs per event kind")
    p.add_argument("--quick", action="store_true", help="tiny budgets, to check the wiring")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def register(verbs: argparse._SubParsersAction) -> None:
    """Add the `report` and `understand` verbs to monde's CLI."""
    p = verbs.add_parser("report", help="HTML + Markdown report of a run")
    _shared(p)
    p.add_argument("--out", type=Path, default=None, help="report folder (default RUN/report)")
    p.add_argument("--results", type=Path, default=None, help="goal-reaching results JSON")
    p.add_argument(
        "--decoder-steps", type=int, default=None,
        help="visualisation decoder training steps (default 1000; --quick: 150)",
    )  # fmt: skip
    p.add_argument("--planned", type=int, default=None, help="planned episodes to show")
    p.set_defaults(func=cmd_report)
    p = verbs.add_parser("understand", help="probes, rollout error and surprise → JSON")
    _shared(p)
    p.add_argument("--out", type=Path, required=True, help="JSON to write")
    p.set_defaults(func=cmd_understand)
