"""TrainStep: one optimizer step of the JEPA objective on this rank's rows of a global batch.

It knows nothing about files, logging or data order; fit() and the throughput benchmark share
it. Across ranks the objective runs under DDP (gradients averaged, regularisers on the
all-gathered latents); train.compile wraps it in torch.compile; train.grad_accum_steps splits
the rows into micro-batches whose gradients add up before the step.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch.nn.parallel import DistributedDataParallel

from monde.config import TrainConfig
from monde.data.augment import planar_symmetry, random_shift, shift_offsets, symmetry_choices
from monde.data.sampler import rank_rows
from monde.models.world_model import WorldModel
from monde.train.distributed import DistContext, mean_over_ranks
from monde.train.objective import JEPAObjective


def sigreg_generator(cfg: TrainConfig, step: int, micro: int, device: torch.device):
    """The SIGReg directions' generator of (step, micro-batch): the same on every rank."""
    seed = cfg.seed * 1_000_003 + step * cfg.grad_accum_steps + micro
    return torch.Generator(device=device).manual_seed(seed)


class TrainStep:
    def __init__(
        self,
        model: WorldModel,
        optimizer: torch.optim.Optimizer,
        cfg: TrainConfig,
        ctx: DistContext,
    ):
        if cfg.batch_size % (ctx.world_size * cfg.grad_accum_steps):
            raise ValueError(
                f"train.batch_size {cfg.batch_size} must be divisible by {ctx.world_size} "
                f"processes × train.grad_accum_steps {cfg.grad_accum_steps}"
            )
        self.model, self.optimizer, self.cfg, self.ctx = model, optimizer, cfg, ctx
        self.ddp: DistributedDataParallel | None = None
        module: torch.nn.Module = JEPAObjective(model, cfg, ctx.device)
        if ctx.distributed:
            unused = model.inverse_dynamics is not None and cfg.inverse_dynamics_weight <= 0
            self.ddp = DistributedDataParallel(
                module,
                device_ids=[ctx.device] if ctx.device.type == "cuda" else None,
                find_unused_parameters=unused,  # an inverse-dynamics head with weight 0
            )
            module = self.ddp
        self.module = torch.compile(module) if cfg.compile else module

    def __call__(
        self,
        frames: torch.Tensor,
        actions: torch.Tensor,
        step: int,
        states: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """frames (b, L, Hp, Wp, C) uint8 and actions (b, L−1, A): this rank's b = B/W rows;
        states (b, L, S) for a model with proprioception (None otherwise).

        Returns the loss parts of the global batch (averaged over micro-batches and ranks).
        The optimizer steps only when the loss is finite; otherwise the weights are untouched.
        """
        cfg, dev, accum = self.cfg, self.ctx.device, self.cfg.grad_accum_steps
        self.optimizer.zero_grad(set_to_none=True)
        totals: torch.Tensor | None = None
        names: list[str] = []
        state_chunks = states.chunk(accum) if states is not None else [None] * accum
        rows = frames.shape[0] * self.ctx.world_size  # the global batch
        shift_chunks = symmetry_chunks = [None] * accum
        if cfg.shift_augment:  # this rank's rows of the global batch's shifts (b, 2)
            mine = rank_rows(rows, self.ctx.rank, self.ctx.world_size)
            offsets = shift_offsets(cfg.seed, step, rows, cfg.shift_augment)
            shift_chunks = offsets[mine].chunk(accum)
        if cfg.symmetry_augment:  # and of its symmetries (b,)
            mine = rank_rows(rows, self.ctx.rank, self.ctx.world_size)
            symmetry_chunks = symmetry_choices(cfg.seed, step, rows)[mine].chunk(accum)
        micro = zip(
            frames.chunk(accum),
            actions.chunk(accum),
            state_chunks,
            shift_chunks,
            symmetry_chunks,
            strict=True,
        )
        for m, (f, a, s, shift, symmetry) in enumerate(micro):  # (b/k, …) each
            sync = self.ddp is None or m == accum - 1  # DDP all-reduces on the last one only
            f, a = f.to(dev, non_blocking=True), a.to(dev, non_blocking=True)
            if symmetry is not None:
                f, a = planar_symmetry(f, a, symmetry)
            if shift is not None:
                f = random_shift(f, shift)
            with contextlib.nullcontext() if sync else self.ddp.no_sync():
                loss, parts = self.module(
                    f,
                    a,
                    sigreg_generator(cfg, step, m, dev),
                    None if s is None else s.to(dev, non_blocking=True),
                )
                (loss / accum).backward()
            names = list(parts)
            values = torch.stack([parts[k].float() for k in names])  # (K,)
            totals = values if totals is None else totals + values
        metrics = dict(zip(names, mean_over_ranks(totals / accum).tolist(), strict=True))
        if math.isfinite(metrics["loss"]):
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
        return metrics
