import pytest

from monde.config import RunConfig
from monde.config_io import from_dict

TINY = {
    "env": {"image_size": 32},
    "data": {"episodes": 6, "steps_per_episode": 30, "num_envs": 3, "val_fraction": 0.34},
    "model": {
        "image_size": 32,
        "encoder_channels": [8, 16],
        "latent_dim": 8,
        "predictor_dim": 16,
        "frameskip": 2,
    },
    "train": {
        "steps": 6,
        "batch_size": 4,
        "warmup_steps": 2,
        "rollout_steps": 2,
        "log_every": 1,
        "checkpoint_every": 2,
        "probe_every": 3,
        "threads": 1,
        "precision": "fp32",  # as "auto" is on a CPU without AMX: the same numbers on every CPU
    },
    "plan": {"horizon": 2, "samples": 16, "iterations": 2, "topk": 4, "precision": "fp32"},
    "eval": {"episodes": 3, "max_steps": 8, "batch": 2},
}


@pytest.fixture
def tiny_cfg() -> RunConfig:
    return from_dict(RunConfig, TINY)


@pytest.fixture
def three_threads():
    """This process computes on 3 torch threads during the test (≠ the tiny configs' 1); the
    count before it is restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)
