"""Training under torchrun on CPU (gloo): two processes reproduce one; gradient accumulation;
the NaN guard; an elastic restart after a worker is killed."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from monde.cli import main
from monde.config import RunConfig, TrainConfig
from monde.config_io import save_config
from monde.data.collect import collect
from monde.data.sampler import WindowSampler
from monde.data.splits import split_episodes
from monde.data.store import EpisodeStore
from monde.io import load_safetensors
from monde.models.world_model import WorldModel
from monde.runs import list_checkpoints
from monde.train.distributed import DistContext
from monde.train.fit import NonFiniteLossError, fit
from monde.train.run import train_run
from monde.train.step import TrainStep

WORLD = 2
pytestmark = pytest.mark.usefixtures("loopback_gloo")  # the groups meet on 127.0.0.1

# How closely runs that split the same arithmetic differently (2 processes vs 1, micro-batches
# vs one batch, other thread counts or CPU instruction sets) must agree. Only the order of
# float32 additions differs between them, so the tolerances follow from float32 rounding, not
# from what one CPU happened to give:
#
# - Gradients of the first step (same weights, same global batch): every reduction (over rows,
#   pixels, channels, ranks) rounds differently, each by about √n · 6e-8 of its terms' size for
#   n ≲ 10⁴ terms, compounded through a few layers: ~1e-6 of the gradient's norm (measured
#   4e-6 on an AVX-512/AMX CPU). GRAD_TOL = 1e-4 of the whole model's gradient norm leaves a
#   wide margin; a tensor that misses the other rank's rows is off by about its own norm, at
#   least 1e-2 of the whole here.
# - Weights after several AdamW steps: Adam divides each gradient element by its running RMS,
#   so an element whose gradient lies within rounding noise of zero steps by ±lr whichever
#   sign the noise gives it, and the runs can then differ by up to 2·lr in that element (an
#   absolute tolerance below lr fails on some CPUs and passes on others). Such elements are
#   few, so the runs' weights must agree to a small fraction of how far training moved them:
#   ‖w_other − w_ref‖ ≤ UPDATE_TOL · ‖w_ref − w_start‖ over all tensors (measured 6e-5 after
#   4 steps and 2.5e-5 after 30 steps; one element with a flipped first step costs ~3e-3).
GRAD_TOL = 1e-4
UPDATE_TOL = 1e-2


@pytest.fixture
def dataset(tiny_cfg, tmp_path):
    collect(tiny_cfg.env, tiny_cfg.data, tmp_path / "data", progress=False)
    return tmp_path / "data"


def _weights(run: Path) -> dict:
    return load_safetensors(run / "model" / "model.safetensors")[0]


def _losses(run: Path) -> list[dict]:
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "loss" in r]


def _torchrun(cfg_path: Path, dataset: Path, run: Path, args: list[str], extra=()) -> list[str]:
    """`monde train` under torchrun with two CPU processes (gloo)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        *extra,
        "-m",
        "monde.cli",
        "train",
        "--device",
        "cpu",
        "--quiet",
        "--config",
        str(cfg_path),
        "--data",
        str(dataset),
        "--run-dir",  # torchrun's parser would take --run for its --run-path
        str(run),
        *args,
    ]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _initial_weights(cfg: RunConfig) -> dict[str, torch.Tensor]:
    """The weights train_run starts from (initialised under train.seed)."""
    torch.manual_seed(cfg.train.seed)
    return {k: v.detach().clone() for k, v in WorldModel(cfg.model).state_dict().items()}


def assert_trained_alike(ref: dict, other: dict, start: dict) -> None:
    """Two runs of the same steps moved the weights alike: ‖other − ref‖ ≤ UPDATE_TOL ·
    ‖ref − start‖, norms over every tensor together (why: the comment at UPDATE_TOL)."""
    assert ref.keys() == other.keys()
    diff = sum(float((other[k].double() - ref[k].double()).square().sum()) for k in ref)
    moved = sum(float((ref[k].double() - start[k].double()).square().sum()) for k in ref)
    assert moved > 0, "training did not move the weights: nothing was compared"
    worst = max(ref, key=lambda k: float((other[k] - ref[k]).norm()))
    assert diff**0.5 <= UPDATE_TOL * moved**0.5, (
        f"weights differ by {diff**0.5:.3g}, {diff**0.5 / moved**0.5:.2g} of the update "
        f"{moved**0.5:.3g} (most in {worst})"
    )


