"""`monde bench`: presets → the pipeline per env → results JSON → the Markdown table."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from monde.bench import (
    canonical_env,
    input_overrides,
    machine_of,
    preset,
    render_seeds,
    render_table,
    result_name,
    run_bench,
    seed_groups,
)
from monde.cli import main
from monde.config_io import save_config
from monde.eval.goal_reaching import wilson_interval
from monde.io import atomic_write_json, read_json
from monde.report.build import load_run


@pytest.mark.parametrize("protocol", ["monde", "swm"])
def test_bench_runs_each_env_and_renders_the_table(tiny_cfg, tmp_path, protocol):
    presets, results, doc = tmp_path / "presets", tmp_path / "results", tmp_path / "bench.md"
    presets.mkdir()
    save_config(tiny_cfg, presets / "two_room_quick.yaml")
    small = ["eval.episodes=2", "eval.goal_steps=3", "plan.samples=16", "plan.iterations=2"]
    main(
        ["bench", "two_room", "--presets", str(presets), "--runs", str(tmp_path / "runs")]
        + ["--results", str(results), "--doc", str(doc), "--protocol", protocol, "--quiet"]
        + [arg for override in small for arg in ("--set", override)]
    )
    name = "two_room_quick" + ("_swm" if protocol == "swm" else "") + ".json"
    data = read_json(results / name)
    assert data["bench"]["env"] == "two_room" and data["bench"]["protocol"] == protocol
    assert data["config"]["eval"]["protocol"] == protocol
    planner = data["results"]["planner"]  # episodes at their goal at t = 0 are left out
    assert planner["episodes"] + planner["solved_at_start"] == 2  # --set after the protocol's 50
    assert data["bench"]["wall_seconds"] > 0
    assert data["precision"]["train"]["logged"] == ["fp32"]  # the preset asks for fp32
    assert data["precision"]["plan"]["resolved"] == "fp32"
    assert [r["step"] for r in data["learning_curve"]][-1] == tiny_cfg.train.steps
    name = name.removesuffix(".json").removesuffix("_swm")  # one figure per trained run
    assert (tmp_path / "bench" / f"{name}_training.png").stat().st_size > 1000
    assert f"](bench/{name}_training.png)" in doc.read_text()
    table = doc.read_text()
    assert f"| two_room | rgb | cnn / gru | quick | {protocol} |" in table
    assert render_table(results) in table
    doc.unlink()
    main(["bench", "--render-only", "--results", str(results), "--doc", str(doc)])
    assert doc.read_text() == table  # the same page from the JSONs alone


def test_bench_proprio_row_feeds_the_envs_proprioception(tiny_cfg, tmp_path):
    presets, results, doc = tmp_path / "presets", tmp_path / "results", tmp_path / "bench.md"
    presets.mkdir()
    save_config(tiny_cfg, presets / "two_room_quick.yaml")
    main(
        ["bench", "two_room", "--presets", str(presets), "--runs", str(tmp_path / "runs")]
        + ["--results", str(results), "--doc", str(doc), "--quiet", "--inputs", "rgb+proprio"]
        + ["--set", "eval.episodes=2", "--set", "plan.samples=16", "--set", "plan.iterations=2"]
    )
    data = read_json(results / "two_room_quick_proprio.json")
    assert data["bench"]["inputs"] == "rgb+proprio"
    weights = (tmp_path / "runs/two_room_quick_proprio/model/model.safetensors").read_bytes()
    clock = time.perf_counter()
    main(  # a finished run resumed: nothing more is trained, the evaluation is written again
        ["bench", "two_room", "--presets", str(presets), "--runs", str(tmp_path / "runs")]
        + ["--results", str(results), "--doc", str(doc), "--quiet", "--inputs", "rgb+proprio"]
        + ["--set", "eval.episodes=2", "--set", "plan.samples=16", "--set", "plan.iterations=2"]
        + ["--resume", "--set", "train.threads=2"]  # host-only: the trained record is kept
    )
    resume_seconds = time.perf_counter() - clock
    assert (tmp_path / "runs/two_room_quick_proprio/model/model.safetensors").read_bytes() == (
        weights
    )
    again = read_json(results / "two_room_quick_proprio.json")
    assert again["config"]["train"]["threads"] == 1  # how it trained, not how it was resumed
    assert again["train_seconds"] == data["train_seconds"]  # from metrics.jsonl, not re-timed
    assert again["collect_seconds"] == data["collect_seconds"]  # from the store's info
    total = again["collect_seconds"] + again["train_seconds"] + again["eval_seconds"]
    assert again["bench"]["total_seconds"] == total
    # wall_seconds is this invocation's time (the resume only evaluated), not one carried
    # over or summed with the first run's: it fits in the time the call took. (Not compared
    # with `total`: on 2 cores the resume's fixed costs are ~70 % of it, within jitter.)
    assert 0 < again["bench"]["wall_seconds"] <= resume_seconds
    assert data["config"]["model"]["proprio"] == ["agent_x", "agent_y"]
    assert "| two_room | rgb+proprio | cnn / gru | quick | monde |" in doc.read_text()


def test_bench_success_curve_evaluates_every_checkpoint(tiny_cfg, tmp_path):
    presets, results, doc = tmp_path / "presets", tmp_path / "results", tmp_path / "bench.md"
    presets.mkdir()
    save_config(tiny_cfg, presets / "two_room_quick.yaml")  # checkpoints at steps 2, 4 and 6
    main(
        ["bench", "two_room", "--presets", str(presets), "--runs", str(tmp_path / "runs")]
        + ["--results", str(results), "--doc", str(doc), "--quiet", "--success-curve", "2"]
    )
    data = read_json(results / "two_room_quick.json")
    curve = data["success_curve"]
    assert [r["step"] for r in curve] == [2, 4, 6]  # every checkpoint kept, not the last 2
    assert all(r["episodes"] == 2 and 0 <= r["successes"] <= 2 for r in curve)
    assert all(r["ci95"][0] <= r["success_rate"] <= r["ci95"][1] for r in curve)
    assert data["config"]["train"]["keep_checkpoints"] > 3
    assert data["success_curve_seconds"] > 0
    assert (tmp_path / "bench" / "two_room_quick_training.png").stat().st_size > 1000


def test_bench_success_curve_of_a_resumed_run_keeps_what_is_left(tiny_cfg, tmp_path):
    presets, results, doc = tmp_path / "presets", tmp_path / "results", tmp_path / "bench.md"
    presets.mkdir()
    save_config(tiny_cfg, presets / "two_room_quick.yaml")
    argv = ["bench", "two_room", "--presets", str(presets), "--runs", str(tmp_path / "runs")]
    argv += ["--results", str(results), "--doc", str(doc), "--quiet"]
    main(argv)  # keeps the last 2 checkpoints: steps 4 and 6
    main(argv + ["--resume", "--success-curve", "2"])  # only evaluates
    data = read_json(results / "two_room_quick.json")
    assert [r["step"] for r in data["success_curve"]] == [4, 6]
    assert data["config"]["train"]["keep_checkpoints"] == 100000  # asked now, not as trained


def test_bench_success_curve_of_a_post_trained_run_is_both_stages(tiny_cfg, tmp_path, capsys):
    """The base stage's checkpoints (2, 4, 6), then the post-training's (2 → 8), on the learning
    curve's step count; no warning that checkpoints are missing."""
    presets, results, doc = tmp_path / "presets", tmp_path / "results", tmp_path / "bench.md"
    presets.mkdir()
    tiny_cfg.post_train.steps, tiny_cfg.post_train.policy = 2, "random"
    save_config(tiny_cfg, presets / "two_room_quick.yaml")
    small = ["plan.samples=16", "plan.iterations=2"]
    main(
        ["bench", "two_room", "--presets", str(presets), "--runs", str(tmp_path / "runs")]
        + ["--results", str(results), "--doc", str(doc), "--quiet", "--success-curve", "1"]
        + [arg for override in small for arg in ("--set", override)]
    )
    curve = read_json(results / "two_room_quick.json")["success_curve"]
    assert [(r["step"], r.get("stage")) for r in curve] == [
        (2, None),
        (4, None),
        (6, None),
        (8, "post_train"),
    ]
    assert "checkpoints are kept" not in capsys.readouterr().out


