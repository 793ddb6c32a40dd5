"""Devices and the global-batch regularisers: two gloo processes must give the one-process
loss and gradients; computing the regularisers per rank must not."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from monde.models.regularizers import sigreg, vicreg_covariance, vicreg_variance
from monde.train.distributed import (
    DistContext,
    all_gather_with_grad,
    mean_over_ranks,
    resolve_device,
    restarted_by_torchrun,
    setup_distributed,
    teardown_distributed,
)

WORLD = 2


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    """x (8, 3), target (8, 4); the second half is shifted and scaled, so per-half statistics
    differ from those of the whole batch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, generator=g, dtype=torch.float64)
    x[4:] = 3.0 * x[4:] + 2.0
    return x, torch.randn(8, 4, generator=g, dtype=torch.float64)


def _layer() -> torch.nn.Linear:
    torch.manual_seed(1)
    return torch.nn.Linear(3, 4, dtype=torch.float64)


def _loss(z: torch.Tensor, target: torch.Tensor, gather) -> torch.Tensor:
    """A row-wise term plus VICReg and SIGReg on `gather(z)`: z (n, 4) → scalar."""
    flat = gather(z)
    reg = vicreg_variance(flat) + vicreg_covariance(flat)
    reg = reg + sigreg(flat, 16, generator=torch.Generator().manual_seed(2))
    return F.mse_loss(z, target) + reg


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        x, target = _batch()
        rows = slice(rank * 4, (rank + 1) * 4)  # contiguous shards, as monde.data.rank_rows
        for name, gather in (("global", all_gather_with_grad), ("per_rank", lambda z: z)):
            ddp = DistributedDataParallel(_layer())
            loss = _loss(ddp(x[rows]), target[rows], gather)
            loss.backward()  # DDP averages the weight gradient over the two ranks
            mean_loss = mean_over_ranks(loss.detach().reshape(1))
            np.save(Path(out_dir) / f"{name}_loss_{rank}.npy", mean_loss.numpy())
            np.save(Path(out_dir) / f"{name}_grad_{rank}.npy", ddp.module.weight.grad.numpy())
        # neither rank tears gloo down while the other still talks to it: a peer closing its
        # connection mid-collective aborts the process ("terminate called without an active
        # exception"), which made this fixture fail about once in a few dozen runs
        dist.barrier()
        (Path(out_dir) / f"done_{rank}").touch()  # every collective of this rank has returned
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, loopback_gloo) -> Path:
    out = tmp_path_factory.mktemp("ranks")
    try:
        mp.spawn(_worker, args=(str(out / "rendezvous"), str(out)), nprocs=WORLD, join=True)
    except mp.ProcessExitedException as error:
        # gloo may still abort a rank while the group is torn down, after every collective
        # has returned on both ranks ("terminate called without an active exception"; about one
        # run in a few dozen, more on a busy machine). That is not what these tests check: with
        # both ranks past their last collective, their results are complete. Any other failure,
        # or one before that point, fails the tests.
        finished = all((out / f"done_{rank}").exists() for rank in range(WORLD))
        if error.signal_name != "SIGABRT" or not finished:
            raise
    return out


def _reference() -> tuple[float, np.ndarray]:
    x, target = _batch()
    layer = _layer()
    loss = _loss(layer(x), target, lambda z: z)
    loss.backward()
    return loss.item(), layer.weight.grad.numpy()


def test_two_processes_give_the_one_process_loss_and_gradient(two_ranks):
    loss, grad = _reference()
    for rank in range(WORLD):
        got_loss = np.load(two_ranks / f"global_loss_{rank}.npy")[0]
        assert got_loss == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(
            np.load(two_ranks / f"global_grad_{rank}.npy"), grad, rtol=1e-10, atol=1e-12
        )


def test_per_rank_regularisers_would_be_caught(two_ranks):
    """The same check on per-rank statistics fails: the test above has teeth."""
    loss, grad = _reference()
    got_loss = np.load(two_ranks / "per_rank_loss_0.npy")[0]
    got_grad = np.load(two_ranks / "per_rank_grad_0.npy")
    assert abs(got_loss - loss) > 1e-3
    assert np.abs(got_grad - grad).max() > 1e-3


def test_one_process_helpers_are_identities():
    z = torch.randn(5, 3)
    assert all_gather_with_grad(z) is z
    assert mean_over_ranks(z) is z


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'.*'gpu'"):
        resolve_device("gpu")
    if torch.cuda.is_available():
        assert resolve_device("auto", 0) == torch.device("cuda", 0)
    else:
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_setup_without_torchrun_is_one_process(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "TORCHELASTIC_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)
    ctx = setup_distributed("cpu")
    assert ctx == DistContext(0, 1, 0, torch.device("cpu"), False)
    assert ctx.is_main and not ctx.distributed
    teardown_distributed(ctx)
    assert not restarted_by_torchrun()
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert restarted_by_torchrun()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
        setup_distributed("cpu")


@pytest.mark.parametrize("predictor", ["mlp", "gru", "transformer"])
def test_every_parameter_gets_a_gradient(predictor):
    """DDP (without find_unused_parameters) needs a gradient for every parameter each step."""
    from monde.config import ModelConfig, TrainConfig
    from monde.models.world_model import WorldModel
    from monde.train.objective import jepa_terms

    cfg = ModelConfig(image_size=32, encoder_channels=(8, 16), latent_dim=8, predictor=predictor)
    cfg.predictor_dim, cfg.frameskip = 16, 2
    torch.manual_seed(0)
    model = WorldModel(cfg)
    frames = torch.randint(0, 256, (3, 4, 32, 32, 3), dtype=torch.uint8)
    actions = torch.rand(3, 3, cfg.action_dim)
    loss, _ = jepa_terms(model, frames, actions, TrainConfig(rollout_steps=3))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
