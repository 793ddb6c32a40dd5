"""Training under torchrun on CPU (gloo): two processes reproduce one; gradient accumulation;
the NaN guard; an elastic restart after a worker is killed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from monde.cli import main
from monde.config import TrainConfig
from monde.config_io import save_config
from monde.data.collect import collect, load_episodes
from monde.data.sampler import WindowSampler
from monde.io import load_safetensors
from monde.models.world_model import WorldModel
from monde.train.fit import NonFiniteLossError, fit
from monde.train.run import split_episodes, train_run
from monde.train.state import list_checkpoints


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


def test_two_processes_match_one_process(tiny_cfg, dataset, tmp_path):
    """Same global batch and seed: the losses (regularisers included) and weights agree.

    Each rank holds 2 of the 4 windows; a VICReg computed on one rank's latents instead of the
    all-gathered ones gives other variance/covariance values, and this test fails.
    """
    args = ["train.steps=4", "train.probe_every=0", "train.checkpoint_every=0"]
    cfg_path = tmp_path / "tiny.yaml"
    save_config(tiny_cfg, cfg_path)
    subprocess.run(
        _torchrun(cfg_path, dataset, tmp_path / "two", args), check=True, env=_env(), timeout=300
    )
    tiny_cfg.train.steps, tiny_cfg.train.probe_every, tiny_cfg.train.checkpoint_every = 4, 0, 0
    train_run(tiny_cfg, dataset, tmp_path / "one", progress=False)
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert [r["step"] for r in two] == [1, 2, 3, 4] and {r["processes"] for r in two} == {2}
    for a, b in zip(one, two, strict=True):
        for key in ("loss", "variance", "covariance", "teacher_forcing", "rollout"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-7), (a["step"], key)
    w1, w2 = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], rtol=1e-4, atol=1e-5, msg=key)


def test_gradient_accumulation_matches_the_whole_batch(tiny_cfg, dataset, tmp_path):
    """With only row-wise loss terms, two micro-batches of 2 step like one batch of 4."""
    tiny_cfg.train.variance_weight = tiny_cfg.train.covariance_weight = 0.0
    tiny_cfg.train.probe_every = 0
    train_run(tiny_cfg, dataset, tmp_path / "whole", progress=False)
    tiny_cfg.train.grad_accum_steps = 2
    train_run(tiny_cfg, dataset, tmp_path / "accum", progress=False)
    for a, b in zip(_losses(tmp_path / "whole"), _losses(tmp_path / "accum"), strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
    w1, w2 = _weights(tmp_path / "whole"), _weights(tmp_path / "accum")
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], rtol=1e-4, atol=1e-6, msg=key)
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
    train_eps, _ = split_episodes(load_episodes(dataset, progress=False), cfg.data.val_fraction)
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
    train_run(tiny_cfg, dataset, tmp_path / "unbroken", progress=False)
    w1, w2 = _weights(tmp_path / "unbroken"), _weights(run)
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], rtol=1e-3, atol=1e-4, msg=key)
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