def test_bench_success_curve_refuses_what_it_cannot_draw(tiny_cfg, tmp_path):
    presets = tmp_path / "presets"
    presets.mkdir()
    save_config(tiny_cfg, presets / "two_room_quick.yaml")
    argv = ["bench", "two_room", "--presets", str(presets), "--runs", str(tmp_path / "runs")]
    with pytest.raises(SystemExit, match="--protocol monde"):
        main(argv + ["--success-curve", "2", "--protocol", "swm"])
    with pytest.raises(SystemExit, match="checkpoint_every"):  # before any collection
        main(argv + ["--success-curve", "2", "--set", "train.checkpoint_every=0"])
    assert not (tmp_path / "runs").exists()


def test_training_curves_draw_a_success_panel():
    import io

    from PIL import Image

    from monde.report.plots import training_curves

    rows = [{"step": s, "loss": 1.0 / s, "probe_r2/x": 0.5} for s in (1, 2, 3)]
    point = {"step": 3, "episodes": 4, "successes": 1, "success_rate": 0.25, "ci95": [0.05, 0.7]}
    two = Image.open(io.BytesIO(training_curves(rows)))
    three = Image.open(io.BytesIO(training_curves(rows, [point])))  # one checkpoint is enough
    assert three.width > 1.4 * two.width and three.height == two.height


