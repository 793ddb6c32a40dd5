"""`monde <verb>`: parse a config, call the library. Wiring only.

    monde collect  --out DATA                       record episodes with the exploration policy
    monde train    --data DATA --run RUN [--resume] train a world model
                   [--device auto|cpu|cuda]         (under torchrun too: docs/scaling.md)
    monde pretrain --data DATA --run RUN [--resume] self-supervised encoder from frames alone
    monde eval     --model RUN/model [--out JSON]   goal-reaching success vs random actions
    monde ensemble --out DIR MODEL MODEL…           join trained models into one that plans
    monde demo     [--run RUN]                      collect → train → eval on the built-in default
    monde report   RUN [--out DIR]                  HTML + Markdown report of what a run learned
    monde understand RUN --out JSON                 probes, rollout error, surprise → JSON
    monde data     info|verify|repair|convert|view  inspect, check, mend, import/export datasets
    monde bench    ENV… [--budget quick|full|large]  collect → train → eval per env; docs table
    monde serve    --config configs/serve.yaml      a planning server for robots (docs/serve.md)

Every verb takes --config PRESET.yaml and dotted overrides such as `train.steps=500`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from monde import cli_bench, cli_data, cli_report, cli_serve
from monde.config import RunConfig
from monde.config_io import ConfigError
from monde.runs import RunLockedError


def _load(args: argparse.Namespace, saved: Path | None = None) -> RunConfig:
    """The --config preset (or, without one, a run's saved config.yaml), then the overrides."""
    from monde.pipeline import run_config

    return run_config(args.config, args.overrides, saved)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="YAML preset (configs/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.steps=500")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def cmd_collect(args: argparse.Namespace) -> None:
    from monde.data.collect import collect

    cfg = _load(args)
    stats = collect(
        cfg.env, cfg.data, args.out, not args.quiet, resume=args.resume, workers=args.workers
    )
    print(f"collected {cfg.data.episodes} episodes into {args.out}; coverage {stats}")


def cmd_train(args: argparse.Namespace) -> None:
    from monde.envs.registry import ENV_REGISTRY, check_symmetry_augment
    from monde.train.distributed import is_main_process, restarted_by_torchrun
    from monde.train.run import train_run

    cfg = _load(args, Path(args.run) / "config.yaml" if args.resume else None)
    if cfg.post_train.steps:
        raise ValueError(
            "post_train runs in `monde demo` and `monde bench`, which collect its episodes; "
            "with `monde train`, post-train a model with train.model_init (docs/pretraining.md)"
        )
    if cfg.env.name in ENV_REGISTRY:
        check_symmetry_augment(cfg.env.name, cfg.train.symmetry_augment, cfg.model.proprio)
    if args.device is not None:
        cfg.train.device = args.device
    resume = args.resume or restarted_by_torchrun()  # torchrun --max-restarts: pick up the run
    _, metrics = train_run(
        cfg,
        args.data,
        args.run,
        resume=resume,
        progress=not args.quiet,
        allow_incomplete_data=args.allow_incomplete_data,
        position=ENV_REGISTRY[cfg.env.name].position if cfg.env.name in ENV_REGISTRY else (),
    )
    if is_main_process():
        print({k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)})
        print(f"model saved to {Path(args.run) / 'model'}")


def cmd_ensemble(args: argparse.Namespace) -> None:
    from monde.models.checkpoint import model_folder, save_ensemble

    save_ensemble([model_folder(m) for m in args.models], args.out)
    print(f"ensemble of {len(args.models)} models saved to {args.out}")


def cmd_pretrain(args: argparse.Namespace) -> None:
    from monde.pretrain.loop import ENCODER_DIR, pretrain_run

    cfg = _load(args, Path(args.run) / "config.yaml" if args.resume else None)
    if args.device is not None:
        cfg.pretrain.device = args.device
    results = pretrain_run(cfg, args.data, args.run, resume=args.resume, progress=not args.quiet)
    final = {k: round(v, 4) for k, v in results["final"].items()}
    print(f"{final}; {results['frames_per_s']:.0f} frames/s")
    print(f"encoder saved to {Path(args.run) / ENCODER_DIR} (train.encoder_init)")


