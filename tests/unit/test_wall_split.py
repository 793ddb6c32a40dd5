"""Held-out walls: 'train' and 'heldout' scenes fall on opposite colours of a checkerboard."""

import numpy as np
import pytest

from monde.config import EnvConfig
from monde.envs import make_env
from monde.envs.two_room import TwoRoomConfig, sample_task


def colour(state: np.ndarray, cfg: TwoRoomConfig) -> int:
    (w0, w1), (d0, d1) = cfg.wall_x_range, cfg.door_y_range
    u, v = (state[2] - w0) / (w1 - w0), (state[3] - d0) / (d1 - d0)
    return (int(u * cfg.split_cells) + int(v * cfg.split_cells)) % 2


@pytest.mark.parametrize(("split", "expected"), [("train", 0), ("heldout", 1)])
def test_split_scenes_have_one_colour(split, expected):
    cfg = TwoRoomConfig(random_wall=True, scene_split=split, split_cells=4)
    colours = {colour(sample_task(seed, cfg)[0], cfg) for seed in range(300)}
    assert colours == {expected}


def test_all_split_covers_both_colours_and_bad_split_raises():
    cfg = TwoRoomConfig(random_wall=True)
    assert {colour(sample_task(seed, cfg)[0], cfg) for seed in range(100)} == {0, 1}
    with pytest.raises(ValueError, match="scene_split"):
        TwoRoomConfig(random_wall=True, scene_split="test")


@pytest.mark.parametrize(
    "cfg",
    [
        EnvConfig(options={"random_wall": True}, heldout_scenes=True),
        EnvConfig(random_wall=True, heldout_walls=True),  # the keys of older configs
    ],
)
def test_env_config_routes_splits_to_collection_and_evaluation(cfg: EnvConfig):
    train = make_env("two_room", 50, **cfg.env_kwargs("collect"))
    heldout = make_env("two_room", 50, **cfg.env_kwargs("eval"))
    train.reset(range(50))
    heldout.reset(range(50))
    tr_cfg = TwoRoomConfig(random_wall=True)
    assert {colour(s, tr_cfg) for s in train.state()} == {0}
    assert {colour(s, tr_cfg) for s in heldout.state()} == {1}


def test_older_env_keys_load_into_options_and_are_not_written_back():
    from monde.config_io import to_dict

    old = EnvConfig(random_wall=True, heldout_walls=True)
    assert old.options == {"random_wall": True} and old.heldout_scenes
    assert to_dict(old) == to_dict(EnvConfig(options={"random_wall": True}, heldout_scenes=True))
    assert "random_wall" not in to_dict(old) and "heldout_walls" not in to_dict(old)
    assert EnvConfig(name="reacher", random_wall=False).options == {}  # false was the default


def test_held_out_scenes_need_an_env_that_offers_them():
    with pytest.raises(ValueError, match="need env.options.random_wall: true"):
        make_env("two_room", 1, **EnvConfig(heldout_scenes=True).env_kwargs("eval"))
    with pytest.raises(ValueError, match="offers no held-out scenes"):
        make_env(
            "point_maze", 1, **EnvConfig(name="point_maze", heldout_scenes=True).env_kwargs("eval")
        )
