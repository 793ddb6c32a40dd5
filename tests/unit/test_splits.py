"""The one train / held-out rule (monde/data/splits.py) that training, eval and the report share."""

import pytest

from monde.data.splits import split_episodes


@pytest.mark.parametrize(
    ("n", "val_fraction", "n_train"),
    [(10, 0.1, 9), (10, 0.15, 8), (10, 0.0, 10), (3, 0.5, 1), (1, 0.5, 1), (4, 1.0, 1)],
)
def test_last_ceil_fraction_is_held_out_and_one_episode_stays(n, val_fraction, n_train):
    train, held_out = split_episodes(range(n), val_fraction)
    assert train == list(range(n_train))
    assert held_out == list(range(n_train, n))


def test_splits_episodes_themselves_as_it_splits_their_indices():
    episodes = ["a", "b", "c", "d", "e"]
    assert split_episodes(episodes, 0.2) == (["a", "b", "c", "d"], ["e"])