def cmd_eval(args: argparse.Namespace) -> None:
    from monde.models.checkpoint import model_folder
    from monde.pipeline import evaluate

    model_folder(args.model)  # RUN given for RUN/model: say so before reading any config
    cfg = _load(args, Path(args.model).parent / "config.yaml")
    evaluate(cfg, args.model, args.out, not args.quiet)


def cmd_demo(args: argparse.Namespace) -> None:
    from monde.pipeline import demo_config, run_demo

    cfg = demo_config(args.config, args.overrides, args.run, args.resume)
    run_demo(
        cfg, args.run, args.out, resume=args.resume, progress=not args.quiet, data_dir=args.data
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monde", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("collect", help="record episodes")
    _common(p)
    p.add_argument("--out", type=Path, required=True, help="new episode store folder")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted collection in --out (same config) where it stopped, or "
        "grow a finished one to a larger data.episodes",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes stepping environments (default data.workers; 0: chosen from the first "
        "batch's stepping and writing times); the episodes are the same whatever the number",
    )
    p.set_defaults(func=cmd_collect)
    p = verbs.add_parser("train", help="train a world model")
    _common(p)
    p.add_argument("--data", type=Path, required=True, help="episode store folder")
    p.add_argument(
        "--run",
        "--run-dir",
        dest="run",
        type=Path,
        required=True,
        help="run folder (metrics, checkpoints); spell it --run-dir under torchrun, whose own "
        "parser takes --run for its --run-path",
    )
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default=None,
        help="overrides train.device; auto = the GPU of this LOCAL_RANK when CUDA is present",
    )
    p.add_argument(
        "--allow-incomplete-data",
        action="store_true",
        help="train on a store marked incomplete (interrupted collection, failed import)",
    )
    p.set_defaults(func=cmd_train)
    p = verbs.add_parser("pretrain", help="pretrain an encoder on frames alone (no actions)")
    _common(p)
    p.add_argument("--data", type=Path, required=True, help="episode store folder")
    p.add_argument("--run", type=Path, required=True, help="run folder (metrics, encoder/)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default=None, help="overrides pretrain.device"
    )
    p.set_defaults(func=cmd_pretrain)
    p = verbs.add_parser("eval", help="goal-reaching evaluation")
    _common(p)
    p.add_argument("--model", type=Path, required=True, help="model folder (RUN/model)")
    p.add_argument("--out", type=Path, default=None, help="results JSON to write")
    p.set_defaults(func=cmd_eval)
    p = verbs.add_parser(
        "ensemble",
        help="join models trained alike (differing in seed) into one ensemble that plans on the "
        "mean of their costs",
    )
    p.add_argument("models", type=Path, nargs="+", help="model folders (RUN/model), two or more")
    p.add_argument("--out", type=Path, required=True, help="ensemble folder to write")
    p.set_defaults(func=cmd_ensemble)
    p = verbs.add_parser("demo", help="collect → train → eval on the built-in default")
    _common(p)
    p.add_argument("--run", type=Path, default=Path("runs/demo"), help="run folder")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default RUN/results.json)")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="episode store to train on (default RUN/data); collected there when missing",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.set_defaults(func=cmd_demo)
    cli_report.register(verbs)
    cli_data.register(verbs)
    cli_bench.register(verbs)
    cli_serve.register(verbs)
    return parser


def main(argv: list[str] | None = None) -> None:
    from monde.signals import TERMINATED_EXIT_CODE, Terminated, end_by_sigterm, stop_on_sigterm

    try:
        try:
            with stop_on_sigterm():  # `kill`, `timeout`, scancel: cleaned up as Ctrl-C is
                _main(argv)
        finally:
            sys.stdout.flush()  # a reader that went away (`monde … | head`) shows here
    except Terminated as stop:
        print(
            f"monde: {stop}; what was written is kept (`--resume` continues a collection or a "
            "training run)",
            file=sys.stderr,
        )
        end_by_sigterm()  # as SIGTERM's default ends a process: a supervisor reads a clean stop
        sys.exit(TERMINATED_EXIT_CODE)  # where the signal could not end it
    except BrokenPipeError:
        # the Python docs' recipe (signal module, "Note on SIGPIPE"): stop quietly, no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


def _main(argv: list[str] | None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ConfigError, ValueError, FileNotFoundError, FileExistsError, RunLockedError) as err:
        sys.exit(f"monde {args.verb}: error: {err}")


if __name__ == "__main__":
    main()
