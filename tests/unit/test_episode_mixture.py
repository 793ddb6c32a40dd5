"""EpisodeMixture: each episode of a batch follows one of two collection policies."""

from types import SimpleNamespace

import numpy as np
import pytest

from monde.envs.policies import (
    PUSHT_FREE_SHARE,
    EpisodeMixture,
    PushTPusher,
    SmoothRandomPolicy,
    make_policy,
)


class Constant:
    """Acts `value` in every dim; counts its resets and steps."""

    def __init__(self, value: float, num_envs: int) -> None:
        self.value, self.num_envs = value, num_envs
        self.resets = self.steps = 0

    def reset(self, states: np.ndarray) -> None:
        self.resets += 1

    def act(self, states: np.ndarray) -> np.ndarray:
        self.steps += 1
        return np.full((self.num_envs, 2), self.value, np.float32)


def test_each_episode_follows_one_policy_drawn_at_its_start() -> None:
    main, other = Constant(1.0, 8), Constant(-1.0, 8)
    mix = EpisodeMixture(main, other, num_envs=8, seed=3, share=0.5)
    mix.reset(np.zeros((8, 5)))
    first = mix.act(np.zeros((8, 5)))
    for _ in range(4):  # the draw holds for the whole episode
        np.testing.assert_array_equal(mix.act(np.zeros((8, 5))), first)
    np.testing.assert_array_equal(first[:, 0], np.where(mix.uses_other, -1.0, 1.0))
    # both policies see every reset and step, whatever was drawn
    assert (main.resets, main.steps) == (other.resets, other.steps) == (1, 5)


@pytest.mark.parametrize(("share", "value"), [(0.0, 1.0), (1.0, -1.0)])
def test_share_zero_and_one_are_the_two_policies(share: float, value: float) -> None:
    mix = EpisodeMixture(Constant(1.0, 4), Constant(-1.0, 4), 4, seed=0, share=share)
    mix.reset(np.zeros((4, 5)))
    assert (mix.act(np.zeros((4, 5))) == value).all()


def test_the_draw_is_seeded_and_near_its_share() -> None:
    def draws(seed: int) -> np.ndarray:
        mix = EpisodeMixture(Constant(1.0, 2000), Constant(-1.0, 2000), 2000, seed, share=0.25)
        mix.reset(np.zeros((2000, 5)))
        return mix.uses_other.copy()

    np.testing.assert_array_equal(draws(7), draws(7))
    assert not np.array_equal(draws(7), draws(8))
    assert abs(draws(7).mean() - 0.25) < 0.03  # 2000 draws: ±3 standard deviations ≈ 0.029


def test_a_share_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"share must be in \[0, 1\], got 1.5"):
        EpisodeMixture(Constant(1.0, 1), Constant(-1.0, 1), 1, seed=0, share=1.5)


def test_pusht_pusher_and_free_mixes_scripted_pushes_with_held_random_moves() -> None:
    env = SimpleNamespace(num_envs=6, action_dim=2)
    policy = make_policy("pusht_pusher_and_free", env, seed=5)
    assert isinstance(policy, EpisodeMixture) and policy.share == PUSHT_FREE_SHARE
    assert isinstance(policy.main, PushTPusher) and isinstance(policy.other, SmoothRandomPolicy)
    states = np.tile([[100.0, 100.0, 256.0, 256.0, 0.0]], (6, 1))
    policy.reset(states)
    actions = policy.act(states)
    assert actions.shape == (6, 2) and actions.dtype == np.float32
    assert (np.abs(actions) <= 1).all()
