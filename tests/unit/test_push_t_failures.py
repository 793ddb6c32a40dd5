"""benchmarks/push_t_failures.py: the pose errors, the failure kinds and a replayed batch."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gym_pusht", reason="PushT needs the optional package gym_pusht")

from monde.config import ModelConfig, RunConfig  # noqa: E402
from monde.config_io import load_config  # noqa: E402
from monde.envs.registry import close_env, make_env  # noqa: E402
from monde.models.world_model import WorldModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "push_t_failures", ROOT / "benchmarks/push_t_failures.py"
)
failures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(failures)


def test_pose_errors_measure_the_block_not_the_pusher_and_wrap_the_angle() -> None:
    states = np.array([[0.0, 0.0, 100.0, 100.0, 0.1], [50.0, 50.0, 103.0, 104.0, 6.2]])
    goals = np.array([[400.0, 400.0, 100.0, 100.0, -0.1]] * 2)
    distance, angle = failures.pose_errors(states, goals)
    np.testing.assert_allclose(distance, [0.0, 5.0])
    np.testing.assert_allclose(angle, [0.2, abs(6.2 + 0.1 - 2 * np.pi)], atol=1e-12)


@pytest.mark.parametrize(
    ("distance", "angle", "success", "kind"),
    [
        (50.0, 1.0, True, "success"),  # success is the env's word, whatever the last pose
        (25.0, 0.40, False, "near_miss"),  # 1.25 and 1.33 of the thresholds
        (29.0, 0.10, False, "near_miss"),
        (31.0, 0.10, False, "position"),  # 1.55 × the distance threshold
        (10.0, 0.50, False, "angle"),
        (40.0, 0.50, False, "both"),
    ],
)
def test_a_failure_is_classified_by_its_closest_approach(distance, angle, success, kind) -> None:
    assert failures.classify(distance, angle, success, 20.0, 0.3) == kind


def test_summary_counts_each_kind_and_compares_the_goals() -> None:
    rows = [
        {"kind": "success", "success": True, "start_distance": 50.0, "start_angle": 0.2},
        {"kind": "angle", "success": False, "start_distance": 90.0, "start_angle": 0.7},
        {"kind": "both", "success": False, "start_distance": 70.0, "start_angle": 0.5},
    ]
    for r in rows:
        r.update(closest_distance=10.0, closest_angle=0.5, final_distance=12.0, final_angle=0.6)
        r.update(final_pusher_to_goal_pusher=5.0, final_pusher_to_block=90.0)
        r.update(closest_step=4 if r["kind"] == "angle" else 8, pusher_to_block_at_closest=30.0)
        r["block_moved_closer"] = r["kind"] != "both"
    s = failures.summary(rows)
    assert s["failures"] == {"near_miss": 0, "angle": 1, "position": 0, "both": 1}
    assert s["failures_block_moved_closer"] == 1
    assert s["median_start_distance"] == {"success": 50.0, "failure": 80.0}
    assert s["median_start_angle"] == {"success": 0.2, "failure": pytest.approx(0.6)}
    assert s["failure_median_final_pusher_to_block"] == 90.0
    assert s["failure_median_closest_step"] == 6.0  # the failures' 4 and 8
    assert s["failure_median_pusher_to_block_at_closest"] == 30.0


def test_a_replayed_batch_starts_from_the_evaluation_episodes_and_is_seeded() -> None:
    cfg = load_config(
        RunConfig,
        ROOT / "configs/push_t.yaml",
        ["plan.samples=8", "plan.topk=2", "plan.iterations=1", "eval.max_steps=10"],
    )
    model = WorldModel(ModelConfig(latent_dim=8, predictor_dim=16, frameskip=5)).eval()
    rows = failures.run_batch(model, cfg, first=3, count=2)
    again = failures.run_batch(model, cfg, first=3, count=2)
    assert [r["seed"] for r in rows] == [cfg.eval.seed + 3, cfg.eval.seed + 4]
    assert rows == again  # the planner's seed and the episodes' seeds fix everything
    env = make_env("push_t", 2, **cfg.env.env_kwargs("eval"))
    env.reset([cfg.eval.seed + 3, cfg.eval.seed + 4])
    distance, angle = failures.pose_errors(env.state(), env.goal_state())
    close_env(env)
    np.testing.assert_allclose([r["start_distance"] for r in rows], distance, rtol=1e-6)
    np.testing.assert_allclose([r["start_angle"] for r in rows], angle, rtol=1e-6)
    assert all(
        r["steps"] == 10 and r["kind"] in ("near_miss", "angle", "position", "both") for r in rows
    )
    for r in rows:  # after the reset and after each of the 2 model steps in 10 env steps
        assert len(r["margin_trace"]) == len(r["pusher_to_block_trace"]) == 3
        assert r["margin_trace"][r["closest_step"]] == min(r["margin_trace"])
        # two planning calls, the second from where the first plan led
        assert len(r["current_cost_trace"]) == len(r["planned_cost_trace"]) == 2
        assert all(c is not None and c >= 0 for c in r["current_cost_trace"])
        assert all(1 <= h <= cfg.plan.horizon for h in r["planned_closest_step_trace"])
        assert len(r["planned_next_cost_trace"]) == 2
        assert r["margin_trace"][0] == pytest.approx(
            max(r["start_distance"] / 20.0, r["start_angle"] / 0.3), abs=0.005
        )
