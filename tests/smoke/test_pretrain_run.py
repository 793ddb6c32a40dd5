"""`monde pretrain` on a tiny store: the encoder checkpoint it writes, a resumed run equal to an
uninterrupted one, and `monde train` starting from it — frozen (weights bit-equal afterwards)
or fine-tuned — or refusing one of another encoder config, naming the tensor. An in-process
pretraining leaves the process's torch thread count as it found it, returning or raising."""

import json
import os
import signal

import pytest
import torch

from monde.cli import main
from monde.config_io import save_config
from monde.data.collect import collect
from monde.io import load_safetensors
from monde.pretrain.loop import pretrain_run
from monde.runs import checkpoint_name
from monde.signals import Terminated
from monde.train.run import train_run

VIT = {"encoder": "vit", "encoder_patch": 8, "encoder_dim": 16, "encoder_depth": 1}
VIT["encoder_heads"] = 2
PRETRAIN = {"steps": 4, "batch_size": 8, "warmup_steps": 1, "log_every": 1, "probe_every": 2}
PRETRAIN.update(checkpoint_every=2, threads=1, probe_frames=40, predictor_dim=8)


@pytest.fixture
def vit_cfg(tiny_cfg):
    for key, value in VIT.items():
        setattr(tiny_cfg.model, key, value)
    for key, value in PRETRAIN.items():
        setattr(tiny_cfg.pretrain, key, value)
    return tiny_cfg


@pytest.fixture
def dataset(tiny_cfg, tmp_path):
    collect(tiny_cfg.env, tiny_cfg.data, tmp_path / "data", progress=False)
    return tmp_path / "data"


def test_pretrain_command_writes_an_encoder_and_resumes_exactly(vit_cfg, dataset, tmp_path):
    save_config(vit_cfg, tmp_path / "tiny.yaml")
    main(["pretrain", "--config", str(tmp_path / "tiny.yaml"), "--data", str(dataset)]
         + ["--run", str(tmp_path / "full"), "--quiet"])  # fmt: skip
    encoder = tmp_path / "full" / "encoder"
    meta = json.loads((encoder / "config.json").read_text())
    assert meta["format"] == "monde.Encoder/1" and meta["encoder"]["encoder_dim"] == 16
    results = json.loads((tmp_path / "full" / "results.json").read_text())
    assert results["steps"] == 4 and results["frames_per_s"] > 0
    assert "probe_r2/agent_x" in results["final"] and "probe_r2_grid/agent_x" in results["final"]
    rows = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").open()]
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]  # step 0: the random encoder's probe

    run = tmp_path / "crash"
    pretrain_run(vit_cfg, dataset, run, progress=False, stop_after=3)  # checkpoint at 2
    assert not (run / "encoder").exists()
    pretrain_run(vit_cfg, dataset, run, resume=True, progress=False)
    full = load_safetensors(encoder / "encoder.safetensors")[0]
    resumed = load_safetensors(run / "encoder" / "encoder.safetensors")[0]
    for key in full:
        assert torch.equal(full[key], resumed[key]), key


@pytest.mark.parametrize(
    ("anti_collapse", "target_offset", "view_shift", "encoder", "change_floor"),
    [("ema", 0, 0, "vit", 0), ("sigreg", 2, 0, "vit", 0), ("ema", 0, 3, "conv_vit", 0.5)],
)
def test_train_from_a_pretrained_encoder_frozen_or_fine_tuned(
    vit_cfg, dataset, tmp_path, anti_collapse, target_offset, view_shift, encoder, change_floor
):
    vit_cfg.pretrain.anti_collapse = anti_collapse
    vit_cfg.pretrain.target_offset = target_offset  # 2: the masked blocks of a later frame
    vit_cfg.pretrain.view_shift = view_shift  # 3: a translated whole frame predicts the frame
    vit_cfg.model.encoder = encoder  # conv_vit: the CNN's stages as the stem
    vit_cfg.pretrain.change_floor = change_floor  # 0.5: a floor on within-episode change
    vit_cfg.pretrain.change_offset = 2
    vit_cfg.pretrain.steps = 2
    vit_cfg.pretrain.log_every = 1
    pretrain_run(vit_cfg, dataset, tmp_path / "pre", progress=False)
    metrics = (tmp_path / "pre" / "metrics.jsonl").open()
    logged = [json.loads(line) for line in metrics][1:]  # after the step-0 probe
    assert all(("change_ratio" in row) == (change_floor > 0) for row in logged)
    pretrained = load_safetensors(tmp_path / "pre" / "encoder" / "encoder.safetensors")[0]
    vit_cfg.train.encoder_init = str(tmp_path / "pre" / "encoder")
    for freeze in (True, False):
        vit_cfg.train.freeze_encoder = freeze
        model, _ = train_run(vit_cfg, dataset, tmp_path / f"train-{freeze}", progress=False)
        trained = model.encoder.backbone.state_dict()
        same = [torch.equal(trained[k].cpu(), v) for k, v in pretrained.items()]
        assert all(same) if freeze else not all(same)
        saved = load_safetensors(tmp_path / f"train-{freeze}" / "model" / "model.safetensors")[0]
        for key, value in trained.items():
            assert torch.equal(saved[f"encoder.backbone.{key}"], value.cpu()), key


