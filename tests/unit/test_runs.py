"""The run folder's writer lock (monde.runs): one writing process per folder, the holder named,
released when the holder dies; a truncated newest checkpoint is skipped on resume."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from monde.cli import main
from monde.config import ModelConfig
from monde.models.world_model import WorldModel
from monde.runs import LOCK_FILE, RunLockedError, list_checkpoints, locked_run, read_holder
from monde.train.state import UnreadableCheckpointError, resume_from_newest, save_checkpoint

HOLD = """
import sys
from monde.runs import locked_run
with locked_run(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock on tmp_path/run until killed."""
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    yield run, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_process_is_refused_with_the_holder_named(holder):
    run, proc = holder
    record = read_holder(run)
    assert record["pid"] == proc.pid and record["host"]
    with pytest.raises(RunLockedError, match=rf"^{run} is being written by pid {proc.pid} on host"):
        with locked_run(run):
            pass


def test_the_lock_goes_with_a_killed_holder(holder):
    run, proc = holder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with locked_run(run):  # the OS released it: no stale lock
        assert read_holder(run)["pid"] == os.getpid()


def test_the_lock_is_reentrant_within_a_process_and_released_after(tmp_path):
    run = tmp_path / "run"
    with locked_run(run), locked_run(run):  # monde demo holds it, its train_run takes it again
        assert (run / LOCK_FILE).exists()
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from monde.runs import locked_run\n"
         "with locked_run(sys.argv[1]): print('ok')", str(run)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert probe.stdout.strip() == "ok", probe.stderr


def test_monde_demo_on_a_locked_run_says_so_in_one_line_and_writes_nothing(holder):
    run, proc = holder
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--run", str(run), "--quiet"])
    message = str(exit_info.value.code)
    assert message.startswith(f"monde demo: error: {run} is being written by pid {proc.pid}")
    assert "\n" not in message
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]


def _tiny_model() -> tuple[WorldModel, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = WorldModel(
        ModelConfig(image_size=32, encoder_channels=(8, 16), latent_dim=8, predictor_dim=16)
    )
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_resume_skips_a_truncated_newest_checkpoint_and_says_why(tmp_path):
    model, optimizer = _tiny_model()
    root = tmp_path / "checkpoints"
    save_checkpoint(root, 2, model, optimizer)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    save_checkpoint(root, 4, model, optimizer)
    _truncate(root / "step-000000004" / "model.safetensors")

    fresh, fresh_optimizer = _tiny_model()
    lines: list[str] = []
    step, path = resume_from_newest(root, fresh, fresh_optimizer, log=lines.append)
    assert (step, path) == (2, root / "step-000000002")
    assert lines[0].startswith(f"skipping checkpoint {root / 'step-000000004'}: ")
    assert "model.safetensors" in lines[0] and "not a valid safetensors file" in lines[0]
    assert lines[-1] == f"resumed from {root / 'step-000000002'} at step 2"
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, expected[key]), key
    # set aside, so pruning never counts it and the run may write step 4 again
    assert list_checkpoints(root) == [root / "step-000000002"]
    assert (root / "step-000000004.unreadable" / "model.safetensors").exists()


def test_resume_with_no_intact_checkpoint_stops_and_moves_nothing(tmp_path):
    model, optimizer = _tiny_model()
    root = tmp_path / "checkpoints"
    save_checkpoint(root, 2, model, optimizer)
    (root / "step-000000002" / "train_state.json").unlink()
    with pytest.raises(UnreadableCheckpointError, match=r"no intact checkpoint.*train_state\.json"):
        resume_from_newest(root, model, optimizer, log=None)
    assert list_checkpoints(root) == [root / "step-000000002"]


def test_a_checkpoint_that_fails_to_load_leaves_the_model_untouched(tmp_path):
    model, optimizer = _tiny_model()
    root = tmp_path / "checkpoints"
    save_checkpoint(root, 2, model, optimizer)
    (root / "step-000000002" / "train_state.json").write_text(json.dumps({"step": 2}))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    with pytest.raises(UnreadableCheckpointError, match="param_groups"):
        resume_from_newest(root, model, optimizer, log=None)
    assert all(bool((p == 0).all()) for p in model.parameters())
