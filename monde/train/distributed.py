"""Devices and data parallelism: pick the device, join a torchrun process group, gather latents.

It knows nothing about models, losses or data order. `torchrun` (PyTorch's launcher) sets RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in every worker; `setup_distributed`
reads them and joins the group (gloo on CPU, NCCL on CUDA). Without them the run is one
process and every helper here is the identity.

Statistics of the whole batch (VICReg, SIGReg) must see the *global* batch:
`all_gather_with_grad` concatenates every rank's rows in rank order — for the contiguous
shards of monde.data.sampler.rank_rows that is exactly the one-process batch — and its
backward sums each rank's gradient with respect to the gathered tensor, so after DDP's
averaging the parameters receive the gradient of the one-process loss.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly one-process) data-parallel run."""

    rank: int = 0
    """global rank of this process"""
    world_size: int = 1
    """number of processes"""
    local_rank: int = 0
    """rank on this machine (picks the GPU)"""
    device: torch.device = torch.device("cpu")
    """where this process trains"""
    initialized: bool = False
    """True when this call joined a process group (and teardown must leave it)"""

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, checkpoints, probes and writes the model."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' → cuda:LOCAL_RANK when a GPU is visible, else cpu; 'cuda' without one is an error."""
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU")
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ValueError(
            f"LOCAL_RANK {local_rank} needs GPU {local_rank} but this machine shows {count}; "
            "run torchrun with --nproc-per-node at most the number of GPUs"
        )
    return torch.device("cuda", local_rank)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def launched_world_size() -> int:
    """WORLD_SIZE set by torchrun (1 when not launched by it)."""
    return _env_int("WORLD_SIZE", 1)


def restarted_by_torchrun() -> bool:
    """True in the workers torchrun restarted after a failure (--max-restarts): they resume."""
    return _env_int("TORCHELASTIC_RESTART_COUNT", 0) > 0


def is_main_process() -> bool:
    """Rank 0, or the only process (usable before and after setup_distributed)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return _env_int("RANK", 0) == 0


def setup_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistContext:
    """Join torchrun's process group when WORLD_SIZE > 1; otherwise a one-process context.

    An already initialised default group (a caller that set it up itself) is reused.
    """
    world_size = launched_world_size()
    local_rank = _env_int("LOCAL_RANK", 0)
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, dev, False)
    if world_size == 1:
        return DistContext(0, 1, local_rank, dev, False)
    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if dev.type == "cuda" else "gloo"
    timeout = timedelta(seconds=timeout_s)
    # torchrun's store outlives a restart; keys of each attempt under their own prefix keep a
    # restarted worker from reading the addresses of the workers it replaced
    store, rank, world = next(dist.rendezvous("env://", timeout=timeout))
    attempt = _env_int("TORCHELASTIC_RESTART_COUNT", 0)
    dist.init_process_group(
        backend=backend,
        store=dist.PrefixStore(f"monde/attempt-{attempt}", store),
        rank=rank,
        world_size=world,
        timeout=timeout,
        device_id=dev if dev.type == "cuda" else None,
    )
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, dev, True)


def teardown_distributed(ctx: DistContext, wait: bool = True) -> None:
    """Leave the process group this context joined; `wait` first lets every rank get here.

    After an error pass wait=False: the other ranks may never arrive (torchrun stops them).
    """
    if ctx.initialized and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in one process)."""
    if ctx.distributed:
        dist.barrier()


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward hands each rank the sum over ranks of its rows' gradients."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # x (n, …) → (W·n, …)
        world, rank = dist.get_world_size(), dist.get_rank()
        ctx.rows = slice(rank * x.shape[0], (rank + 1) * x.shape[0])
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # grad (W·n, …) → (n, …)
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)  # gloo has no reduce-scatter: reduce, slice
        return grad[ctx.rows]


def all_gather_with_grad(x: Tensor) -> Tensor:
    """x (n, …) on each of W ranks → (W·n, …), rank 0's rows first; gradients flow back.

    Every rank must pass the same shape. The backward pass sums the gradients all ranks
    computed for the gathered tensor and hands each rank its own rows (a reduce-scatter), which
    is the gradient of a loss that every rank evaluates on the gathered batch. Identity in
    one process.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x.contiguous())


def mean_over_ranks(values: Tensor) -> Tensor:
    """Average a tensor of metrics over ranks (identity in one process). values: (K,)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / dist.get_world_size()
