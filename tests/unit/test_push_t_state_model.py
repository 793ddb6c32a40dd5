"""benchmarks/push_t_state_model.py: the symmetric copies of an episode are episodes the
simulator makes, and the features round-trip to states."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("gym_pusht", reason="PushT needs the optional package gym_pusht")

from monde.envs.push_t import PushTConfig, PushTTask, angle_gap  # noqa: E402

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


true_dynamics = _load("push_t_true_dynamics")
state_model = _load("push_t_state_model")


def test_the_simulator_moves_each_symmetric_copy_as_it_moves_the_original() -> None:
    task = PushTTask(PushTConfig())
    sim = task.make()
    sim.reset(seed=0)
    rng = np.random.default_rng(0)
    moved = 0.0
    for _ in range(4):
        start = np.array([0, 0, *rng.uniform(200, 310, 2), rng.uniform(-3, 3)])
        start[0:2] = start[2:4] + rng.uniform(-60, 60, 2)  # the pusher beside the block
        actions = rng.uniform(-1, 1, (1, 3, 5, 2))  # 3 model steps of 5 env steps
        at_rest = (0.0, 0.0), (0.0, 0.0), 0.0
        states = true_dynamics.simulate(task, sim, (start, *at_rest), actions)[0]  # (3, 5)
        episode = np.concatenate([start[None], states]).astype(np.float32)  # (4, 5)
        moved += float(np.linalg.norm(states[-1, 2:4] - start[2:4]))
        copies = state_model.symmetric_copies(episode, actions[0].reshape(3, 10))
        assert len(copies) == 8
        for s, a in copies:
            replay = true_dynamics.simulate(
                task, sim, (s[0].astype(np.float64), *at_rest), a.reshape(1, 3, 5, 2)
            )[0]
            np.testing.assert_allclose(replay[:, :4], s[1:, :4], atol=0.5)  # pixels
            assert angle_gap(replay[:, 4], s[1:, 4]).max() < 0.01  # radians
    assert moved > 20.0  # blocks were pushed: contacts, not only free motion


def test_features_round_trip_to_states() -> None:
    states = torch.tensor([[100.0, 200.0, 300.0, 400.0, 2.5], [0.0, 512.0, 256.0, 1.0, -3.0]])
    torch.testing.assert_close(state_model.to_states(state_model.features(states)), states)
