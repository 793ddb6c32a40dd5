"""benchmarks/render_push_t_levers.py: the change column comes from the configs; seeds checked."""

import importlib.util
import sys
from pathlib import Path

import pytest

from monde.io import atomic_write_json

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
spec = importlib.util.spec_from_file_location(
    "render_push_t_levers", BENCH / "render_push_t_levers.py"
)
levers = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = levers  # its dataclass looks its module up there
spec.loader.exec_module(levers)


def test_the_change_is_what_differs_in_model_data_train_or_plan():
    base = {
        "model": {"predictor_dim": 512, "depth": 3},
        "plan": {"horizon": 10},
        "eval": {"seed": 1},
    }
    other = {
        "model": {"predictor_dim": 1024, "depth": 3},
        "plan": {"horizon": 10, "new_key": True},  # a setting added since: named too
        "eval": {"seed": 2},  # evaluation settings are not the lever
        "train": {"threads": 2},  # nor where it ran
    }
    assert levers.config_change(other, base) == ["model.predictor_dim=1024", "plan.new_key=True"]
    assert levers.config_change(base, base) == []


def test_a_setting_added_since_a_run_counts_at_its_default():
    base = levers.read_json(levers.RESULTS / levers.BASE.table)["config"]
    train = {k: v for k, v in base["train"].items() if k != "ensemble"}
    filled = levers.with_defaults({**base, "train": train})  # as written before ensembles
    assert filled["train"]["ensemble"] == 1
    member = levers.with_defaults({**base, "train": {**base["train"], "ensemble": 1}})
    assert levers.config_change(member, filled) == []


def test_the_evaluated_step_is_the_recorded_one_first():
    lever = levers.Lever("steps", "x.json", evaluated_step=12000)
    recorded = {"model": {"train_step": 6000}, "config": {"train": {"steps": 24000}}}
    assert levers.evaluated_step(recorded, lever) == 6000
    older = {"config": {"train": {"steps": 24000}}}  # written before eval named its model
    assert levers.evaluated_step(older, lever) == 12000
    assert levers.evaluated_step(older, levers.Lever("x", "x.json")) == 24000


def test_a_result_of_other_seeds_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(levers, "RESULTS", tmp_path)
    (tmp_path / "r.json").write_text('{"config": {"eval": {"seed": 2000000}}}')
    with pytest.raises(ValueError, match=r"r.json: eval.seed is 2000000, not 1000000"):
        levers.seeded("r.json", levers.TABLE_SEED)
    assert levers.seeded("r.json", levers.VALIDATION_SEED)["config"]["eval"]["seed"] == 2000000


def test_every_listed_result_exists_and_renders():
    base = levers.read_json(levers.RESULTS / levers.BASE.table)
    rows = [levers.read_lever(lever, base) for lever in levers.LEVERS]
    assert rows[0]["change"] == [] and all(
        r["change"] or r["step"] != rows[0]["step"] for r in rows[1:]
    )
    text = "\n".join(levers.render(rows))
    assert text.count("\n| ") == len(rows) + 1  # header and one line per lever


def test_a_lever_trained_on_another_machine_or_precision_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(levers, "RESULTS", tmp_path)
    config = {"eval": {"seed": levers.TABLE_SEED}, "train": {"steps": 100}}
    planner = {"success_rate": 0.5, "ci95": [0.4, 0.6]}

    def result(cpu: str | None, precision: str) -> dict:
        train = {"device": "cpu", "resolved": precision, "logged": [precision]}
        return {
            "config": config,
            "results": {"planner": planner},
            "single_episode_plan": {"median_ms": 1.0},
            "provenance": {"commit": "abc", **({"cpu": cpu} if cpu else {})},
            "precision": {"train": train},
        }

    base = result("Intel Xeon (AMX)", "fp32")
    atomic_write_json(tmp_path / "r.json", result("AMD EPYC (AVX512-BF16)", "bf16"))
    row = levers.read_lever(levers.Lever("machine", "r.json"), base)
    assert row["change"] == ["trained on: AMD EPYC (AVX512-BF16), bf16"]
    atomic_write_json(tmp_path / "r.json", result("Intel Xeon (AMX)", "fp32"))
    assert levers.read_lever(levers.Lever("same", "r.json"), base)["change"] == []
