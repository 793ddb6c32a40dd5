"""The whole loop on tiny budgets: collect → train → resume → plan → evaluate."""

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from monde.cli import main
from monde.config_io import save_config
from monde.data.collect import collect
from monde.data.store import EpisodeStore
from monde.eval.goal_reaching import evaluate_goal_reaching
from monde.io import load_safetensors
from monde.models.checkpoint import load_model
from monde.runs import checkpoint_name, recorded_train_seconds, truncate_metrics
from monde.signals import Terminated
from monde.train.run import train_run, trains_alike


@pytest.fixture
def dataset(tiny_cfg, tmp_path):
    collect(tiny_cfg.env, tiny_cfg.data, tmp_path / "data", progress=False)
    return tmp_path / "data"


def _weights(path: Path) -> dict:
    return load_safetensors(path / "model.safetensors")[0]


def test_collect_is_reproducible(tiny_cfg, dataset, tmp_path):
    collect(tiny_cfg.env, tiny_cfg.data, tmp_path / "again", progress=False)
    a, b = EpisodeStore(dataset)[4], EpisodeStore(tmp_path / "again")[4]
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.actions, b.actions)


@pytest.mark.parametrize("predictor", ["mlp", "gru", "transformer"])
def test_train_eval_end_to_end(tiny_cfg, dataset, tmp_path, predictor):
    tiny_cfg.model.predictor = predictor
    model, metrics = train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)
    assert np.isfinite(metrics["loss"])
    assert any(k.startswith("probe_r2/agent") for k in metrics)
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r][:3] == [1, 2, 3]
    loaded = load_model(tmp_path / "run" / "model")
    results = evaluate_goal_reaching(
        loaded, tiny_cfg.env, tiny_cfg.plan, tiny_cfg.eval, progress=False
    )
    assert results["planner"]["episodes"] == 3 and results["random"]["episodes"] == 3
    assert results["planner"]["plan_ms_median"] > 0


def test_same_seed_same_losses(tiny_cfg, dataset, tmp_path):
    runs = []
    for name in ("a", "b"):
        train_run(tiny_cfg, dataset, tmp_path / name, progress=False)
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        runs.append([json.loads(r)["loss"] for r in lines[:3]])
    assert runs[0] == runs[1]


def test_resume_reproduces_uninterrupted_run(tiny_cfg, dataset, tmp_path):
    train_run(tiny_cfg, dataset, tmp_path / "full", progress=False)
    train_run(tiny_cfg, dataset, tmp_path / "crash", progress=False, stop_after=3)
    assert not (tmp_path / "crash" / "model").exists()
    train_run(tiny_cfg, dataset, tmp_path / "crash", resume=True, progress=False)
    full, resumed = _weights(tmp_path / "full" / "model"), _weights(tmp_path / "crash" / "model")
    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    rows = [json.loads(r) for r in (tmp_path / "crash" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 7))
    seconds = [r["train_seconds"] for r in rows]  # carried over the resume, never reset
    assert seconds == sorted(seconds) and seconds[0] > 0
    assert recorded_train_seconds(tmp_path / "crash", tiny_cfg.train.batch_size) == seconds[-1]


def test_ensemble_trains_its_members_resumes_and_plans(tiny_cfg, dataset, tmp_path):
    from monde.config import RunConfig
    from monde.config_io import load_config
    from monde.models.ensemble import WorldModelEnsemble
    from monde.pipeline import evaluate

    train_run(tiny_cfg, dataset, tmp_path / "single", progress=False)  # seed 0, one model
    tiny_cfg.train.ensemble = 2
    run = tmp_path / "run"
    model, _ = train_run(tiny_cfg, dataset, run, progress=False, stop_after=3)  # killed
    assert model is None and not (run / "model").exists()
    model, metrics = train_run(tiny_cfg, dataset, run, resume=True, progress=False)
    assert isinstance(model, WorldModelEnsemble) and len(metrics["members"]) == 2
    for i in range(2):  # each member an ordinary run: its own seed, all its steps logged
        member = load_config(RunConfig, run / "members" / str(i) / "config.yaml")
        assert (member.train.seed, member.train.ensemble) == (i, 1)
        rows = (run / "members" / str(i) / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(r)["step"] for r in rows if "loss" in r] == list(range(1, 7))
    first, second = (_weights(run / "members" / str(i) / "model") for i in range(2))
    assert not all(torch.equal(first[k], second[k]) for k in first)  # seeds apart
    single = _weights(tmp_path / "single" / "model")
    assert all(torch.equal(first[k], single[k]) for k in single)  # member 0 is the seed-0 model
    assert load_config(RunConfig, run / "config.yaml").train.ensemble == 2
    payload = evaluate(tiny_cfg, run / "model", progress=False)
    assert payload["results"]["planner"]["episodes"] == 3
    assert [m["train_step"] for m in payload["model"]["members"]] == [6, 6]
    assert payload["config"]["train"]["ensemble"] == 2
    train_run(tiny_cfg, dataset, run, resume=True, progress=False)  # finished: nothing to train
    again = _weights(run / "model" / "member-1")
    assert all(torch.equal(again[k], second[k]) for k in second)


