"""`monde train --resume` over a truncated newest checkpoint: it resumes from the one before,
says which it skipped, and ends where an uninterrupted run ends. A second `monde train` on a
run folder that another process writes is refused, naming the holder. An in-process run leaves
the process's torch thread count as it found it, returning or raising."""

import subprocess
import sys

import pytest
import torch

from monde.cli import main
from monde.config_io import save_config
from monde.data.collect import collect
from monde.io import load_safetensors
from monde.runs import LOCK_FILE, RunLockedError
from monde.train.run import train_run


@pytest.fixture
def dataset(tiny_cfg, tmp_path):
    collect(tiny_cfg.env, tiny_cfg.data, tmp_path / "data", progress=False)
    return tmp_path / "data"


def test_resume_falls_back_to_the_newest_intact_checkpoint(tiny_cfg, dataset, tmp_path, capsys):
    train_run(tiny_cfg, dataset, tmp_path / "full", progress=False)
    run = tmp_path / "crash"
    train_run(tiny_cfg, dataset, run, progress=False, stop_after=5)  # checkpoints at 2 and 4
    newest = run / "checkpoints" / "step-000000004" / "model.safetensors"
    newest.write_bytes(newest.read_bytes()[:1000])  # the disk filled up mid-write
    save_config(tiny_cfg, tmp_path / "tiny.yaml")
    capsys.readouterr()
    main(["train", "--config", str(tmp_path / "tiny.yaml"), "--data", str(dataset)]
         + ["--run", str(run), "--resume", "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert f"skipping checkpoint {newest.parent}: not a valid safetensors file: {newest}" in out
    assert f"resumed from {run / 'checkpoints' / 'step-000000002'} at step 2" in out
    full = load_safetensors(tmp_path / "full" / "model" / "model.safetensors")[0]
    resumed = load_safetensors(run / "model" / "model.safetensors")[0]
    for key in full:
        assert torch.equal(full[key], resumed[key]), key


def test_a_second_train_on_a_locked_run_is_refused_naming_the_holder(tiny_cfg, dataset, tmp_path):
    run = tmp_path / "run"
    hold = "import sys\nfrom monde.runs import locked_run\nwith locked_run(sys.argv[1]):\n"
    hold += "    print('held', flush=True)\n    sys.stdin.readline()\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", hold, str(run)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline().strip() == b"held"
        with pytest.raises(RunLockedError, match=rf"^{run} is being written by pid {proc.pid} "):
            train_run(tiny_cfg, dataset, run, progress=False)
        save_config(tiny_cfg, tmp_path / "tiny.yaml")
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "--config", str(tmp_path / "tiny.yaml"), "--data", str(dataset)]
                 + ["--run", str(run), "--quiet"])  # fmt: skip
        assert str(exit_info.value.code).startswith(
            f"monde train: error: {run} is being written by pid {proc.pid} on host "
        )
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # nothing else written
    finally:
        proc.kill()
        proc.wait()
    train_run(tiny_cfg, dataset, run, progress=False)  # the killed holder left no stale lock
    assert (run / "model" / "model.safetensors").exists()


def test_an_in_process_run_restores_the_thread_count(tiny_cfg, dataset, tmp_path, three_threads):
    assert tiny_cfg.train.threads == 1
    train_run(tiny_cfg, dataset, tmp_path / "run", progress=False)
    assert torch.get_num_threads() == three_threads
    tiny_cfg.model.image_size = 16  # refused once training has set its threads
    with pytest.raises(ValueError, match="model.image_size is 16"):
        train_run(tiny_cfg, dataset, tmp_path / "refused", progress=False)
    assert torch.get_num_threads() == three_threads
