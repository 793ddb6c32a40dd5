"""train.model_init: a trained world model post-trained on other data, its encoder frozen or not."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from monde.cli import main
from monde.config import TrainConfig
from monde.config_io import save_config
from monde.data.collect import collect
from monde.io import load_safetensors
from monde.train.run import train_run


@pytest.fixture
def dataset(tiny_cfg, tmp_path):
    collect(tiny_cfg.env, tiny_cfg.data, tmp_path / "data", progress=False)
    return tmp_path / "data"


def _weights(run) -> dict[str, torch.Tensor]:
    return load_safetensors(run / "model" / "model.safetensors")[0]


def test_post_training_starts_from_the_model_and_a_frozen_encoder_stays_bit_equal(
    tiny_cfg, dataset, tmp_path
):
    train_run(tiny_cfg, dataset, tmp_path / "first", progress=False)
    first = _weights(tmp_path / "first")
    tiny_cfg.train.model_init = str(tmp_path / "first" / "model")
    tiny_cfg.train.seed = 5  # another seed's initial weights would differ: they are replaced
    for freeze in (True, False):
        tiny_cfg.train.freeze_encoder = freeze
        train_run(tiny_cfg, dataset, tmp_path / f"post-{freeze}", progress=False)
        post = _weights(tmp_path / f"post-{freeze}")
        encoder = [k for k in first if k.startswith("encoder.")]
        assert encoder and all(torch.equal(post[k], first[k]) for k in encoder) == freeze
        assert not all(torch.equal(post[k], first[k]) for k in first if k.startswith("predictor"))
    # one step from the first model's weights at a learning rate of 0 leaves them as they were
    tiny_cfg.train = dataclasses.replace(tiny_cfg.train, steps=1, lr=0.0, freeze_encoder=False)
    train_run(tiny_cfg, dataset, tmp_path / "still", progress=False)
    still = _weights(tmp_path / "still")
    assert all(torch.equal(still[k], v) for k, v in first.items())


def test_a_model_of_another_config_is_refused_naming_the_field(tiny_cfg, dataset, tmp_path):
    train_run(tiny_cfg, dataset, tmp_path / "first", progress=False)
    tiny_cfg.model.predictor_dim = 32
    tiny_cfg.train.model_init = str(tmp_path / "first" / "model")
    save_config(tiny_cfg, tmp_path / "wide.yaml")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(tmp_path / "wide.yaml"), "--data", str(dataset)]
             + ["--run", str(tmp_path / "run"), "--quiet"])  # fmt: skip
    assert str(exit_info.value.code) == (
        f"monde train: error: {tmp_path / 'first' / 'model'}: its model config differs from "
        "this run's in predictor_dim (16 there, 32 here)"
    )


def test_model_init_settings_are_checked():
    with pytest.raises(ValueError, match="freeze_encoder needs train.encoder_init .* or"):
        TrainConfig(freeze_encoder=True)
    with pytest.raises(ValueError, match="both start the encoder: give one"):
        TrainConfig(encoder_init="a", model_init="b")
    assert TrainConfig(model_init="runs/x/model", freeze_encoder=True).freeze_encoder


def test_demo_post_trains_its_model_on_episodes_of_another_policy(tiny_cfg, tmp_path):
    from monde.data.store import EpisodeStore
    from monde.runs import recorded_train_seconds

    tiny_cfg.post_train.steps, tiny_cfg.post_train.policy = 3, "random"
    preset = tmp_path / "tiny.yaml"
    save_config(tiny_cfg, preset)
    run, out = tmp_path / "run", tmp_path / "out.json"
    main(["demo", "--config", str(preset), "--run", str(run), "--out", str(out), "--quiet"])
    base, post = _weights(run / "base"), _weights(run)
    encoder = [k for k in base if k.startswith("encoder.")]
    assert all(torch.equal(post[k], base[k]) for k in encoder)  # frozen
    assert not all(torch.equal(post[k], base[k]) for k in base if k.startswith("predictor"))
    info = EpisodeStore(run / "post_data").meta["info"]
    assert info["policy"] == "random" and len(EpisodeStore(run / "post_data")) == 6
    data = json.loads(out.read_text())
    assert data["config"]["post_train"]["steps"] == 3  # the row records both stages
    seconds = [recorded_train_seconds(d, tiny_cfg.train.batch_size) for d in (run / "base", run)]
    assert data["train_seconds"] == pytest.approx(sum(seconds))
    saved = (run / "config.yaml").read_text()
    assert "post_train:" in saved and "model_init: ''" in saved  # the run's config, not stage 2's
    # resumed when finished: neither stage trains again, the same model is evaluated
    main(["demo", "--run", str(run), "--out", str(out), "--quiet", "--resume"])
    assert _weights(run).keys() == post.keys()
    assert all(torch.equal(_weights(run)[k], v) for k, v in post.items())
    with pytest.raises(SystemExit, match="post_train runs in `monde demo` and `monde bench`"):
        main(["train", "--config", str(preset), "--data", str(run / "data")]
             + ["--run", str(tmp_path / "other"), "--quiet"])  # fmt: skip


def test_post_train_settings_are_checked():
    from monde.config import PostTrainConfig, RunConfig

    with pytest.raises(ValueError, match="post_train.steps must be ≥ 0"):
        PostTrainConfig(steps=-1)
    with pytest.raises(ValueError, match="post_train.lr finite and > 0"):
        PostTrainConfig(lr=0.0)
    with pytest.raises(ValueError, match="post_train.policy"):
        PostTrainConfig(policy="nope")
    with pytest.raises(ValueError, match="with train.ensemble > 1 post-train each member"):
        RunConfig(train=TrainConfig(ensemble=2), post_train=PostTrainConfig(steps=5))


def test_a_demo_cut_short_in_post_training_resumes_from_its_own_config(
    tiny_cfg, tmp_path, monkeypatch
):
    import monde.train.run as training

    tiny_cfg.post_train.steps, tiny_cfg.post_train.policy = 4, "random"
    preset = tmp_path / "tiny.yaml"
    save_config(tiny_cfg, preset)
    run = tmp_path / "run"
    real = training.train_run

    def cut_short(cfg, data_dir, run_dir, *args, **kwargs):
        if Path(run_dir) == run:  # the second stage: 2 of its 4 steps, then killed
            real(cfg, data_dir, run_dir, *args, **{**kwargs, "stop_after": 2})
            raise KeyboardInterrupt
        return real(cfg, data_dir, run_dir, *args, **kwargs)

    monkeypatch.setattr(training, "train_run", cut_short)
    with pytest.raises(KeyboardInterrupt):
        main(["demo", "--config", str(preset), "--run", str(run), "--quiet"])
    monkeypatch.setattr(training, "train_run", real)
    assert not (run / "model").exists() and (run / "base" / "model").exists()
    main(["demo", "--run", str(run), "--quiet", "--resume"])  # no preset: RUN/config.yaml
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").open()]
    assert max(steps) == 4
    base, post = _weights(run / "base"), _weights(run)
    assert all(torch.equal(post[k], v) for k, v in base.items() if k.startswith("encoder."))