def test_success_curve_names_a_run_without_checkpoints(tiny_cfg, tmp_path):
    from monde.eval.success_curve import success_curve

    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        success_curve(tmp_path, tiny_cfg, episodes=2)
    with pytest.raises(ValueError, match="episodes"):
        success_curve(tmp_path, tiny_cfg, episodes=0)


def test_input_sets_become_overrides_and_names():
    assert input_overrides("two_room", "rgb") == []
    assert input_overrides("point_maze", "rgb+proprio+depth") == [
        "model.proprio=[x,y,vx,vy]",
        "env.options.depth=true",
        "model.in_channels=4",
    ]
    assert result_name("reacher", "full", "swm", "rgb+proprio+depth") == (
        "reacher_full_proprio_depth_swm.json"
    )
    assert result_name("push_t", "full", "swm", "rgb", train_seed=2) == (
        "push_t_full_train_seed_2_swm.json"
    )
    with pytest.raises(ValueError, match="renders no depth"):
        input_overrides("two_room", "rgb+depth")


def test_bench_names_a_missing_preset(tmp_path):
    with pytest.raises(FileNotFoundError, match="reacher_full.yaml"):
        preset(tmp_path, "reacher", "full")
    with pytest.raises(ValueError, match="known"):
        preset(tmp_path, "mars", "quick")
    with pytest.raises(FileNotFoundError, match="push_t_full.yaml"):
        preset(tmp_path, "pusht", "full")  # the spelling of gym-pusht and LeWM


def test_env_aliases_name_the_registered_envs():
    assert [canonical_env(e) for e in ("pusht", "PointMaze", "tworoom", "reacher")] == [
        "push_t",
        "point_maze",
        "two_room",
        "reacher",
    ]


