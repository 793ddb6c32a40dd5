"""Resumable training state: weights, optimizer moments and step on disk.

The data order needs no saved state: it is a function of (seed, step) (monde.data.sampler).

A checkpoint is a folder `step-000500/` holding model.safetensors + config.json (loadable by
monde.models alone) and train_state.safetensors + train_state.json. It is written under a
temporary name and renamed into place, so a kill leaves either a whole checkpoint or none.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from monde.io import (
    atomic_folder,
    atomic_save_safetensors,
    atomic_write_json,
    load_safetensors,
    read_json,
)
from monde.models.checkpoint import load_model, save_model
from monde.models.world_model import WorldModel
from monde.runs import checkpoint_name, list_checkpoints, prune_checkpoints


def _optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict, list]:
    state = optimizer.state_dict()
    tensors = {
        f"optim/{index}/{name}": value
        for index, slots in state["state"].items()
        for name, value in slots.items()
    }
    return tensors, state["param_groups"]


def _optimizer_from_flat(tensors: dict, param_groups: list) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": param_groups}


def save_checkpoint(
    root: Path,
    step: int,
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    keep: int = 2,
) -> Path:
    """Write checkpoint `root/step-{step}` atomically and keep only the newest `keep`."""
    final = root / checkpoint_name(step)
    tensors, groups = _optimizer_to_flat(optimizer)
    with atomic_folder(final) as tmp:
        # first: it writes the folder whole, then the optimizer joins
        save_model(model, tmp, train_step=step)
        atomic_save_safetensors(tensors, tmp / "train_state.safetensors")
        atomic_write_json(tmp / "train_state.json", {"step": step, "param_groups": groups})
    prune_checkpoints(root, keep)
    return final


class UnreadableCheckpointError(ValueError):
    """A checkpoint folder whose files are missing, truncated or corrupt."""


def load_checkpoint(path: Path, model: WorldModel, optimizer: torch.optim.Optimizer) -> int:
    """Restore weights and optimizer from `path`; returns the step it was taken at.

    Every file is read and checked before anything is restored, so a checkpoint that fails
    leaves model and optimizer as they were. Missing, truncated or corrupt files raise
    UnreadableCheckpointError naming the file; a checkpoint of another model config raises a
    plain ValueError (no other checkpoint of the run would fit either).
    """
    try:
        saved = load_model(path)
        tensors, _ = load_safetensors(path / "train_state.safetensors")
        meta = read_json(path / "train_state.json")
        step, groups = int(meta["step"]), meta["param_groups"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        if isinstance(err, (KeyError, TypeError)):  # the JSON parsed but lacks a field
            raise UnreadableCheckpointError(f"{path / 'train_state.json'}: {err!r}") from err
        raise UnreadableCheckpointError(str(err)) from err  # names the file already
    if saved.cfg != model.cfg:
        raise ValueError(
            f"{path / 'config.json'}: the checkpoint's model config differs from this run's "
            f"model config; resume with the run's own config (RUN/config.yaml)"
        )
    model.load_state_dict(saved.state_dict())
    optimizer.load_state_dict(_optimizer_from_flat(tensors, groups))
    return step


def resume_from_newest(
    root: Path,
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    set_aside: bool = True,
    log: Callable[[str], None] | None = print,
) -> tuple[int, Path | None]:
    """Restore the newest intact checkpoint under root → (its step, its folder); (0, None)
    when there is none at all.

    A newer checkpoint that cannot be read (a truncated model.safetensors, a missing file) is
    skipped with one line saying which and why; once an older one has loaded, with `set_aside`
    the skipped ones are renamed `step-NNNNNNNNN.unreadable`, so that pruning never counts them
    as kept checkpoints and the run can write those steps again. When every checkpoint is
    unreadable nothing is renamed and UnreadableCheckpointError lists them: starting over
    silently would discard the run.
    """
    skipped: list[tuple[Path, UnreadableCheckpointError]] = []
    for path in reversed(list_checkpoints(root)):
        try:
            step = load_checkpoint(path, model, optimizer)
        except UnreadableCheckpointError as err:
            skipped.append((path, err))
            if log is not None:
                log(f"skipping checkpoint {path}: {err}")
            continue
        for bad, _ in skipped if set_aside else ():
            aside = bad.with_name(f"{bad.name}.unreadable")
            try:
                shutil.rmtree(aside, ignore_errors=True)
                os.replace(bad, aside)
            except OSError:
                continue  # another process (a torchrun rank) moved it first
            if log is not None:
                log(f"moved the unreadable {bad.name} aside to {aside}")
        if log is not None:
            log(f"resumed from {path} at step {step}")
        return step, path
    if skipped:
        listed = "; ".join(f"{path.name}: {err}" for path, err in skipped)
        raise UnreadableCheckpointError(f"{root}: no intact checkpoint to resume from ({listed})")
    return 0, None
