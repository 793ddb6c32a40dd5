"""The report's decoder on the real `make demo` model: held-out PSNR ≥ 25 dB (slow: minutes).

Excluded from `make test` (marker `slow`); run with `.venv/bin/python -m pytest -m slow
tests/smoke/test_report_demo.py`. It trains the demo model (configs/two_room.yaml: collect +
train, ~3–6 min on 2 cores) unless MONDE_DEMO_RUN names a run folder of that model already
trained (e.g. runs/demo of `make demo`), then builds its report as `monde report` does.
benchmarks/report_demo.py records the same numbers and the report's wall time.
"""

import os
import shutil
from pathlib import Path

import pytest

from monde.config import RunConfig
from monde.config_io import load_config
from monde.io import read_json

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_model_report_decodes_held_out_frames_at_25_db(tmp_path):
    from monde.data.collect import collect
    from monde.report.build import build_report
    from monde.train.run import train_run

    given = os.environ.get("MONDE_DEMO_RUN")
    run = tmp_path / "demo"
    if given:
        run.mkdir()
        for name in ("config.yaml", "metrics.jsonl", "model"):  # not its decoder: train anew
            src = Path(given) / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, run / name)
        (run / "data").symlink_to(Path(given).resolve() / "data")
    else:
        cfg = load_config(RunConfig, ROOT / "configs" / "two_room.yaml")
        collect(cfg.env, cfg.data, run / "data", progress=False)
        train_run(cfg, run / "data", run, progress=False)
    paths = build_report(run, progress=False)
    q = read_json(paths["understanding"])["decoder"]["held_out"]
    assert q["psnr_db"] >= 25.0
    # the mean frame alone also scores > 25 dB over all pixels (the scene is mostly static):
    # the agent must be drawn too, far better than the mean frame draws it
    assert q["moving_psnr_db"] >= q["moving_psnr_db_mean_frame"] + 15.0
    assert q["psnr_db"] > q["psnr_db_mean_frame"]