def test_bench_trains_each_seed_on_the_preset_rows_episodes_and_pools_them(tiny_cfg, tmp_path):
    presets, results, doc = tmp_path / "presets", tmp_path / "results", tmp_path / "bench.md"
    runs = tmp_path / "runs"
    presets.mkdir()
    save_config(tiny_cfg, presets / "two_room_quick.yaml")  # train.seed 0
    small = ["eval.episodes=3", "plan.samples=16", "plan.iterations=2"]
    main(
        ["bench", "two_room", "--presets", str(presets), "--runs", str(runs), "--quiet"]
        + ["--results", str(results), "--doc", str(doc), "--train-seeds", "0", "3"]
        + [arg for override in small for arg in ("--set", override)]
    )
    preset_row = read_json(results / "two_room_quick.json")  # the preset's seed keeps its names
    seeded = read_json(results / "two_room_quick_train_seed_3.json")
    assert preset_row["config"]["train"]["seed"] == 0 and seeded["config"]["train"]["seed"] == 3
    assert not (runs / "two_room_quick_train_seed_3" / "data").exists()  # the preset row's data
    trained_on = read_json(runs / "two_room_quick_train_seed_3" / "training_data.json")
    assert Path(trained_on["store"]).resolve() == (runs / "two_room_quick" / "data").resolve()
    weights = [
        (runs / run / "model" / "model.safetensors").read_bytes()
        for run in ("two_room_quick", "two_room_quick_train_seed_3")
    ]
    assert weights[0] != weights[1]
    seeded_run = load_run(runs / "two_room_quick_train_seed_3", progress=False)  # its store
    preset_run = load_run(runs / "two_room_quick", progress=False)
    assert len(seeded_run.train) == len(preset_run.train) > 0
    assert (seeded_run.train[0].actions == preset_run.train[0].actions).all()
    # the seeds pooled: every seed's evaluation episodes together, and the spread
    wins = [d["results"]["planner"]["successes"] for d in (preset_row, seeded)]
    episodes = [d["results"]["planner"]["episodes"] for d in (preset_row, seeded)]
    assert [row[0] for row in seed_groups(results)["two_room_quick"]] == [0, 3]
    table = doc.read_text()
    assert "## Training seeds" in table and "cnn / gru, train seed 3 |" in table
    pooled = f"{sum(wins)} / {sum(episodes)} = {100 * sum(wins) / sum(episodes):.1f} %"
    assert "| two_room_quick | 0: " in table and f"| {pooled} (" in table
    with pytest.raises(ValueError, match="train seeds must be one or more integers ≥ 0"):
        run_bench(["two_room"], presets=presets, runs=runs, results=results, train_seeds=[-1])


def test_seed_rows_pool_their_episodes(tmp_path):
    """Exact pooling: 6 / 10 and 3 / 10 → 9 / 20, spread 30 points (one compiled on one thread:
    pooled all the same); the swm row apart, and a seed row trained otherwise named and left
    out."""

    def row(seed: int, wins: int, n: int = 10, steps: int = 100) -> dict:
        planner = {"episodes": n, "successes": wins, "success_rate": wins / n}
        config = {"train": {"seed": seed, "steps": steps}}
        return {"config": config, "results": {"planner": planner}}

    atomic_write_json(tmp_path / "push_t_full.json", row(0, 6))
    written_later = row(1, 3)  # it records a setting added since, at its default: still pooled
    written_later["config"]["plan"] = {"ensemble_cost": "joint", "compile": True}
    written_later["config"]["train"] |= {"threads": 1, "compile": True}  # how fast, not what
    written_later["config"]["data"] = {"workers": 2}  # the same episodes on any number
    atomic_write_json(tmp_path / "push_t_full_train_seed_1.json", written_later)
    atomic_write_json(tmp_path / "push_t_full_train_seed_2_swm.json", row(2, 5))
    atomic_write_json(tmp_path / "reacher_full.json", row(0, 9))  # one seed: no pooled row
    atomic_write_json(tmp_path / "push_t_full_train_seed_3.json", row(3, 10, steps=5))
    lines = render_seeds(tmp_path)
    low, high = wilson_interval(9, 20)
    pooled = f"9 / 20 = 45.0 % ({100 * low:.0f} % – {100 * high:.0f} %)"
    assert f"| push_t_full | 0: 60 %, 1: 30 % | {pooled} | 30 points | 20 |" in lines
    assert "| push_t_full_swm | 2: 50 % | 5 / 10 = 50.0 % (" in "\n".join(lines)
    assert not any(line.startswith("| reacher") for line in lines)
    assert "Not pooled: push_t_full, train seed 3: also differs in train.steps." in lines
    assert render_seeds(tmp_path / "nothing") == []


