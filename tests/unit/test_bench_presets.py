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


def test_the_reacher_motion_presets_stack_frames_on_the_reacher_presets():
    from monde.config import RunConfig
    from monde.config_io import load_config

    assert "reacher_motion" in preset_envs(PRESETS)
    for budget in ("quick", "full"):
        motion = load_config(RunConfig, preset(PRESETS, "reacher_motion", budget), [])
        plain = load_config(RunConfig, preset(PRESETS, "reacher", budget), [])
        assert motion.env.name == "reacher" and motion.env.frame_stack == 2
        assert motion.model.in_channels == 2 * plain.model.in_channels
        assert motion.train.time_contrast_weight == 1.0
        assert (motion.data, motion.train.steps) == (plain.data, plain.train.steps)


def test_the_push_t_large_preset_is_the_full_one_on_more_data_post_trained_on_free_moves():
    from dataclasses import replace

    from monde.config import RunConfig
    from monde.config_io import load_config

    large = load_config(RunConfig, preset(PRESETS, "push_t", "large"), [])
    full = load_config(RunConfig, preset(PRESETS, "push_t", "full"), [])
    assert (large.data.episodes, large.train.steps) == (5000, 18000)
    assert large.model == full.model and large.eval == full.eval
    # then its predictor alone post-trained on episodes where the pusher also moves free
    assert (full.post_train.steps, large.post_train.steps) == (0, 4000)
    assert large.post_train.policy == "pusht_pusher_and_free"
    assert large.post_train.freeze_encoder
    # and planned with a cost that counts the predicted step closest to the goal, the rest of the
    # planner the full preset's
    assert (full.plan.reduce, large.plan.reduce) == ("sum", "min")
    assert replace(large.plan, reduce="sum") == full.plan
    assert large.train.symmetry_augment and full.train.symmetry_augment
    with pytest.raises(FileNotFoundError, match="two_room_large.yaml"):
        preset(PRESETS, "two_room", "large")
