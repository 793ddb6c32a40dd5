"""Scene novelty reads the training scenes from the store the model was trained on."""

from pathlib import Path

import numpy as np
import pytest

from monde.config import DataConfig, EnvConfig
from monde.data.collect import collect
from monde.data.lineage import record_training_data, training_data_of
from monde.data.store import EpisodeStore
from monde.eval.novelty import scene_novelty, training_scenes

TRAIN_WALLS = (0.35, 0.65)  # TwoRoom's default wall_x_range


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder whose data/ store holds 12 short random-wall episodes."""
    run = tmp_path_factory.mktemp("run")
    env_cfg = EnvConfig(image_size=16, options={"random_wall": True})
    data_cfg = DataConfig(episodes=12, steps_per_episode=3, num_envs=4, policy="random")
    collect(env_cfg, data_cfg, run / "data", progress=False)
    (run / "model").mkdir()
    return run


def test_training_scenes_are_the_stored_first_states(run_dir: Path) -> None:
    store = EpisodeStore(run_dir / "data")
    scenes = training_scenes(run_dir / "data", None, ("wall_x", "door_y"))
    assert scenes is not None and scenes.shape == (12, 2)
    names = store.meta["features"]["states"]["names"]
    columns = [names.index("wall_x"), names.index("door_y")]
    expected = [store[i].states[0, columns] for i in range(12)]
    np.testing.assert_array_equal(scenes, np.stack(expected))
    assert ((scenes[:, 0] >= TRAIN_WALLS[0]) & (scenes[:, 0] <= TRAIN_WALLS[1])).all()
    assert training_scenes(run_dir / "data", None, ("no_such_column",)) is None


def test_an_eval_time_override_moves_the_novelty(run_dir: Path) -> None:
    seeds = range(10_000, 10_020)
    same = scene_novelty(
        run_dir / "model", EnvConfig(image_size=16, options={"random_wall": True}), seeds
    )
    moved_cfg = EnvConfig(
        image_size=16, options={"random_wall": True, "wall_x_range": [0.67, 0.75]}
    )
    moved = scene_novelty(run_dir / "model", moved_cfg, seeds)
    assert same is not None and moved is not None
    assert moved["training_scenes"] == 12
    # every evaluation wall is at least 0.67 − 0.65 = 0.02 from every training wall
    assert moved["min_distance_to_training"] >= 0.02 - 1e-6
    assert moved["median_distance_to_training"] > same["median_distance_to_training"]


def test_the_recorded_split_is_used_and_missing_data_is_said(run_dir: Path, tmp_path: Path) -> None:
    other_run = tmp_path / "elsewhere"
    (other_run / "model").mkdir(parents=True)
    cfg = EnvConfig(image_size=16, options={"random_wall": True})
    missing = scene_novelty(other_run / "model", cfg, range(3))
    assert missing is not None and "unavailable" in missing
    record_training_data(other_run, EpisodeStore(run_dir / "data"), [0, 1, 2])
    assert training_data_of(other_run / "model") == ((run_dir / "data").resolve(), [0, 1, 2])
    # a checkpoint of the run reads the same record
    checkpoint = other_run / "checkpoints" / "step-000000010"
    assert training_data_of(checkpoint) == ((run_dir / "data").resolve(), [0, 1, 2])
    found = scene_novelty(other_run / "model", cfg, range(3))
    assert found is not None and found["training_scenes"] == 3