def test_train_seconds_of_runs_logged_before_the_field(tmp_path):
    """Rows without train_seconds: steps × batch / samples_per_s; a torn line is skipped."""
    rows = [{"step": 5, "samples_per_s": 10.0}, {"step": 10, "samples_per_s": 20.0}]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 1')
    assert recorded_train_seconds(tmp_path, batch_size=4) == 10 * 4 / 20.0
    assert truncate_metrics(path, 5, batch_size=4) == 5 * 4 / 10.0
    assert [json.loads(r)["step"] for r in path.read_text().split("\n") if r] == [5]
    assert recorded_train_seconds(tmp_path / "none", batch_size=4) is None


def test_sigkill_then_resume_gives_same_weights(tiny_cfg, dataset, tmp_path):
    """A real SIGKILL mid-run, then `monde train --resume`, ends where an unbroken run ends."""
    args = ["train.steps=40", "train.checkpoint_every=5", "train.probe_every=0"]
    tiny = tmp_path / "tiny.yaml"
    from monde.config_io import save_config

    save_config(tiny_cfg, tiny)
    base = [
        sys.executable,
        "-m",
        "monde.cli",
        "train",
        "--config",
        str(tiny),
        "--quiet",
        "--data",
        str(dataset),
    ]
    subprocess.run([*base, "--run", str(tmp_path / "full"), *args], check=True)
    proc = subprocess.Popen([*base, "--run", str(tmp_path / "killed"), *args])
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 60
    while time.time() < deadline and not any(
        p.name.startswith("step-") for p in (ckpts.iterdir() if ckpts.exists() else [])
    ):
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "model").exists(), "the run finished before the kill"
    subprocess.run([*base, "--run", str(tmp_path / "killed"), "--resume", *args], check=True)
    full, resumed = _weights(tmp_path / "full" / "model"), _weights(tmp_path / "killed" / "model")
    for key in full:
        assert torch.equal(full[key], resumed[key]), key


def test_cli_errors_name_the_problem(tiny_cfg, dataset, tmp_path, capsys):
    with pytest.raises(SystemExit, match="unknown key 'train.stepz'.*did you mean 'steps'"):
        main(["train", "--data", str(dataset), "--run", str(tmp_path / "r"), "train.stepz=3"])
    with pytest.raises(SystemExit, match="unknown env.*two_room"):
        main(["collect", "--out", str(tmp_path / "x"), "env.name=three_room"])
    with pytest.raises(SystemExit, match="frames are 32 px but model.image_size is 64"):
        main(["train", "--data", str(dataset), "--run", str(tmp_path / "r")])


def test_planner_rejects_wrong_image_size(tiny_cfg, dataset, tmp_path):
    from monde.plan.mpc import MPCPlanner

    model, _ = train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)
    planner = MPCPlanner(model, tiny_cfg.plan)
    good = np.zeros((1, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=r"\(\.\.\., 32, 32, 3\).*\(1, 64, 64, 3\)"):
        planner.reset(np.zeros((1, 64, 64, 3), np.uint8), good)


def test_fresh_run_in_used_folder_forgets_the_old_run(tiny_cfg, dataset, tmp_path):
    tiny_cfg.train.steps = 6
    train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)
    tiny_cfg.train.steps = 4
    train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step-000000002", "step-000000004"]


def test_resume_refuses_another_model_and_survives_a_torn_metrics_line(tiny_cfg, dataset, tmp_path):
    train_run(tiny_cfg, dataset, tmp_path / "run", progress=False, stop_after=3)
    with (tmp_path / "run" / "metrics.jsonl").open("a") as f:
        f.write('{"step": 3, "lo')  # the kill cut the last line short
    train_run(tiny_cfg, dataset, tmp_path / "run", resume=True, progress=False)
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 7))
    tiny_cfg.model.latent_dim = 12
    with pytest.raises(ValueError, match=r"config\.json"):
        train_run(tiny_cfg, dataset, tmp_path / "run", resume=True, progress=False)


