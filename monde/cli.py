"""`monde <verb>`: parse a config, call the library. Wiring only.

    monde collect  --out DATA                       record episodes with the exploration policy
    monde train    --data DATA --run RUN [--resume] train a world model
                   [--device auto|cpu|cuda]         (under torchrun too: docs/scaling.md)
    monde eval     --model RUN/model [--out JSON]   goal-reaching success vs random actions
    monde demo     [--run RUN]                      collect → train → eval on the built-in default
    monde report   RUN [--out DIR]                  HTML + Markdown report of what a run learned
    monde understand RUN --out JSON                 probes, rollout error, surprise → JSON
    monde data     info|verify|repair|convert|view  inspect, check, mend, import/export datasets
    monde bench    ENV… [--budget quick|full]        collect → train → eval per env; docs table

Every verb takes --config PRESET.yaml and dotted overrides such as `train.steps=500`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

from monde import cli_bench, cli_data, cli_report
from monde.config import RunConfig
from monde.config_io import ConfigError, load_config, to_dict
from monde.io import atomic_write_json, read_json
from monde.runs import RunLockedError, locked_run


def _load(args: argparse.Namespace, saved: Path | None = None) -> RunConfig:
    """The --config preset (or, without one, a run's saved config.yaml), then the overrides."""
    path = args.config
    if path is None and saved is not None and saved.exists():
        print(f"using the run's saved config {saved}")
        path = saved
    return load_config(RunConfig, path, args.overrides)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="YAML preset (configs/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.steps=500")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def cmd_collect(args: argparse.Namespace) -> None:
    from monde.data.collect import collect

    cfg = _load(args)
    stats = collect(cfg.env, cfg.data, args.out, progress=not args.quiet, resume=args.resume)
    print(f"collected {cfg.data.episodes} episodes into {args.out}; coverage {stats}")


def cmd_train(args: argparse.Namespace) -> None:
    from monde.train.distributed import is_main_process, restarted_by_torchrun
    from monde.train.run import train_run

    cfg = _load(args, Path(args.run) / "config.yaml" if args.resume else None)
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
    )
    if is_main_process():
        print({k: round(v, 4) for k, v in metrics.items()})
        print(f"model saved to {Path(args.run) / 'model'}")


def _evaluate(cfg: RunConfig, model_dir: Path, out: Path | None, progress: bool, extra: dict):
    from monde.eval.goal_reaching import evaluate_goal_reaching, time_single_plan
    from monde.eval.novelty import scene_novelty
    from monde.models.checkpoint import load_model
    from monde.precision import results_precision
    from monde.report import provenance, success_table
    from monde.train.distributed import resolve_device

    model = load_model(model_dir)
    waypoints = None
    if cfg.plan.waypoints:
        from monde.eval.memory import build_waypoint_graph

        data_dir = Path(model_dir).parent / "data"
        waypoints = build_waypoint_graph(model, data_dir, cfg.plan.waypoints, cfg.data.val_fraction)
        print(f"waypoint graph: {len(waypoints)} latents of {data_dir}")
    results = evaluate_goal_reaching(
        model,
        cfg.env,
        cfg.plan,
        cfg.eval,
        progress=progress,
        collection_policy=cfg.data.policy,
        waypoints=waypoints,
    )
    timing = time_single_plan(model, cfg.env, cfg.plan, waypoints=waypoints)
    print(success_table(results))
    at_start = results["planner"].get("solved_at_start", 0)
    if at_start:
        print(f"{at_start} episodes were at their goal before any action: left out of the rates")
    print(
        f"one replanning call, 1 episode, {cfg.plan.solver} "
        f"{cfg.plan.samples}×{cfg.plan.iterations}, "
        f"horizon {cfg.plan.horizon}: {timing['median_ms']:.1f} ms median, "
        f"{timing['p95_ms']:.1f} ms p95"
    )
    # read from the store the model was trained on, never rebuilt from the config
    eval_seeds = range(cfg.eval.seed, cfg.eval.seed + cfg.eval.episodes)
    novelty = scene_novelty(model_dir, cfg.env, eval_seeds)
    if novelty is not None and cfg.env.random_wall:
        print(f"evaluation scenes vs the training scenes: {novelty}")
    if out is not None:
        payload = {
            "scene_novelty": novelty,
            "env": cfg.env.name,
            "random_wall": cfg.env.random_wall,
            "results": results,
            "single_episode_plan": timing,
            **extra,
            "precision": results_precision(  # what `auto` chose on this machine, and why
                cfg.train.precision,
                resolve_device(cfg.train.device),
                cfg.plan.precision,
                next(model.parameters()).device,
                Path(model_dir).parent,
            ),
            "config": to_dict(cfg),
            "provenance": provenance(),
        }
        atomic_write_json(out, payload)
        print(f"wrote {out}")
    return results


