"""benchmarks/data_scaling.py and its rendering: probes per size, a shared larger store."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


data_scaling = _load("data_scaling")
render_data = _load("render_data")


def test_final_probes_are_the_last_probed_step(tmp_path: Path) -> None:
    rows = [
        {"step": 100, "loss": 1.0, "probe_r2/block_x": 0.25, "probe_r2/block_angle": -0.5},
        {"step": 200, "loss": 0.5, "probe_r2/block_x": 0.75, "probe_r2/block_angle": 0.125},
        {"step": 250, "loss": 0.4},
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert data_scaling.final_probes(tmp_path) == {"block_x": 0.75, "block_angle": 0.125}
    (tmp_path / "metrics.jsonl").write_text(json.dumps(rows[2]) + "\n")
    assert data_scaling.final_probes(tmp_path) is None


def test_a_size_evaluated_before_a_setting_existed_is_read_back(tmp_path: Path) -> None:
    from monde.config import RunConfig
    from monde.config_io import to_dict

    cfg = RunConfig()
    older = to_dict(cfg)
    del older["train"]["batch_contrast_weight"]  # a config written before the setting existed
    (tmp_path / "results.json").write_text(json.dumps({"config": older, "results": {}}))
    assert data_scaling.evaluated(tmp_path, cfg) == {"config": older, "results": {}}
    older["train"]["steps"] += 1  # another config: evaluated again
    (tmp_path / "results.json").write_text(json.dumps({"config": older, "results": {}}))
    assert data_scaling.evaluated(tmp_path, cfg) is None
    older["train"]["no_such_setting"] = 1
    (tmp_path / "results.json").write_text(json.dumps({"config": older, "results": {}}))
    assert data_scaling.evaluated(tmp_path, cfg) is None


def _row(episodes: int, success: float, probes: dict | None) -> dict:
    return {
        "episodes": episodes,
        "success_rate": success,
        "ci95": [success / 2, min(1.0, success * 1.5)],
        "random_success_rate": 0.0,
        "train_steps": 100,
        "train_seconds": 120.0,
        "probe_r2": probes,
    }


def test_render_writes_probe_columns_and_the_figure(tmp_path: Path, monkeypatch) -> None:
    figure = tmp_path / "figures" / "data_scaling.png"
    monkeypatch.setattr(render_data, "FIGURE", figure)
    monkeypatch.setattr(render_data, "DOC", tmp_path / "data.md")
    data = {
        "preset": "configs/bench/push_t_full.yaml",
        "overrides": ["train.steps=100"],
        "command": "python benchmarks/data_scaling.py --sizes 10 20",
        "provenance": {"commit": "abc1234"},
        "rows": [
            {**_row(10, 0.25, {"block_x": 0.5, "block_angle": 0.125}), "commit": "def5678"},
            _row(20, 0.5, None),  # a run without probes or commit: dashes
        ],
    }
    lines = render_data.render_data_scaling(data)
    assert lines[6].endswith(" block_x R² | block_angle R² | commit |")
    assert "| 10 | 25 % (12 % – 38 %) | 0 % | 100 | 2 | 0.50 | 0.12 | def5678 |" in lines
    assert "| 20 | 50 % (25 % – 75 %) | 0 % | 100 | 2 | – | – | – |" in lines
    assert "![success and probes against training episodes](figures/data_scaling.png)" in lines
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("stored", [40, 20, 12])
def test_the_largest_store_is_reused_or_grown(tmp_path: Path, stored: int) -> None:
    """Sizes up to 20 reuse a complete store of 20 or 40 episodes (their prefixes); a store of
    fewer episodes grows to 20; a store of other settings is refused, naming the setting."""
    from monde.data.collect import collect
    from monde.data.store import EpisodeStore
    from monde.pipeline import run_config

    def config(episodes: int, *more: str):
        return run_config(
            None,
            [f"data.episodes={episodes}", "data.steps_per_episode=3", "data.num_envs=4", *more],
        )

    collect(config(stored).env, config(stored).data, tmp_path / "data", progress=False)
    data_scaling.collect_largest(config(20), tmp_path / "data", None, progress=False)
    store = EpisodeStore(tmp_path / "data")
    assert store.completeness()["summary"] == f"complete: {max(stored, 20)} episodes"
    with pytest.raises(SystemExit, match=r"data\.seed: 0 → 1"):
        data_scaling.collect_largest(
            config(20, "data.seed=1"), tmp_path / "data", None, progress=False
        )
