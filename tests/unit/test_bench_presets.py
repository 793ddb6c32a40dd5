"""`monde bench NAME` for an environment that only a preset names (a Gymnasium env)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monde.bench import preset, preset_envs

PRESETS = Path(__file__).resolve().parents[2] / "configs" / "bench"


def test_a_preset_names_a_benchmark_env(tmp_path):
    (tmp_path / "my_env_quick.yaml").write_text("env:\n  name: gym\n")
    assert preset_envs(tmp_path) == ["my_env"]
    assert preset(tmp_path, "my_env", "quick") == tmp_path / "my_env_quick.yaml"
    with pytest.raises(FileNotFoundError, match="my_env_full.yaml"):
        preset(tmp_path, "my_env", "full")
    with pytest.raises(ValueError, match="known: two_room, .*my_env"):
        preset(tmp_path, "mars", "quick")


def test_the_gymnasium_presets_run_the_generic_adapter():
    from monde.config import RunConfig
    from monde.config_io import load_config

    for name in ("mountain_car", "swimmer"):
        assert name in preset_envs(PRESETS)
        cfg = load_config(RunConfig, preset(PRESETS, name, "quick"), [])
        assert cfg.env.name == "gym" and cfg.env.options["env_id"]
