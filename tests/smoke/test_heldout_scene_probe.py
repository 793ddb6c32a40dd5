"""benchmarks/heldout_scene_probe.py on a tiny random-wall run with a 2 px shift: the run's
validation episodes and episodes of held-out scenes each get probes and rollout errors."""

import copy
import importlib.util
import json
from pathlib import Path

from conftest import TINY  # tests/smoke/conftest.py: the tiny budgets of the smoke tests

from monde.config import RunConfig
from monde.config_io import from_dict
from monde.data.collect import collect
from monde.io import atomic_write_json
from monde.train.run import train_run

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "heldout_scene_probe.py"
spec = importlib.util.spec_from_file_location("heldout_scene_probe", SCRIPT)
heldout_scene_probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(heldout_scene_probe)


def test_probes_and_rollouts_on_training_and_heldout_scenes(tmp_path: Path) -> None:
    raw = copy.deepcopy(TINY)
    raw["env"].update(heldout_scenes=True, options={"random_wall": True})
    raw["train"]["shift_augment"] = 2
    cfg = from_dict(RunConfig, raw)
    run = tmp_path / "run"
    collect(cfg.env, cfg.data, run / "data", progress=False)
    train_run(cfg, run / "data", run, progress=False)
    atomic_write_json(run / "results.json", {"results": {"planner": {"success_rate": 0.5}}})
    eval_raw = copy.deepcopy(raw)
    eval_raw["env"] = {"image_size": 32, "options": {"random_wall": True, "scene_split": "heldout"}}
    eval_raw["data"]["seed"] = 5_000_000
    eval_cfg = from_dict(RunConfig, eval_raw)
    collect(eval_cfg.env, eval_cfg.data, tmp_path / "heldout", progress=False)

    out = tmp_path / "probe.json"
    argv = ["--run", str(run), "--heldout-data", str(tmp_path / "heldout"), "--out", str(out)]
    argv += ["--horizon", "2", "--probe-kinds", "linear"]
    assert heldout_scene_probe.main(argv) == 0
    result = json.loads(out.read_text())
    entry = result["runs"]["run"]
    assert result["heldout_episodes"] == 6 and entry["success"] == {"success_rate": 0.5}
    assert entry["train"]["shift_augment"] == 2 and entry["path"] == str(run)
    for section in ("training_scenes", "heldout_scenes"):
        probes = entry[section]["probes"]["encoded"]["linear"]
        assert {"agent_x", "agent_y", "wall_x", "door_y"} <= set(probes)
        assert entry[section]["rollout_error"]["steps"] == [1, 2]
    assert entry["heldout_scenes"]["split"]["test_episodes"] == 6
