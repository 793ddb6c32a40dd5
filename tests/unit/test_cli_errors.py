"""Errors that point at what the user typed: a bad override is blamed on the command line, not
on the YAML file; a run folder given where a model folder belongs (and back) gets a hint."""

import json

import pytest

from monde.cli import main
from monde.config import RunConfig
from monde.config_io import ConfigError, load_config, save_config


@pytest.fixture
def preset(tmp_path):
    path = tmp_path / "preset.yaml"
    save_config(RunConfig(), path)
    return path


@pytest.mark.parametrize("value", ["0", "-3"])
def test_a_bad_train_steps_override_is_blamed_on_the_command_line(preset, value):
    with pytest.raises(ConfigError) as err:
        load_config(RunConfig, preset, ["train.lr=1e-3", f"train.steps={value}"])
    assert str(err.value) == (
        f"command line override 'train.steps={value}': train.steps must be ≥ 1 and "
        "train.batch_size ≥ 2"
    )
    with pytest.raises(ConfigError, match=r"^command line override 'train\.steps=0'"):
        load_config(RunConfig, None, ["train.steps=0"])  # no file: not "<defaults>" either


def test_a_check_across_fields_blames_the_override_that_broke_it(preset):
    with pytest.raises(ConfigError, match=r"^command line override 'train\.grad_accum_steps=3'"):
        load_config(RunConfig, preset, ["train.batch_size=64", "train.grad_accum_steps=3"])


def test_a_bad_value_in_the_file_is_still_blamed_on_the_file(preset):
    text = preset.read_text()  # train: comes before pretrain:, which also has steps: 2000
    preset.write_text(text.replace("steps: 2000", "steps: 0", 1))
    with pytest.raises(ConfigError, match=rf"^{preset}: train\.steps must be ≥ 1"):
        load_config(RunConfig, preset, ["train.lr=1e-3"])
    assert load_config(RunConfig, preset, ["train.steps=5"]).train.steps == 5  # fixed by it


def test_a_non_integer_override_names_the_command_line(preset):
    with pytest.raises(ConfigError, match=r"^command line: 'train\.steps': .*integer, got 'abc'$"):
        load_config(RunConfig, preset, ["train.steps=abc"])


def _fake_run(tmp_path):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text(json.dumps({"format": "x"}))
    (run / "config.yaml").write_text("{}\n")
    return run


def test_eval_on_a_run_folder_asks_whether_the_model_folder_was_meant(tmp_path):
    run = _fake_run(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--model", str(run), "--quiet"])
    assert exit_info.value.code == (
        f"monde eval: error: {run} is a run folder; did you mean {run / 'model'}?"
    )


def test_eval_on_a_folder_without_a_model_names_the_missing_file(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--model", str(tmp_path), "--quiet"])
    assert str(exit_info.value.code).startswith(
        f"monde eval: error: {tmp_path / 'config.json'} not found"
    )


@pytest.mark.parametrize("verb", ["report", "understand"])
def test_report_on_a_model_folder_asks_whether_the_run_folder_was_meant(tmp_path, verb):
    run = _fake_run(tmp_path)
    extra = ["--out", str(tmp_path / "u.json")] if verb == "understand" else []
    with pytest.raises(SystemExit) as exit_info:
        main([verb, str(run / "model"), "--quiet", *extra])
    assert exit_info.value.code == (
        f"monde {verb}: error: {run / 'model'} is a model folder; did you mean its run folder "
        f"{run}?"
    )
