"""benchmarks/token_sensitivity.py: distances of tokens under a move and under a scene change."""

import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "token_sensitivity.py"
spec = importlib.util.spec_from_file_location("token_sensitivity", SCRIPT)
token_sensitivity = importlib.util.module_from_spec(spec)
spec.loader.exec_module(token_sensitivity)


def test_sensitivity_is_the_ratio_of_mean_token_distances():
    def tokens(x):  # (N, 1, 1, 2) frames → (N, 1, 2) tokens: the identity
        return x.reshape(len(x), 1, 2)

    now = torch.tensor([[0.0, 0.0], [1.0, 1.0]]).reshape(2, 1, 1, 2)
    moved = now + torch.tensor([[3.0, 4.0], [0.0, 1.0]]).reshape(2, 1, 1, 2)  # distances 5, 1
    other = now + torch.tensor([[6.0, 8.0], [0.0, 10.0]]).reshape(2, 1, 1, 2)  # 10, 10
    row = token_sensitivity.sensitivity(tokens, now, moved, other)
    assert row["agent_move"] == pytest.approx(3.0) and row["scene_change"] == pytest.approx(10.0)
    assert row["ratio"] == pytest.approx(0.3)
    assert row["token_std_across_frames"] == pytest.approx(0.70710678)  # std of (0, 1) per dim
