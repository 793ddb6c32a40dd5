"""monde.pipeline as a library: the config a demo run uses, the store its waypoints come from."""

from __future__ import annotations

from pathlib import Path

from monde.config import RunConfig
from monde.config_io import save_config
from monde.io import atomic_write_json
from monde.pipeline import demo_config, waypoint_store


def _fake_store(path: Path) -> Path:
    """A folder that `is_store` recognises (the waypoint store is chosen, never opened, here)."""
    atomic_write_json(path / "zarr.json", {"attributes": {"monde": {}}})
    return path


def test_waypoints_come_from_the_store_the_run_recorded(tmp_path):
    run, elsewhere = tmp_path / "run", _fake_store(tmp_path / "elsewhere")
    assert waypoint_store(run / "model") == run / "data"  # nothing recorded: the demo's RUN/data
    _fake_store(run / "data")
    assert waypoint_store(run / "model") == run / "data"
    # trained with `monde train --data elsewhere`: the record wins over the RUN/data convention
    record = {"store": str(elsewhere.resolve()), "episodes": 3, "train_ids": [0, 1]}
    atomic_write_json(run / "training_data.json", record)
    assert waypoint_store(run / "model") == elsewhere.resolve()


def test_a_resumed_demo_keeps_how_the_run_trained_but_the_checkpoints_asked_now(tmp_path):
    run, preset = tmp_path / "run", tmp_path / "preset.yaml"
    trained = RunConfig()
    trained.train.threads, trained.train.keep_checkpoints = 1, 2
    run.mkdir()
    save_config(trained, run / "config.yaml")
    asked = RunConfig()
    asked.train.threads, asked.train.keep_checkpoints = 3, 9  # host-only: trains alike
    save_config(asked, preset)

    cfg = demo_config(preset, [], run, resume=True)
    assert (cfg.train.threads, cfg.train.keep_checkpoints) == (1, 9)
    cfg = demo_config(preset, [], run, resume=False)  # a fresh run takes the preset as it is
    assert (cfg.train.threads, cfg.train.keep_checkpoints) == (3, 9)
    cfg = demo_config(None, ["plan.samples=70"], run, resume=True)  # no preset: the saved one
    assert (cfg.train.threads, cfg.plan.samples) == (1, 70)
    cfg = demo_config(preset, ["train.steps=5"], run, resume=True)  # trains otherwise: as asked
    assert (cfg.train.threads, cfg.train.steps) == (3, 5)


def test_results_name_model_fields_the_config_does_not_share():
    from dataclasses import replace

    from monde.pipeline import model_config_note

    cfg = RunConfig()
    assert model_config_note(cfg, cfg.model) == {}
    built = replace(cfg.model, proprio=["agent_x"], proprio_indices=[0], in_channels=6)
    assert model_config_note(cfg, built) == {
        "model_config_differs": {
            "in_channels": {"config": 3, "model": 6},
            "proprio": {"config": [], "model": ["agent_x"]},
        }
    }
