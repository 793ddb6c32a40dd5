"""benchmarks/push_t_true_dynamics.py: the simulator copy predicts the env, and the pose cost."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gym_pusht", reason="PushT needs the optional package gym_pusht")

from monde.envs.push_t import PushTConfig, PushTTask  # noqa: E402
from monde.envs.registry import make_env  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "push_t_true_dynamics.py"
spec = importlib.util.spec_from_file_location("push_t_true_dynamics", SCRIPT)
true_dynamics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(true_dynamics)


def test_the_simulator_copy_predicts_the_envs_own_steps_through_a_push() -> None:
    env = make_env("push_t", 1)
    env.reset([1_000_003])
    task = PushTTask(PushTConfig())
    sim = task.make()
    sim.reset(seed=0)
    rng = np.random.default_rng(0)
    moved = 0.0
    for _ in range(4):  # model steps of 5 env steps, the pusher driven into the block
        state = env.state()[0].astype(np.float64)
        aim = np.clip((state[2:4] - state[0:2]) / 40.0, -1, 1)
        actions = np.clip(aim + rng.normal(0, 0.3, (5, 2)), -1, 1)  # (fs, 2)
        snap = true_dynamics.snapshot(task, env.envs[0])
        predicted = true_dynamics.simulate(task, sim, snap, actions[None, None])[0, 0]
        for action in actions:
            env.step(action[None])
        after = env.state()[0].astype(np.float64)
        moved += float(np.linalg.norm(after[2:4] - state[2:4]))
        np.testing.assert_allclose(predicted[:4], after[:4], atol=0.5)  # pixels
        assert abs(predicted[4] - after[4]) < 0.01  # radians
    assert moved > 20.0  # the block was pushed: contacts were simulated, not only free motion


def test_pose_cost_sums_the_error_in_success_threshold_units() -> None:
    cfg = PushTConfig()
    goal = np.array([100.0, 100.0, 250.0, 250.0, 1.0])
    states = np.array(
        [
            [100.0, 100.0, 250.0, 250.0, 1.0],  # at the goal: 0
            [100.0, 100.0, 262.0, 266.0, 1.0],  # 20 px away: 1
            [130.0, 140.0, 250.0, 250.0, 1.3],  # 0.3 rad turned, pusher 50 px off: 1 (+ 2.5 w)
        ]
    )  # (H = 3, 5)
    assert true_dynamics.pose_cost(states, goal, cfg, 0.0) == pytest.approx(2.0)
    assert true_dynamics.pose_cost(states, goal, cfg, 2.0) == pytest.approx(7.0)
    wrapped = states.copy()
    wrapped[:, 4] += 2 * np.pi  # angles a full turn apart are the same pose
    assert true_dynamics.pose_cost(wrapped[None], goal, cfg, 0.0) == pytest.approx([2.0])