def test_the_table_names_the_machine_and_training_precision_of_each_row():
    cpu = {"provenance": {"cpu": "AMD EPYC (AVX512-BF16)", "gpu": None}}
    train = {"device": "cpu", "resolved": "bf16", "logged": ["bf16"], "reason": "auto: …"}
    assert machine_of({**cpu, "precision": {"train": train}}) == "AMD EPYC (AVX512-BF16), bf16"
    gpu = {"provenance": {"cpu": "AMD EPYC (AVX512-BF16)", "gpu": "NVIDIA H200"}}
    on_gpu = {**train, "device": "cuda:0", "logged": ["bf16", "fp32"]}  # resumed elsewhere
    assert machine_of({**gpu, "precision": {"train": on_gpu}}) == "NVIDIA H200, bf16 + fp32"
    # rows written before provenance named the CPU: the precision rule's probes, where given
    old = {"reason": "auto: … (oneDNN bf16: yes, AMX-BF16: yes, AVX512-BF16: yes) …"}
    assert machine_of({"provenance": {}, "precision": {"train": {**old, "resolved": "fp32"}}}) == (
        "AMX CPU, fp32"
    )
    assert machine_of({"provenance": {}}) == "–"


def test_the_planner_column_names_a_non_default_ensemble_cost():
    from monde.bench import _planner

    plan = {"solver": "cem", "samples": 300, "iterations": 10, "horizon": 10}
    assert _planner(plan) == "cem 300×10, h 10"
    assert _planner({**plan, "ensemble_cost": "joint"}) == "cem 300×10, h 10"
    assert _planner({**plan, "ensemble_cost": "max"}) == "cem 300×10, h 10, ensemble cost max"


def test_bench_post_trains_each_seed_on_the_preset_rows_post_episodes(tiny_cfg, tmp_path):
    presets, results, doc = tmp_path / "presets", tmp_path / "results", tmp_path / "bench.md"
    runs = tmp_path / "runs"
    presets.mkdir()
    tiny_cfg.post_train.steps, tiny_cfg.post_train.policy = 2, "random"
    save_config(tiny_cfg, presets / "two_room_quick.yaml")
    small = ["eval.episodes=2", "plan.samples=16", "plan.iterations=2"]
    main(
        ["bench", "two_room", "--presets", str(presets), "--runs", str(runs), "--quiet"]
        + ["--results", str(results), "--doc", str(doc), "--train-seeds", "0", "3"]
        + [arg for override in small for arg in ("--set", override)]
    )
    seeded = runs / "two_room_quick_train_seed_3"
    assert (seeded / "base" / "model").exists() and (seeded / "model").exists()
    assert not (seeded / "post_data").exists()  # the preset row's post-training episodes
    trained_on = read_json(seeded / "training_data.json")
    assert Path(trained_on["store"]).resolve() == (runs / "two_room_quick" / "post_data").resolve()
    assert "cnn / gru, post-trained 2 steps on random, train seed 3 |" in doc.read_text()
    curve = read_json(results / "two_room_quick_train_seed_3.json")["learning_curve"]
    base, post = tiny_cfg.train.steps, tiny_cfg.post_train.steps  # both stages, one step count
    assert [(r["step"], r.get("stage")) for r in curve] == [
        *((step, None) for step in range(1, base + 1)),
        *((step, "post_train") for step in range(base + 1, base + post + 1)),
    ]