def test_train_refuses_an_encoder_of_another_config(vit_cfg, dataset, tmp_path):
    vit_cfg.pretrain.steps = 1
    pretrain_run(vit_cfg, dataset, tmp_path / "pre", progress=False)
    vit_cfg.model.encoder_dim = 32
    vit_cfg.train.encoder_init = str(tmp_path / "pre" / "encoder")
    save_config(vit_cfg, tmp_path / "wide.yaml")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(tmp_path / "wide.yaml"), "--data", str(dataset)]
             + ["--run", str(tmp_path / "run"), "--quiet"])  # fmt: skip
    weights = tmp_path / "pre" / "encoder" / "encoder.safetensors"
    assert str(exit_info.value.code) == (
        f"monde train: error: {weights}: tensor 'blocks.0.mlp.0.bias' has shape (64,), this "
        "model config's encoder expects (128,)"
    )


def test_pretrain_on_an_imported_video_folder(vit_cfg, tmp_path):
    from PIL import Image

    from monde.data.video import import_video_folder

    folder = tmp_path / "videos"
    folder.mkdir()
    for v in range(3):
        frames = [Image.new("RGB", (32, 32), (40 * v, 90, 200)) for _ in range(12)]
        for t, frame in enumerate(frames):
            frame.paste((250, 250, 250), (2 * t, 8, 2 * t + 8, 16))  # a square moving right
        frames[0].save(folder / f"{v}.gif", save_all=True, append_images=frames[1:], duration=100)
    import_video_folder(folder, tmp_path / "data", progress=False)  # action-free episodes
    vit_cfg.pretrain.steps = 2
    results = pretrain_run(vit_cfg, tmp_path / "data", tmp_path / "run", progress=False)
    assert results["steps"] == 2 and (tmp_path / "run" / "encoder" / "encoder.safetensors").exists()


def test_an_in_process_pretraining_restores_the_thread_count(
    vit_cfg, dataset, tmp_path, three_threads
):
    assert vit_cfg.pretrain.threads == 1
    pretrain_run(vit_cfg, dataset, tmp_path / "run", progress=False)
    assert torch.get_num_threads() == three_threads
    vit_cfg.pretrain.batch_size = 10_000  # refused once pretraining has set its threads
    with pytest.raises(ValueError, match="fewer than pretrain.batch_size"):
        pretrain_run(vit_cfg, dataset, tmp_path / "refused", progress=False)
    assert torch.get_num_threads() == three_threads


def _sigterm_in_objective_call(monkeypatch, call: int):
    """Patch the masked-latent objective so that its `call`-th forward (step call − 1's) sends
    this process SIGTERM → a function that puts the real forward back."""
    from monde.pretrain.objective import MaskedLatentObjective

    real_forward, calls = MaskedLatentObjective.forward, []

    def signalled_forward(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(MaskedLatentObjective, "forward", signalled_forward)
    return lambda: monkeypatch.setattr(MaskedLatentObjective, "forward", real_forward)


def test_sigterm_stops_pretraining_after_its_step_with_a_checkpoint_there(
    vit_cfg, dataset, tmp_path, monkeypatch
):
    """Preempted during step 2: the step ends, a checkpoint at step 3 is written (periodic ones
    fall at 2 and 4), and --resume ends with the encoder of an unbroken run."""
    vit_cfg.pretrain.log_every = 4  # rows at 2 and 4 (probes) only: the stop writes step 3's
    pretrain_run(vit_cfg, dataset, tmp_path / "full", progress=False)
    restore = _sigterm_in_objective_call(monkeypatch, 3)  # step 2's objective
    run = tmp_path / "stopped"
    with pytest.raises(Terminated, match=f"SIGTERM at step 3 .*{checkpoint_name(3)} written"):
        pretrain_run(vit_cfg, dataset, run, progress=False)
    restore()
    assert (run / "checkpoints" / checkpoint_name(3)).is_dir()
    pretrain_run(vit_cfg, dataset, run, resume=True, progress=False)
    full = load_safetensors(tmp_path / "full" / "encoder" / "encoder.safetensors")[0]
    resumed = load_safetensors(run / "encoder" / "encoder.safetensors")[0]
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    rows = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    assert [r["step"] for r in rows] == [0, 2, 3, 4]
    seconds = [r["train_seconds"] for r in rows[1:]]  # the stopped process's carried on
    assert seconds == sorted(seconds) and seconds[0] > 0


def test_sigterm_during_the_last_pretraining_step_still_stops_it(
    vit_cfg, dataset, tmp_path, monkeypatch
):
    """Not lost with the loop's end: the run stops at its last checkpoint without writing the
    encoder, and --resume writes it."""
    steps = vit_cfg.pretrain.steps
    restore = _sigterm_in_objective_call(monkeypatch, steps)  # the last step's objective
    run = tmp_path / "stopped"
    with pytest.raises(Terminated, match=f"at step {steps} .*{checkpoint_name(steps)} written"):
        pretrain_run(vit_cfg, dataset, run, progress=False)
    assert not (run / "encoder").exists()
    restore()
    pretrain_run(vit_cfg, dataset, run, resume=True, progress=False)
    assert (run / "encoder" / "encoder.safetensors").is_file()
