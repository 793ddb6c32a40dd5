"""benchmarks/action_subspace_probe.py: the share of a latent's variance a state group explains."""

import importlib.util
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "action_subspace_probe.py"
spec = importlib.util.spec_from_file_location("action_subspace_probe", SCRIPT)
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


def test_variance_explained_is_the_share_a_linear_map_of_the_targets_explains() -> None:
    generator = torch.Generator().manual_seed(0)
    agent = torch.randn(4000, 1, generator=generator)
    scene = torch.randn(4000, 1, generator=generator)
    # latent (agent, 2 · scene, 1 + agent): variances 1, 4, 1 of a total 6
    latents = torch.cat([agent, 2 * scene, 1 + agent], dim=1)
    assert abs(probe.variance_explained(latents, agent) - 2 / 6) < 0.01
    assert abs(probe.variance_explained(latents, scene) - 4 / 6) < 0.01
    assert abs(probe.variance_explained(latents, torch.cat([agent, scene], 1)) - 1.0) < 1e-9
    assert probe.variance_explained(latents[:, 1:2], agent) < 0.01