def cmd_eval(args: argparse.Namespace) -> None:
    from monde.models.checkpoint import model_folder

    model_folder(args.model)  # RUN given for RUN/model: say so before reading any config
    cfg = _load(args, Path(args.model).parent / "config.yaml")
    _evaluate(cfg, args.model, args.out, not args.quiet, {})


def cmd_demo(args: argparse.Namespace) -> None:
    with locked_run(args.run):  # collect, train and eval write RUN: one process at a time
        _demo(args)


def _demo(args: argparse.Namespace) -> None:
    from monde.data.collect import collect
    from monde.data.store import EpisodeStore
    from monde.runs import recorded_train_seconds
    from monde.train.run import train_run, trains_alike

    saved = Path(args.run) / "config.yaml"
    cfg = _load(args, saved if args.resume else None)
    if args.resume and args.config is not None and saved.exists():
        trained = load_config(RunConfig, saved, [])
        if trains_alike(cfg, trained):  # keep the record of how it trained (threads, device)
            # ...but keep as many checkpoints as asked now (monde bench --success-curve)
            keep = cfg.train.keep_checkpoints
            cfg.train, cfg.model = replace(trained.train, keep_checkpoints=keep), trained.model
    run = Path(args.run)
    data_dir = run / "data"
    out = args.out if args.out is not None else run / "results.json"
    clock = time.perf_counter()
    if not (data_dir / "zarr.json").exists():
        collect(cfg.env, cfg.data, data_dir, progress=not args.quiet)
    elif args.resume and EpisodeStore(data_dir).meta.get("complete") is False:
        collect(cfg.env, cfg.data, data_dir, progress=not args.quiet, resume=True)  # interrupted
    else:
        store = EpisodeStore(data_dir)
        info = store.meta["info"]
        same = info.get("env_config") == to_dict(cfg.env) and info.get("data_config") == to_dict(
            cfg.data
        )
        if not same or len(store) != cfg.data.episodes:
            raise ValueError(
                f"{data_dir} holds a dataset collected with other settings or is incomplete; "
                "delete it, use another --run, or continue an interrupted collection with --resume"
            )
        print(f"reusing the {cfg.data.episodes} episodes in {data_dir}")
    stored = EpisodeStore(data_dir).meta["info"]  # a reused store keeps its collection time
    collect_s = stored.get("collect_seconds", time.perf_counter() - clock)
    coverage = stored.get("coverage", {})
    print(f"data: {cfg.data.episodes} episodes, coverage {coverage}")
    clock = time.perf_counter()
    _, metrics = train_run(cfg, data_dir, run, resume=args.resume, progress=not args.quiet)
    train_s = time.perf_counter() - clock
    # the training loop's seconds over every process of the run, as metrics.jsonl records them
    train_s = recorded_train_seconds(run, cfg.train.batch_size) or train_s
    clock = time.perf_counter()
    extra = {
        "collect_seconds": collect_s,
        "train_seconds": train_s,
        "data_coverage": coverage,
        "final_train_metrics": metrics,
    }
    _evaluate(cfg, run / "model", out, not args.quiet, extra)
    eval_s = time.perf_counter() - clock
    payload = read_json(out)
    payload["eval_seconds"] = eval_s
    atomic_write_json(out, payload)
    print(f"collect {collect_s:.0f} s, train {train_s:.0f} s, eval {eval_s:.0f} s")


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
        help="continue an interrupted collection in --out (same config) where it stopped",
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
    p = verbs.add_parser("eval", help="goal-reaching evaluation")
    _common(p)
    p.add_argument("--model", type=Path, required=True, help="model folder (RUN/model)")
    p.add_argument("--out", type=Path, default=None, help="results JSON to write")
    p.set_defaults(func=cmd_eval)
    p = verbs.add_parser("demo", help="collect → train → eval on the built-in default")
    _common(p)
    p.add_argument("--run", type=Path, default=Path("runs/demo"), help="run folder")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default RUN/results.json)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.set_defaults(func=cmd_demo)
    cli_report.register(verbs)
    cli_data.register(verbs)
    cli_bench.register(verbs)
    return parser


def main(argv: list[str] | None = None) -> None:
    try:
        try:
            _main(argv)
        finally:
            sys.stdout.flush()  # a reader that went away (`monde … | head`) shows here
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