def _synthetic_batch(cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded global batch of windows: frames (B, L, Hp, Wp, 3) uint8, actions (B, L−1, A)."""
    g = torch.Generator().manual_seed(0)
    b, length = cfg.train.batch_size, cfg.model.history + cfg.train.rollout_steps
    size = cfg.model.image_size
    frames = torch.randint(0, 256, (b, length, size, size, 3), generator=g, dtype=torch.uint8)
    actions = torch.rand(b, length - 1, cfg.model.action_dim, generator=g) * 2 - 1
    return frames, actions


def _first_gradients(cfg: RunConfig, ctx: DistContext) -> dict[str, torch.Tensor]:
    """Unclipped gradients of the first TrainStep on this rank's rows (contiguous shards, as
    monde.data.sampler.rank_rows) of the synthetic global batch."""
    frames, actions = _synthetic_batch(cfg)
    rows = len(frames) // ctx.world_size
    mine = slice(ctx.rank * rows, (ctx.rank + 1) * rows)
    torch.manual_seed(cfg.train.seed)
    model = WorldModel(cfg.model)
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)  # its step leaves weights and grads
    step = TrainStep(model, frozen, replace(cfg.train, grad_clip=0.0), ctx)
    step(frames[mine], actions[mine], 0)
    return {name: p.grad.detach().clone() for name, p in model.named_parameters()}


def _gradient_worker(rank: int, init_file: str, out: str, cfg: RunConfig) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        grads = _first_gradients(cfg, DistContext(rank, WORLD, rank, torch.device("cpu"), True))
        if rank == 0:
            torch.save(grads, out)
        dist.barrier()  # neither rank leaves gloo while the other still talks to it
    finally:
        dist.destroy_process_group()


def test_two_processes_give_the_one_process_first_gradients(tiny_cfg, tmp_path):
    """DDP over two processes (regularisers on the all-gathered latents) gives the gradient of
    the one-process loss, to float32 rounding (GRAD_TOL), for every tensor."""
    out = tmp_path / "grads.pt"
    args = (str(tmp_path / "rendezvous"), str(out), tiny_cfg)
    mp.spawn(_gradient_worker, args=args, nprocs=WORLD, join=True)
    two = torch.load(out)
    one = _first_gradients(tiny_cfg, DistContext())  # this process's thread count: any will do
    norm = float(torch.cat([g.flatten() for g in one.values()]).norm())
    assert norm > 0
    for key, grad in one.items():
        err = float((two[key] - grad).norm())
        assert err <= GRAD_TOL * norm, f"{key}: off by {err / norm:.2g} of the gradient norm"


def test_two_processes_match_one_process(tiny_cfg, dataset, tmp_path):
    """Same global batch and seed: the losses (regularisers included) and weights agree.

    Each rank holds 2 of the 4 windows; a VICReg computed on one rank's latents instead of the
    all-gathered ones gives other variance/covariance values, and this test fails. Losses are
    means over many terms with no Adam step in between: they differ by rounding and by the
    loss's slope times the tiny weight difference (measured ≤ 1e-7 relative), hence rel=1e-4.
    """
    args = ["train.steps=4", "train.probe_every=0", "train.checkpoint_every=0"]
    cfg_path = tmp_path / "tiny.yaml"
    save_config(tiny_cfg, cfg_path)
    subprocess.run(
        _torchrun(cfg_path, dataset, tmp_path / "two", args), check=True, env=_env(), timeout=300
    )
    tiny_cfg.train.steps, tiny_cfg.train.probe_every, tiny_cfg.train.checkpoint_every = 4, 0, 0
    tiny_cfg.train.device = "cpu"  # as the gloo processes, also where CUDA is present
    train_run(tiny_cfg, dataset, tmp_path / "one", progress=False)
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3, 4] and {r["processes"] for r in two} == {2}
    assert {r["precision"] for r in one + two} == {"fp32"}  # tiny_cfg asks for fp32
    for a, b in zip(one, two, strict=True):
        for key in ("loss", "variance", "covariance", "teacher_forcing", "rollout"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-7), (a["step"], key)
    start = _initial_weights(tiny_cfg)
    assert_trained_alike(_weights(tmp_path / "one"), _weights(tmp_path / "two"), start)


def test_gradient_accumulation_matches_the_whole_batch(tiny_cfg, dataset, tmp_path):
    """With only row-wise loss terms, two micro-batches of 2 step like one batch of 4."""
    tiny_cfg.train.variance_weight = tiny_cfg.train.covariance_weight = 0.0
    tiny_cfg.train.probe_every = 0
    train_run(tiny_cfg, dataset, tmp_path / "whole", progress=False)
    tiny_cfg.train.grad_accum_steps = 2
    train_run(tiny_cfg, dataset, tmp_path / "accum", progress=False)
    for a, b in zip(_losses(tmp_path / "whole"), _losses(tmp_path / "accum"), strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)  # rounding only (see above)
    start = _initial_weights(tiny_cfg)
    assert_trained_alike(_weights(tmp_path / "whole"), _weights(tmp_path / "accum"), start)
    with pytest.raises(ValueError, match="batch_size 4 must be divisible by.*grad_accum_steps 3"):
        TrainConfig(batch_size=4, grad_accum_steps=3)


class _PoisonedAt:
    """A sampler whose actions turn NaN from global step `bad` on."""

    def __init__(self, sampler: WindowSampler, bad: int):
        self.sampler, self.bad = sampler, bad

    def batches(self, batch_size, seed, start_step=0, rank=0, world_size=1):
        it = self.sampler.batches(batch_size, seed, start_step, rank, world_size)
        for step, (frames, actions, states) in enumerate(it, start=start_step):
            if step >= self.bad:
                actions = torch.full_like(actions, float("nan"))
            yield frames, actions, states


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tiny_cfg, dataset, tmp_path):
    cfg = tiny_cfg
    store = EpisodeStore(dataset)
    train_ids, _ = split_episodes(range(len(store)), cfg.data.val_fraction)
    train_eps = [store[i] for i in train_ids]
    sampler = WindowSampler(train_eps, cfg.model.history + cfg.train.rollout_steps, 2)
    torch.manual_seed(0)
    model = WorldModel(cfg.model)
    with pytest.raises(NonFiniteLossError, match="loss became nan at step 3.*checkpoints"):
        fit(model, _PoisonedAt(sampler, 3), cfg.train, tmp_path / "run", progress=False)
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")] == [
        "step-000000002"
    ]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert isinstance(NonFiniteLossError("x"), ValueError)  # the CLI prints it as an error


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            children = (task / "children").read_text().split() if task.exists() else []
            todo += [int(c) for c in children]
            out += [int(c) for c in children]
    return out


def _local_rank_1(pid: int) -> int | None:
    for child in _descendants(pid):
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"LOCAL_RANK=1" in environ and b"TORCHELASTIC_RESTART_COUNT=0" in environ:
            return child
    return None


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_elastic_restart_after_a_killed_worker(tiny_cfg, dataset, tmp_path):
    """torchrun --max-restarts 1: a SIGKILLed worker makes torchrun restart both; the
    restarted workers resume from the newest checkpoint and finish like an unbroken run."""
    args = ["train.steps=30", "train.checkpoint_every=3", "train.probe_every=0"]
    cfg_path = tmp_path / "tiny.yaml"
    save_config(tiny_cfg, cfg_path)
    run = tmp_path / "elastic"
    cmd = _torchrun(cfg_path, dataset, run, args, extra=["--max-restarts", "1"])
    proc = subprocess.Popen(cmd, env=_env())
    deadline, victim = time.time() + 120, None
    while time.time() < deadline and proc.poll() is None:
        if list_checkpoints(run / "checkpoints") and victim is None:
            victim = _local_rank_1(proc.pid)
            if victim is not None:
                os.kill(victim, signal.SIGKILL)
                break
        time.sleep(0.02)
    assert victim is not None, "no worker to kill (the run ended or never checkpointed)"
    assert proc.wait(timeout=300) == 0
    assert len(_losses(run)) == 30
    tiny_cfg.train.steps, tiny_cfg.train.checkpoint_every, tiny_cfg.train.probe_every = 30, 3, 0
    tiny_cfg.train.device = "cpu"  # as the gloo processes, also where CUDA is present
    train_run(tiny_cfg, dataset, tmp_path / "unbroken", progress=False)
    start = _initial_weights(tiny_cfg)
    assert_trained_alike(_weights(tmp_path / "unbroken"), _weights(run), start)
    steps = [r["step"] for r in _losses(run)]
    assert steps == list(range(1, 31)), np.diff(steps)


def test_keep_checkpoints_and_device_flag(tiny_cfg, dataset, tmp_path):
    tiny_cfg.train.keep_checkpoints, tiny_cfg.train.probe_every = 3, 0
    train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)  # 6 steps, every 2
    names = [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")]
    assert names == ["step-000000002", "step-000000004", "step-000000006"]
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="device 'cuda' was asked for but torch sees no"):
            main(
                [
                    "train",
                    "--data",
                    str(dataset),
                    "--run",
                    str(tmp_path / "r"),
                    "--device",
                    "cuda",
                    "model.image_size=32",
                ]
            )
