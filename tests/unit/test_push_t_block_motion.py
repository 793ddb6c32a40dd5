"""benchmarks/push_t_block_motion.py: the block's displacement at the model's rate."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "push_t_block_motion", ROOT / "benchmarks/push_t_block_motion.py"
)
motion = importlib.util.module_from_spec(spec)
spec.loader.exec_module(motion)


def test_block_motion_measures_the_block_at_the_model_rate() -> None:
    # 11 env steps, frameskip 5: model-rate states 0, 5, 10; the block moves 3 px in x and
    # turns 0.1 rad per env step, the pusher (ignored) jumps
    t = np.arange(11, dtype=float)
    states = np.stack([100 * t, -t, 3 * t, np.zeros(11), 0.1 * t], axis=1)
    still = np.tile([[0.0, 0.0, 50.0, 60.0, 1.0]], (11, 1))
    out = motion.block_motion([states, still], frameskip=5, horizon=2)
    assert out["steps"] == [1, 2]
    assert out["windows"] == [4, 2]  # 2 windows of 1 step per episode, 1 of 2 steps
    # h = 1: displacements 15, 15 px (moving) and 0, 0 (still) → RMS sqrt(450 / 4)
    np.testing.assert_allclose(out["block_x"], [np.sqrt(450 / 4), np.sqrt(900 / 2)])
    assert out["block_y"] == [0.0, 0.0]
    np.testing.assert_allclose(out["block_angle"], [np.sqrt(0.5**2 * 2 / 4), 1.0 / np.sqrt(2)])
    assert out["moved"] == [0.5, 0.5]


def test_block_motion_needs_an_episode_longer_than_the_horizon() -> None:
    with pytest.raises(ValueError, match="no episode has more than 2 model steps"):
        motion.block_motion([np.zeros((6, 5))], frameskip=5, horizon=2)
