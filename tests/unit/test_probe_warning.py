"""Training warns when the held-out probe R² of the agent's position columns (declared by the
env's registry entry and passed to train_run) falls below 0.5: only for those columns."""

import numpy as np
import pytest
import torch

from monde.config import RunConfig
from monde.config_io import from_dict
from monde.data.sampler import WindowSampler
from monde.data.store import EpisodeStore
from monde.envs.registry import ENV_REGISTRY
from monde.models.world_model import WorldModel
from monde.train.fit import fit
from monde.train.run import make_probe_data
from monde.types import Episode


def _episode(seed: int, steps: int = 12) -> Episode:
    rng = np.random.default_rng(seed)  # states unrelated to the frames: probe R² ≤ 0
    return Episode(
        rng.integers(0, 255, (steps + 1, 16, 16, 3), dtype=np.uint8),
        rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
        rng.normal(size=(steps + 1, 2)).astype(np.float32),
    )


@pytest.mark.parametrize("position", [(), ENV_REGISTRY["two_room"].position])
def test_low_position_probe_r2_warns_only_for_the_declared_columns(tmp_path, capsys, position):
    cfg = from_dict(
        RunConfig,
        {
            "model": {"image_size": 16, "encoder_channels": [4, 8], "latent_dim": 8,
                      "predictor_dim": 8, "frameskip": 2},
            "train": {"steps": 2, "batch_size": 4, "warmup_steps": 1, "rollout_steps": 2,
                      "log_every": 1, "checkpoint_every": 0, "probe_every": 1, "threads": 1},
        },
    )  # fmt: skip
    episodes = [_episode(i) for i in range(4)]
    store = EpisodeStore.create(tmp_path / "d", info={}, chunk_frames=4, shard_frames=16)
    store.extend(episodes)
    sampler = WindowSampler.from_store(store.path, 3, 2)
    probe = make_probe_data(episodes[:2], episodes[2:], ["agent_x", "agent_y"], position=position)
    torch.manual_seed(0)
    fit(WorldModel(cfg.model), sampler, cfg.train, tmp_path / "run", probe=probe, progress=False)
    warned = "agent-position probe R²" in capsys.readouterr().out
    assert warned == bool(position)
