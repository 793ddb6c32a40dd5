"""The pipeline as a library: collect → train → evaluate → results, each a function returning data.

`monde demo`, `monde eval` and `monde bench` (and any script) call these; the command line only
parses its arguments. The summary lines a run prints (data, waypoints, success table, timing)
are printed here, so every caller shows the same.

    cfg = demo_config(Path("configs/two_room.yaml"), [], Path("runs/demo"), resume=False)
    payload = run_demo(cfg, Path("runs/demo"))          # → runs/demo/results.json
    payload = evaluate(cfg, Path("runs/demo/model"))    # the results JSON's fields, nothing written

Heavy modules (torch, the environments) are imported inside the functions, so that importing
this module (as the command line's parser does) stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from monde.config import ModelConfig, RunConfig
from monde.config_io import load_config, to_dict
from monde.io import atomic_write_json
from monde.runs import locked_run

if TYPE_CHECKING:
    from monde.eval.understanding import UnderstandingConfig


def run_config(
    config: Path | None, overrides: Sequence[str], saved: Path | None = None
) -> RunConfig:
    """The `config` preset (or, without one, a run's `saved` config.yaml), then the overrides."""
    path = config
    if path is None and saved is not None and saved.exists():
        print(f"using the run's saved config {saved}")
        path = saved
    return load_config(RunConfig, path, list(overrides))


def demo_config(
    config: Path | None, overrides: Sequence[str], run_dir: Path, resume: bool
) -> RunConfig:
    """The config a demo run of `run_dir` uses.

    Resumed, it is the run's saved config.yaml unless a `config` preset is given; a preset that
    trains like the saved config keeps the record of how the run trained (threads, device, the
    model), but as many checkpoints as asked now (`monde bench --success-curve`).
    """
    from monde.train.run import trains_alike

    saved = Path(run_dir) / "config.yaml"
    cfg = run_config(config, overrides, saved if resume else None)
    if resume and config is not None and saved.exists():
        trained = load_config(RunConfig, saved, [])
        if trains_alike(cfg, trained):
            keep = cfg.train.keep_checkpoints
            cfg.train, cfg.model = replace(trained.train, keep_checkpoints=keep), trained.model
    return cfg


def demo_data(
    cfg: RunConfig, data_dir: Path, resume: bool = False, progress: bool = True
) -> tuple[float, dict]:
    """Collect `cfg`'s episodes into `data_dir`, continue an interrupted collection (`resume`)
    or reuse a store collected with the same settings → (collection seconds, coverage).

    A reused store keeps the collection time and coverage it recorded. ValueError when
    `data_dir` holds a store of other settings or an incomplete one (without `resume`).
    """
    from monde.data.collect import collect
    from monde.data.collection_settings import collection_differences
    from monde.data.store import EpisodeStore

    clock = time.perf_counter()
    if not (data_dir / "zarr.json").exists():
        collect(cfg.env, cfg.data, data_dir, progress=progress)
    elif resume and EpisodeStore(data_dir).meta.get("complete") is False:
        collect(cfg.env, cfg.data, data_dir, progress=progress, resume=True)  # interrupted
    else:
        store = EpisodeStore(data_dir)
        differ = collection_differences(store.meta["info"], cfg.env, cfg.data)
        if differ or len(store) != cfg.data.episodes:
            why = "; ".join(differ) or f"{len(store)} of {cfg.data.episodes} episodes"
            raise ValueError(
                f"{data_dir} holds a dataset collected with other settings or is incomplete "
                f"({why}); delete it, use another --run, or continue an interrupted collection "
                "with --resume"
            )
        print(f"reusing the {cfg.data.episodes} episodes in {data_dir}")
    stored = EpisodeStore(data_dir).meta["info"]  # a reused store keeps its collection time
    collect_s = stored.get("collect_seconds", time.perf_counter() - clock)
    coverage = stored.get("coverage", {})
    print(f"data: {cfg.data.episodes} episodes, coverage {coverage}")
    return collect_s, coverage


def waypoint_store(model_dir: Path) -> Path:
    """The episode store the model was trained on (RUN/training_data.json, else RUN/data), where
    the waypoint graph takes its latents; RUN/data when neither exists (the graph then says so)."""
    from monde.data.lineage import training_data_of

    found = training_data_of(model_dir)
    return found[0] if found is not None else Path(model_dir).parent / "data"


def model_config_note(cfg: RunConfig, built: ModelConfig) -> dict:
    """{"model_config_differs": {field: {"config": …, "model": …}}} for the fields of the
    --config's model section that the evaluated model (its own config.json) does not share;
    {} when they agree. The results record the model's: it is what was evaluated."""
    asked, actual = to_dict(cfg.model), to_dict(built)
    differs = {
        k: {"config": asked.get(k), "model": actual.get(k)}
        for k in sorted(set(asked) | set(actual))
        if asked.get(k) != actual.get(k) and k != "proprio_indices"  # filled in by training
    }
    return {"model_config_differs": differs} if differs else {}


def evaluate(
    cfg: RunConfig,
    model_dir: Path,
    out: Path | None = None,
    progress: bool = True,
    extra: dict | None = None,
) -> dict:
    """Goal-reaching success of the model in `model_dir` (RUN/model) → the results JSON's fields,
    computed on `train.threads` torch threads as training and the demo are (the caller's count
    restored after).

    Prints the success table and the timing of one replanning call; writes the payload to `out`
    when given. `extra` fields (the demo's stage times) go in after the single-plan timing.
    """
    from monde.precision import torch_threads

    with torch_threads(cfg.train.threads):
        return _evaluate(cfg, model_dir, out, progress, extra)


def _evaluate(
    cfg: RunConfig, model_dir: Path, out: Path | None, progress: bool, extra: dict | None
) -> dict:
    from monde.eval.goal_reaching import evaluate_goal_reaching, time_single_plan
    from monde.eval.novelty import scene_novelty
    from monde.models.checkpoint import load_model, saved_model_record
    from monde.precision import results_precision
    from monde.report import provenance, success_table
    from monde.train.distributed import resolve_device

    model = load_model(model_dir)
    waypoints, cost_basis, memory = None, None, {}
    if cfg.plan.waypoints or cfg.plan.drop_action_variance:
        from monde.eval.memory import planner_memory

        data_dir = waypoint_store(Path(model_dir))
        waypoints, cost_basis, memory = planner_memory(
            model, data_dir, cfg.plan, cfg.data.val_fraction
        )
        if waypoints is not None:
            print(f"waypoint graph: {len(waypoints)} latents of {data_dir}")
        if cost_basis is not None:
            basis = memory["cost_basis"]
            print(
                f"planning cost: {basis['kept']} of {model.latent_dim} latent directions; the "
                f"{basis['dropped']} left out hold {basis['dropped_variance']:.0%} of what the "
                f"action moves ({basis['latents']} latents of {data_dir})"
            )
    results = evaluate_goal_reaching(
        model,
        cfg.env,
        cfg.plan,
        cfg.eval,
        progress=progress,
        collection_policy=cfg.data.policy,
        waypoints=waypoints,
        cost_basis=cost_basis,
    )
    timing = time_single_plan(model, cfg.env, cfg.plan, waypoints=waypoints, cost_basis=cost_basis)
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
    if novelty is not None:
        print(f"evaluation scenes vs the training scenes: {novelty}")
    payload = {
        "scene_novelty": novelty,
        "env": cfg.env.name,
        "results": results,
        "single_episode_plan": timing,
        **({"planner_memory": memory} if memory else {}),
        **(extra or {}),
        "precision": results_precision(  # what `auto` chose on this machine, and why
            cfg.train.precision,
            resolve_device(cfg.train.device),
            cfg.plan.precision,
            next(model.parameters()).device,
            Path(model_dir).parent,
        ),
        "model": saved_model_record(model_dir),  # which weights: a checkpoint names its step
        "config": to_dict(replace(cfg, model=model.cfg)),  # the model evaluated, as it was built
        **model_config_note(cfg, model.cfg),
        "provenance": provenance(),
    }
    if out is not None:
        atomic_write_json(out, payload)
        print(f"wrote {out}")
    return payload


def _complete_store(data_dir: Path) -> bool:
    """Whether `data_dir` holds an episode store whose collection finished."""
    from monde.data.store import EpisodeStore

    if not (data_dir / "zarr.json").exists():
        return False
    return EpisodeStore(data_dir).meta.get("complete") is not False


BASE_STAGE = "base"
"""RUN/base: the first training stage of a run that post-trains (post_train.steps > 0)"""
POST_DATA = "post_data"
"""the post-training episodes' store, beside the training store (shared by its seed rows)"""


def post_train_config(cfg: RunConfig, base_model: Path) -> RunConfig:
    """The post-training stage's config: `cfg` training `post_train.steps` at `post_train.lr`
    from `base_model` (train.model_init, its encoder frozen or not), on episodes of
    `post_train.policy`; it has no post-training stage of its own."""
    from monde.config import PostTrainConfig

    post = cfg.post_train
    train = replace(
        cfg.train,
        steps=post.steps,
        lr=post.lr,
        encoder_init="",
        model_init=str(base_model),
        freeze_encoder=post.freeze_encoder,
    )
    data = replace(cfg.data, policy=post.policy) if post.policy else cfg.data
    return replace(cfg, data=data, train=train, post_train=PostTrainConfig())


def _stage_data(
    cfg: RunConfig, data_dir: Path, run: Path, resume: bool, progress: bool
) -> tuple[float, dict]:
    """demo_data for one stage: a store inside `run` (or one already complete) directly, one
    still to collect in another folder under that folder's writer's lock."""
    if data_dir.parent.resolve() == run.resolve() or _complete_store(data_dir):
        return demo_data(cfg, data_dir, resume, progress)
    with locked_run(data_dir.parent):
        return demo_data(cfg, data_dir, resume, progress)


def run_demo(
    cfg: RunConfig,
    run_dir: Path,
    out: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    data_dir: Path | None = None,
) -> dict:
    """Collect (or reuse) RUN/data, train RUN/model, evaluate it → the results JSON's fields,
    written to `out` (default RUN/results.json) with each stage's seconds. With
    `post_train.steps` the first training stage runs in RUN/base, its model is post-trained
    into RUN/model on the episodes of `post_train.policy` (collected into `post_data` beside
    the training store), and collection and training seconds add both stages'.

    Holds the run's lock throughout (RunLockedError when another process writes `run_dir`).
    `resume` continues an interrupted collection or training; a finished run is evaluated again.
    `data_dir` (default RUN/data) may be another run's data, e.g. the same episodes trained
    with another seed: where it still has to be collected, that is done under the lock of the
    folder that holds it.
    """
    from monde.envs.registry import check_symmetry_augment, env_entry
    from monde.precision import torch_threads
    from monde.runs import recorded_train_seconds, training_dirs
    from monde.train.run import train_run

    check_symmetry_augment(cfg.env.name, cfg.train.symmetry_augment, cfg.model.proprio)
    run = Path(run_dir)
    out = Path(out) if out is not None else run / "results.json"
    with locked_run(run):  # collect, train and eval write RUN: one process at a time
        data_dir = Path(data_dir) if data_dir is not None else run / "data"
        collect_s, coverage = _stage_data(cfg, data_dir, run, resume, progress)
        post = cfg.post_train.steps > 0
        first = run / BASE_STAGE if post else run  # where the first stage trains
        # train and evaluate on train.threads, as a demo always did (evaluation ran on the
        # count training had set); the caller's count is restored after
        with torch_threads(cfg.train.threads):
            clock = time.perf_counter()
            position = env_entry(cfg.env.name).position  # their low probe R² warns
            _, metrics = train_run(
                cfg, data_dir, first, resume=resume, progress=progress, position=position
            )
            train_s = time.perf_counter() - clock
            folders = training_dirs(first, cfg.train.ensemble)
            if post:  # the first stage's model post-trained into RUN on the post episodes
                post_cfg = post_train_config(cfg, first / "model")
                post_dir = data_dir.parent / POST_DATA if cfg.post_train.policy else data_dir
                seconds, _ = _stage_data(post_cfg, post_dir, run, resume, progress)
                collect_s += seconds
                clock = time.perf_counter()
                _, metrics = train_run(  # RUN/config.yaml: the run's config, both stages
                    post_cfg, post_dir, run, resume, progress, position=position, recorded=cfg
                )
                train_s += time.perf_counter() - clock
                folders.append(run)
            # the training loop's seconds over every process of the run, as metrics.jsonl records
            # (an ensemble's: its members' summed; a post-trained run's: both stages')
            recorded = [recorded_train_seconds(f, cfg.train.batch_size) for f in folders]
            train_s = sum(recorded) if None not in recorded else train_s
            clock = time.perf_counter()
            extra = {
                "collect_seconds": collect_s,
                "train_seconds": train_s,
                "data_coverage": coverage,
                "final_train_metrics": metrics,
            }
            payload = evaluate(cfg, run / "model", None, progress, extra)
            eval_s = time.perf_counter() - clock
            payload["eval_seconds"] = eval_s
            atomic_write_json(out, payload)
            print(f"wrote {out}")
            print(f"collect {collect_s:.0f} s, train {train_s:.0f} s, eval {eval_s:.0f} s")
    return payload


def understand(
    run_dir: Path,
    understanding: UnderstandingConfig | None = None,
    data_dir: Path | None = None,
    train_cap: int | None = None,
    progress: bool = True,
) -> dict:
    """What a trained run learned: probes, open-loop rollout error and surprise (where the env's
    registry entry offers its clips).

    The run's model, and its episodes split as in training (`data_dir`, default RUN/data; at
    most `train_cap` fitting episodes) → the results dict of
    `monde understand` (monde.eval.understanding); the model stays frozen.
    """
    from monde.envs.registry import build_config, env_entry
    from monde.eval.understanding import evaluate_understanding
    from monde.report.build import load_run

    run = load_run(run_dir, data_dir, train_cap, progress)
    env_cfg, name = None, run.cfg.env.name
    entry = env_entry(name)
    if entry.surprise:  # the env offers surprise clips: built from its own config, no env made
        env_cfg = build_config(entry.config_cls, run.cfg.env.env_kwargs("eval"))
    results, _ = evaluate_understanding(
        run.model, run.train, run.test, run.state_names, env_cfg, understanding, progress, name
    )
    return results
