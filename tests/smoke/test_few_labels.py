"""benchmarks/few_labels.py on a tiny TwoRoom collection: both curves in the JSON, the 'with'
runs start from (and, frozen, keep) the pretrained encoder while the 'without' ones do not, a
re-run reuses every finished point, points trained side by side (--jobs 2) match those trained
one after another, and the docs section renders from the JSON."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from monde.config_io import save_config

ROOT = Path(__file__).resolve().parents[2]
VIT = {"encoder": "vit", "encoder_patch": 8, "encoder_dim": 16, "encoder_depth": 1}
VIT["encoder_heads"] = 2
PRETRAIN = {"steps": 3, "batch_size": 8, "warmup_steps": 1, "log_every": 1, "probe_every": 0}
PRETRAIN.update(checkpoint_every=0, threads=1, probe_frames=20, predictor_dim=8)


@pytest.fixture(scope="module")
def few_labels():
    spec = importlib.util.spec_from_file_location("few_labels", ROOT / "benchmarks/few_labels.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["few_labels"] = module
    spec.loader.exec_module(module)
    return module


def test_curve_with_and_without_pretraining_resumes_and_renders(
    few_labels, tiny_cfg, tmp_path, capsys, monkeypatch
):
    for key, value in VIT.items():
        setattr(tiny_cfg.model, key, value)
    for key, value in PRETRAIN.items():
        setattr(tiny_cfg.pretrain, key, value)
    tiny_cfg.train.steps, tiny_cfg.train.probe_every, tiny_cfg.train.checkpoint_every = 3, 0, 0
    tiny_cfg.eval.episodes, tiny_cfg.eval.max_steps = 2, 4
    tiny_cfg.plan.samples, tiny_cfg.plan.iterations = 8, 1
    config = tmp_path / "tiny.yaml"
    save_config(tiny_cfg, config)
    out, runs = tmp_path / "few_labels_tiny.json", tmp_path / "runs"
    argv = ["--env", str(config), "--sizes", "3,all", "--out", str(out), "--runs", str(runs)]
    few_labels.main([*argv, "--quiet"])

    result = json.loads(out.read_text())
    assert result["sizes"] == [3, 6] and result["all_episodes"] == 6
    assert result["reduced"]["config"].endswith("not a configs/pretrain preset")
    points = {(p["arm"], p["episodes"]): p for p in result["points"]}
    assert set(points) == {(arm, n) for arm in ("without", "with") for n in (3, 6)}
    for n in (3, 6):
        with_, without = points["with", n], points["without", n]
        assert 0.0 <= with_["success_rate"] <= 1.0 and with_["eval_episodes"] == 2
        assert with_["encoder_init"] == str(runs / "pretrain" / "encoder")
        assert with_["freeze_encoder"] and without["encoder_init"] is None
        # frozen: the trained backbone is the pretrained one, bit for bit; from scratch it is not
        assert with_["backbone_vs_pretrained"] == {"equal": True, "relative_distance": 0.0}
        assert not without["backbone_vs_pretrained"]["equal"]
        assert without["backbone_vs_pretrained"]["relative_distance"] > 0
        assert with_["stages"]["train"]["wall_seconds"] > 0
    assert result["stages"]["pretrain"]["cpu_seconds"] > 0 and result["pretrain"]["steps"] == 3
    assert len(result["load_average_1min"]) == 2 and result["provenance"]["commit"]

    capsys.readouterr()
    few_labels.main([*argv, "--quiet"])  # everything is finished: nothing trains again
    printed = capsys.readouterr().out
    assert printed.count("done, reused") == 4 and "training" not in printed
    again = json.loads(out.read_text())
    assert [p["success_rate"] for p in again["points"]] == [
        p["success_rate"] for p in result["points"]
    ]

    few_labels.main([*argv, "--quiet", "pretrain.steps=2"])  # only the action-free arm re-runs
    printed = capsys.readouterr().out
    assert "without the action-free stage, 3 labelled episodes: done, reused" in printed
    assert "without the action-free stage, 6 labelled episodes: done, reused" in printed
    assert printed.count("done, reused") == 2
    assert printed.count("labelled episodes: training") == 2
    assert json.loads(out.read_text())["pretrain"]["steps"] == 2
    few_labels.main([*argv, "--quiet", "pretrain.steps=2", "--arms", "without"])
    printed = capsys.readouterr().out  # one arm: its points reused, the other's kept
    assert printed.count("done, reused") == 2 and "with the action-free" not in printed
    assert len(json.loads(out.read_text())["points"]) == 4

    # --jobs 2: the same points, trained two at a time in their own processes
    parallel = tmp_path / "parallel" / "few_labels_tiny.json"  # beside it, not rendered below
    parallel.parent.mkdir()
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # spawned workers import the module
    side_by_side = ["--out", str(parallel), "--runs", str(tmp_path / "runs_parallel")]
    few_labels.main([*argv[:4], *side_by_side, "--quiet", "--jobs", "2"])
    both = json.loads(parallel.read_text())
    assert [(p["arm"], p["episodes"]) for p in both["points"]] == [
        (p["arm"], p["episodes"]) for p in result["points"]
    ]
    for alone, side_by_side in zip(result["points"], both["points"], strict=True):
        assert side_by_side["backbone_vs_pretrained"]["relative_distance"] == pytest.approx(
            alone["backbone_vs_pretrained"]["relative_distance"], rel=1e-4
        )
        assert side_by_side["stages"]["train"]["wall_seconds"] > 0
    with pytest.raises(SystemExit, match="--jobs 0"):
        few_labels.main([*argv, "--jobs", "0"])

    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- few_labels:begin -->\nold\n<!-- few_labels:end -->\ntail\n")
    figures = few_labels.render(tmp_path, tmp_path / "figures", doc)
    assert [f.name for f in figures] == ["few_labels_tiny.png"] and figures[0].stat().st_size
    text = doc.read_text()
    assert text.startswith("intro\n") and text.endswith("tail\n") and "old" not in text
    assert "**Reduced run**" in text and "| 6 (all) |" in text
    # each point names the invocation that measured it: the last one trained none of these
    first, steps2 = (" ".join(["python benchmarks/few_labels.py", *argv, "--quiet", *extra])
                     for extra in ([], ["pretrain.steps=2"]))  # fmt: skip
    assert f"Points without 3, without all measured by `{first}`" in text
    assert f"Points with 3, with all measured by `{steps2}`" in text


def test_the_tenth_criterion_is_a_fraction_of_what_all_labels_give(few_labels):
    def point(arm, episodes, success):
        return {"arm": arm, "episodes": episodes, "success_rate": success}

    points = [point("with", 10, 0.45), point("with", 100, 0.9), point("without", 100, 0.5)]
    result = {"all_episodes": 100, "points": [*points, point("with", 20, 0.8)]}
    assert few_labels.tenth_reaches(result) == {
        "episodes": 10,
        "success_rate": 0.45,
        "fraction_of_all_with": 0.5,
        "fraction_of_all_without": 0.9,
    }
    nothing = [point("with", 10, 0.0), point("with", 100, 0.0), point("without", 100, 0.0)]
    tenth = few_labels.tenth_reaches({"all_episodes": 100, "points": nothing})
    assert tenth["fraction_of_all_with"] is None and tenth["fraction_of_all_without"] is None
    assert few_labels.tenth_reaches({"all_episodes": 100, "points": points[:1]}) is None
