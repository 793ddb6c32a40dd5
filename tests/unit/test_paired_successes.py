"""benchmarks/paired_successes.py: two evaluations of the same seeds, compared pair by pair."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "paired_successes", ROOT / "benchmarks/paired_successes.py"
)
paired = importlib.util.module_from_spec(spec)
spec.loader.exec_module(paired)


def test_sign_test_exact_values() -> None:
    assert paired.two_sided_sign_test(0, 0) == 1.0
    assert paired.two_sided_sign_test(3, 3) == 1.0  # 2 · P(X ≤ 3 | n 6) = 2 · 42 / 64 > 1
    assert paired.two_sided_sign_test(0, 5) == pytest.approx(2 / 32)
    assert paired.two_sided_sign_test(8, 2) == pytest.approx(2 * 56 / 1024)  # 1 + 10 + 45
    assert paired.two_sided_sign_test(520, 520) == 1.0  # counts past a float's 2**1024
    assert 0 < paired.two_sided_sign_test(450, 590) < 1e-4
    with pytest.raises(ValueError, match="≥ 0"):
        paired.two_sided_sign_test(-1, 2)


def test_episodes_pair_by_seed() -> None:
    a = {10: True, 11: True, 12: False, 13: False, 14: True}
    b = {14: True, 13: True, 12: False, 11: False, 10: True}
    found = paired.paired_successes(a, b)
    assert found == {
        "episodes": 5,
        "successes_a": 3,
        "successes_b": 3,
        "both": 2,
        "only_a": 1,
        "only_b": 1,
        "neither": 1,
        "sign_test_p": 1.0,
    }
    with pytest.raises(ValueError, match="different episodes: 2 seeds in one only"):
        paired.paired_successes(a, {**{k: v for k, v in b.items() if k != 10}, 99: True})


def test_results_json_without_episodes_is_refused_naming_it(tmp_path) -> None:
    good = {"episodes": [{"seed": 1, "success": True}, {"seed": 2, "success": False}]}
    assert paired.episode_successes(good, "a.json") == {1: True, 2: False}
    evaluated = {"results": {"planner": {"episode_seeds": [4, 5, 6], "succeeded_seeds": [5]}}}
    assert paired.episode_successes(evaluated, "e.json") == {4: False, 5: True, 6: False}
    # an episode at its goal at the start is left out, as the evaluation's row leaves it out
    replayed = [{"seed": 3, "success": True, "steps": 0}, {"seed": 4, "success": 0, "steps": 9}]
    replayed += [{"seed": 5, "success": True, "steps": 4}, {"seed": 6, "success": 0, "steps": 9}]
    assert paired.episode_successes({"episodes": replayed}, "r.json") == paired.episode_successes(
        evaluated, "e.json"
    )
    for seeds, succeeded, why in (([4, 4], [4], "repeat a seed"), ([4], [5], "not in episode")):
        row = {"episode_seeds": seeds, "succeeded_seeds": succeeded}
        with pytest.raises(ValueError, match=f"f.json: .*{why}"):
            paired.episode_successes({"results": {"planner": row}}, "f.json")
    with pytest.raises(ValueError, match="b.json: no field 'episodes'"):
        paired.episode_successes({"planner": {}}, "b.json")
    with pytest.raises(ValueError, match=r"c.json: episodes\[1\] lacks 'seed'"):
        paired.episode_successes({"episodes": [{"seed": 1, "success": 1}, {"x": 2}]}, "c.json")
    with pytest.raises(ValueError, match=r"d.json: episodes\[1\]: seed 1 appears twice"):
        paired.episode_successes({"episodes": [good["episodes"][0]] * 2}, "d.json")


def test_the_script_writes_its_counts(tmp_path, monkeypatch, capsys) -> None:
    episodes = [{"seed": s, "success": s < 7} for s in range(10)]
    better = [{"seed": s, "success": True} for s in range(10)]
    (tmp_path / "a.json").write_text(json.dumps({"episodes": episodes}))
    (tmp_path / "b.json").write_text(json.dumps({"episodes": better}))
    out = tmp_path / "out.json"
    argv = ["paired", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    paired.main()
    written = json.loads(out.read_text())
    assert written["pairs"] == [[str(tmp_path / "a.json"), str(tmp_path / "b.json")]]
    assert (written["successes_a"], written["successes_b"], written["only_b"]) == (7, 10, 3)
    assert written["sign_test_p"] == pytest.approx(2 / 8)
    assert "A 7 / B 10 of 10" in capsys.readouterr().out


def test_pairs_on_disjoint_seeds_pool(tmp_path) -> None:
    def write(name: str, wins: dict[int, bool]) -> Path:
        episodes = [{"seed": s, "success": ok, "steps": 5} for s, ok in wins.items()]
        (tmp_path / name).write_text(json.dumps({"episodes": episodes}))
        return tmp_path / name

    a1, b1 = write("a1", {1: True, 2: False}), write("b1", {1: True, 2: True})
    a2, b2 = write("a2", {7: False}), write("b2", {7: True})
    a, b = paired.pooled_successes([a1, b1, a2, b2])
    assert paired.paired_successes(a, b)["only_b"] == 2
    with pytest.raises(ValueError, match="in pairs A B"):
        paired.pooled_successes([a1, b1, a2])
    with pytest.raises(ValueError, match="a1: seed 1 is also in another file of its side"):
        paired.pooled_successes([a1, b1, a1, b1])
