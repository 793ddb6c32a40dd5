"""benchmarks/probe_curves.py: the probe entries of a run's metrics.jsonl, by step."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "probe_curves.py"
spec = importlib.util.spec_from_file_location("probe_curves", SCRIPT)
probe_curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe_curves)


def test_probe_curve_keeps_only_probed_steps(tmp_path: Path) -> None:
    rows = [
        {"step": 50, "loss": 1.0},
        {"step": 100, "loss": 0.5, "probe_r2/block_x": 0.25, "probe_r2/block_angle": -0.5},
        {"step": 150, "loss": 0.4},
        {"step": 200, "probe_r2/block_x": 0.75, "probe_r2/block_angle": 0.125},
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert probe_curves.probe_curve(tmp_path) == [
        {"step": 100, "block_x": 0.25, "block_angle": -0.5},
        {"step": 200, "block_x": 0.75, "block_angle": 0.125},
    ]


def test_probe_curve_names_the_bad_line(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, "probe_r2/x": \n')
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 2"):
        probe_curves.probe_curve(tmp_path)
    with pytest.raises(FileNotFoundError, match="no metrics.jsonl"):
        probe_curves.probe_curve(tmp_path / "missing")


def test_a_pretrained_encoder_is_traced_to_its_pretraining(tmp_path: Path) -> None:
    from monde.config import RunConfig
    from monde.config_io import save_config

    cfg = RunConfig()
    cfg.pretrain.view_shift = 3
    save_config(cfg, tmp_path / "pre" / "config.yaml")
    (tmp_path / "pre" / "results.json").write_text(json.dumps({"final": {"probe_r2/x": 0.5}}))
    traced = probe_curves.pretrained_from(tmp_path / "pre" / "encoder")
    assert traced["pretrain"]["view_shift"] == 3 and traced["final"] == {"probe_r2/x": 0.5}
    assert probe_curves.pretrained_from(tmp_path / "gone" / "encoder") == {
        "encoder": str(tmp_path / "gone" / "encoder")
    }


def test_runs_of_the_same_folder_name_are_kept_apart(tmp_path: Path, monkeypatch) -> None:
    import sys

    from monde.config import RunConfig
    from monde.config_io import save_config

    for variant in ("a", "b"):  # a/wm and b/wm: both folders are named wm
        run = tmp_path / variant / "wm"
        save_config(RunConfig(), run / "config.yaml")
        row = {"step": 10, "probe_r2/x": 0.25 if variant == "a" else 0.75}
        (run / "metrics.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "a" / "wm" / "results.json").write_text(json.dumps({"final": {}}))  # pretrain's
    out = tmp_path / "curves.json"
    argv = ["probe_curves.py", str(tmp_path / "a/wm"), str(tmp_path / "b/wm"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    probe_curves.main()
    runs = json.loads(out.read_text())["runs"]
    assert [r["probe_curve"][0]["x"] for r in runs.values()] == [0.25, 0.75]
    assert "success" not in runs[str(tmp_path / "a" / "wm")]