def test_eval_refuses_an_env_the_model_does_not_fit(tiny_cfg, dataset, tmp_path):
    model, _ = train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)
    tiny_cfg.env.image_size = 64
    with pytest.raises(ValueError, match="env.image_size is 64 but the model takes 32 px"):
        evaluate_goal_reaching(model, tiny_cfg.env, tiny_cfg.plan, tiny_cfg.eval, progress=False)


def test_proprioception_trains_plans_and_checks_the_env(tiny_cfg, dataset, tmp_path):
    tiny_cfg.model.proprio = ["agent_x", "agent_y"]
    model, metrics = train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)
    assert np.isfinite(metrics["loss"])
    loaded = load_model(tmp_path / "run" / "model")
    assert loaded.cfg.proprio_indices == [0, 1]
    assert torch.equal(loaded.proprio_mean, model.proprio_mean)
    assert (loaded.proprio_std > 0.01).all()  # set from the data, not left at 1
    assert not torch.equal(loaded.proprio_std, torch.ones(2))
    results = evaluate_goal_reaching(
        loaded, tiny_cfg.env, tiny_cfg.plan, tiny_cfg.eval, progress=False
    )
    assert results["planner"]["episodes"] == 3
    loaded.cfg.proprio_indices = [2, 3]  # as if trained on other state columns
    with pytest.raises(ValueError, match=r"has \['wall_x', 'door_y'\] there"):
        evaluate_goal_reaching(loaded, tiny_cfg.env, tiny_cfg.plan, tiny_cfg.eval, progress=False)


def test_stacked_frames_collect_train_and_plan(tiny_cfg, tmp_path):
    tiny_cfg.env.frame_stack, tiny_cfg.model.in_channels = 2, 6
    collect(tiny_cfg.env, tiny_cfg.data, tmp_path / "data", progress=False)
    episode = EpisodeStore(tmp_path / "data")[0]
    assert episode.frames.shape[1:] == (32, 32, 6)
    np.testing.assert_array_equal(episode.frames[0, ..., :3], episode.frames[0, ..., 3:])  # rest
    np.testing.assert_array_equal(episode.frames[1:, ..., 3:], episode.frames[:-1, ..., :3])
    model, metrics = train_run(tiny_cfg, tmp_path / "data", tmp_path / "run", progress=False)
    assert np.isfinite(metrics["loss"])
    results = evaluate_goal_reaching(
        model, tiny_cfg.env, tiny_cfg.plan, tiny_cfg.eval, progress=False
    )
    assert results["planner"]["episodes"] == 3
    tiny_cfg.env.frame_stack = 1  # one frame per observation: the model's 6 channels refuse it
    with pytest.raises(ValueError, match="renders 3-channel frames but the model takes 6"):
        evaluate_goal_reaching(model, tiny_cfg.env, tiny_cfg.plan, tiny_cfg.eval, progress=False)
    tiny_cfg.model.in_channels = 3
    with pytest.raises(ValueError, match="frames have 6 channels but model.in_channels is 3"):
        train_run(tiny_cfg, tmp_path / "data", tmp_path / "run3", progress=False)


def test_trains_alike_ignores_only_where_it_runs(tiny_cfg):
    other = copy.deepcopy(tiny_cfg)
    other.train.threads, other.train.device, other.train.compile = 2, "cpu", True
    other.train.keep_checkpoints = 50
    other.data.workers = 3  # the same seeds collect the same episodes on any number of workers
    other.plan.samples, other.eval.episodes = 99, 7  # evaluation settings never count
    assert trains_alike(tiny_cfg, other)
    other.train.steps += 1
    assert not trains_alike(tiny_cfg, other)


