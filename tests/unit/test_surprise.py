"""AUROC, the sign test and the pairing of surprise curves: exact values."""

import math

import numpy as np
import pytest
import torch

from monde.config import ModelConfig
from monde.eval.surprise import (
    auroc,
    sign_test_p,
    summarise_pairs,
    surprise_curves,
    to_model_rate,
)
from monde.models.world_model import WorldModel


def test_auroc_exact_values():
    assert auroc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert auroc([0.3, 0.4], [0.1, 0.2]) == 0.0
    assert auroc([1.0, 1.0], [1.0]) == 0.5  # all tied
    # pairs (neg, pos): (1,2) win, (3,2) loss, (1,4) win, (3,4) win → 3/4
    assert auroc([1.0, 3.0], [2.0, 4.0]) == 0.75
    # a tie counts one half: (2,2) ½, (2,3) 1, (5,2) 0, (5,3) 0 → 1.5 / 4
    assert auroc([2.0, 5.0], [2.0, 3.0]) == 0.375


def test_auroc_matches_brute_force():
    rng = np.random.default_rng(0)
    neg, pos = rng.integers(0, 5, 40).astype(float), rng.integers(1, 6, 30).astype(float)
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert auroc(neg, pos) == pytest.approx(brute, abs=1e-12)


def test_auroc_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="both classes"):
        auroc([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        auroc([np.nan], [1.0])


def test_sign_test_exact():
    assert sign_test_p(10, 10) == 2.0**-10
    assert sign_test_p(0, 10) == 1.0
    assert sign_test_p(9, 10) == pytest.approx(11 / 1024)
    assert sign_test_p(3, 4) == pytest.approx((math.comb(4, 3) + 1) / 16)


def test_to_model_rate_picks_frames_and_concatenates_actions():
    frames = np.arange(11)[None, :, None, None, None] * np.ones((2, 11, 1, 1, 1), np.uint8)
    actions = np.arange(20, dtype=np.float32).reshape(1, 10, 2).repeat(2, 0)  # (B, T, 2)
    f, a, ev = to_model_rate(frames, actions, np.array([5, 6]), frameskip=5)
    assert f.shape[1] == 3 and f[0, :, 0, 0, 0].tolist() == [0, 5, 10]
    assert a.shape == (2, 2, 10) and a[0, 1].tolist() == list(range(10, 20))
    assert ev.tolist() == [1, 2]  # first model frame at or after the env event


def test_summarise_pairs_scores_and_curves():
    phys = torch.tensor([[0.1, 0.1, 0.1, 0.1], [0.2, 0.2, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]])
    imp = torch.tensor([[0.1, 0.1, 0.9, 0.3], [0.2, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]])
    out = summarise_pairs(phys, imp, np.array([3, 2, 9]), window=(-1, 1))
    assert out["pairs"] == 2 and out["dropped_identical_pairs"] == 1  # event 9 > 4 frames
    assert out["auroc"] == 1.0 and out["paired_accuracy"] == 1.0
    assert out["curve_offsets"] == [-1, 0, 1]
    # offset 0 is the surprise of the event frame: columns 2 and 1
    assert out["curve_impossible"][1] == pytest.approx((0.9 + 0.5) / 2)
    assert out["curve_physical"][1] == pytest.approx((0.1 + 0.2) / 2)
    assert out["sign_test_p"] == pytest.approx(0.25)


def test_surprise_of_a_proprio_model_reads_the_clip_states():
    cfg = ModelConfig(image_size=16, encoder_channels=(8, 8), latent_dim=8, proprio=["x"])
    cfg.resolve_proprio(["x", "y"], "clips")
    model = WorldModel(cfg).eval()
    frames = np.zeros((3, 4, 16, 16, 3), np.uint8)  # (B, T+1, ...)
    actions = np.zeros((3, 3, model.action_dim), np.float32)
    still = np.zeros((3, 4, 2), np.float32)
    jump = still.copy()
    jump[:, 2:, 0] = 5.0  # the proprioception says x jumped at frame 2; the pixels do not
    assert surprise_curves(model, frames, actions, 1.0, states=still).shape == (3, 3)
    calm = surprise_curves(model, frames, actions, 1.0, states=still)
    jumped = surprise_curves(model, frames, actions, 1.0, states=jump)
    assert not torch.allclose(calm[:, 1], jumped[:, 1])
    with pytest.raises(ValueError, match="pass the states"):
        surprise_curves(model, frames, actions, 1.0)