def test_demo_plans_through_waypoints_and_a_cost_basis_of_its_training_frames(
    tiny_cfg, dataset, tmp_path, three_threads
):
    preset = tmp_path / "tiny.yaml"
    save_config(tiny_cfg, preset)
    run, out = tmp_path / "run", tmp_path / "out.json"
    main(["demo", "--config", str(preset), "--run", str(run), "--out", str(out), "--quiet"])
    main(  # the finished run evaluated again, its planner aiming at waypoints
        ["demo", "--config", str(preset), "--run", str(run), "--out", str(out), "--quiet"]
        + ["--resume", "plan.waypoints=3", "plan.waypoint_lookahead=2"]
    )
    data = json.loads(out.read_text())
    assert data["config"]["plan"]["waypoints"] == 3
    assert data["results"]["planner"]["episodes"] == tiny_cfg.eval.episodes
    main(  # and again with a cost that leaves out what the action moves
        ["eval", "--config", str(preset), "--model", str(run / "model"), "--out", str(out)]
        + ["--quiet", "plan.drop_action_variance=0.5", "plan.metric_episodes=2"]
    )
    evaluated = json.loads(out.read_text())
    # the results name the weights they evaluated: the final model, at the schedule's last step
    assert evaluated["model"] == {"path": str(run / "model"), "train_step": tiny_cfg.train.steps}
    # `monde eval` computes on train.threads, as the demo does; the caller's count is restored
    assert evaluated["single_episode_plan"]["threads"] == tiny_cfg.train.threads == 1
    assert torch.get_num_threads() == 3
    basis = evaluated["planner_memory"]["cost_basis"]
    assert basis["kept"] + basis["dropped"] == tiny_cfg.model.latent_dim
    assert basis["dropped"] >= 1 and 0.5 - 1e-6 <= basis["dropped_variance"] < 1
    assert basis["latents"] == 2 * (tiny_cfg.data.steps_per_episode // tiny_cfg.model.frameskip + 1)
    model = tmp_path / "elsewhere" / "model"  # a model whose run folder holds no episodes
    shutil.copytree(run / "model", model)
    with pytest.raises(SystemExit, match="plan.waypoints needs the run.s training"):
        main(["eval", "--model", str(model), "plan.waypoints=3", "--quiet"])
    with pytest.raises(SystemExit, match="plan.drop_action_variance needs the run.s training"):
        main(["eval", "--model", str(model), "plan.drop_action_variance=0.5", "--quiet"])


def _signal_in_step(monkeypatch, at_step: int, signum: signal.Signals):
    """Patch the training step so that step `at_step` sends this process `signum` as it starts
    (the handler only records it) → a function that puts the real step back."""
    import monde.train.fit as fit_module

    real_step = fit_module.TrainStep.__call__

    def signalled_step(self, frames, actions, step, proprio=None):
        if step == at_step:
            os.kill(os.getpid(), signum)
        return real_step(self, frames, actions, step, proprio)

    monkeypatch.setattr(fit_module.TrainStep, "__call__", signalled_step)
    return lambda: monkeypatch.setattr(fit_module.TrainStep, "__call__", real_step)


@pytest.mark.parametrize(
    ("signum", "raised"), [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_a_signal_stops_training_after_its_step_with_a_checkpoint_there(
    tiny_cfg, dataset, tmp_path, monkeypatch, signum, raised
):
    """Preempted (SIGTERM) or Ctrl-C'd during step 2: the step ends, a checkpoint at step 3 (not
    a multiple of checkpoint_every) is written, and --resume ends where an unbroken run ends."""
    tiny_cfg.train.log_every, tiny_cfg.train.probe_every = 4, 0  # no row at 3: the stop writes it
    train_run(tiny_cfg, dataset, tmp_path / "full", progress=False)
    restore = _signal_in_step(monkeypatch, 2, signum)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    run = tmp_path / "stopped"
    with pytest.raises(raised, match=f"{signum.name} at step 3 .*{checkpoint_name(3)} written"):
        train_run(tiny_cfg, dataset, run, progress=False)
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # put back as they were
    saved = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert saved == [checkpoint_name(2), checkpoint_name(3)]
    restore()
    train_run(tiny_cfg, dataset, run, resume=True, progress=False)
    full, resumed = _weights(tmp_path / "full" / "model"), _weights(run / "model")
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [3, 4, 6]
    seconds = [r["train_seconds"] for r in rows]  # the stopped process's seconds carried on
    assert seconds == sorted(seconds) and seconds[0] > 0


def test_a_signal_during_the_last_step_still_stops_the_run(
    tiny_cfg, dataset, tmp_path, monkeypatch
):
    """A SIGTERM during the last step is not lost with the loop's end: the run stops with the
    last checkpoint and no model (a pipeline must not go on to its next stage), and --resume
    writes the model an unbroken run writes."""
    train_run(tiny_cfg, dataset, tmp_path / "full", progress=False)
    steps = tiny_cfg.train.steps
    restore = _signal_in_step(monkeypatch, steps - 1, signal.SIGTERM)
    run = tmp_path / "stopped"
    with pytest.raises(Terminated, match=f"at step {steps} .*{checkpoint_name(steps)} written"):
        train_run(tiny_cfg, dataset, run, progress=False)
    assert not (run / "model").exists()
    restore()
    train_run(tiny_cfg, dataset, run, resume=True, progress=False)
    full, resumed = _weights(tmp_path / "full" / "model"), _weights(run / "model")
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
