"""Save and load a WorldModel as model.safetensors + config.json. No pickle, no trainer.

An ensemble (monde.models.ensemble) is a folder whose config.json lists its members, each a
model folder inside it; `load_model` returns whichever the folder holds.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from monde._version import __version__
from monde.config import ModelConfig
from monde.config_io import ConfigError, from_dict, to_dict
from monde.io import (
    atomic_folder,
    atomic_save_safetensors,
    atomic_write_json,
    load_safetensors,
    read_json,
)
from monde.models.ensemble import WorldModelEnsemble
from monde.models.world_model import WorldModel

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "monde.WorldModel/1"
ENSEMBLE_FORMAT = "monde.WorldModelEnsemble/1"
_MEMBER_NAME = re.compile(r"member-\d+")  # a member folder's name: no path reaches outside


def save_model(model: WorldModel, directory: str | Path, train_step: int | None = None) -> None:
    """Write the weights and the config that rebuilds them as one unit.

    Both files go into a temporary sibling folder that is then renamed into place, so a crash
    never leaves weights beside the config of another model. `train_step`, the optimizer steps
    behind these weights, is recorded in config.json so that an evaluation says which model
    it ran (a checkpoint halfway through a schedule is not the schedule's final model).
    """
    tensors = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    meta: dict = {"format": FORMAT, "monde_version": __version__, "model": to_dict(model.cfg)}
    if train_step is not None:
        meta["train_step"] = int(train_step)
    with atomic_folder(directory) as tmp:
        atomic_save_safetensors(tensors, tmp / MODEL_FILE, metadata={"format": FORMAT})
        atomic_write_json(tmp / CONFIG_FILE, meta)


def save_ensemble(member_dirs: Sequence[str | Path], directory: str | Path) -> WorldModelEnsemble:
    """Write an ensemble folder: each saved model of `member_dirs` copied in as `member-<i>/`,
    and a config.json naming them. Written whole into a temporary sibling, then renamed.

    The members must be single models of one model config (checked by loading them); the
    ensemble's `train_step` is theirs when they share it. → the ensemble, as loaded."""
    members = [load_model(d) for d in member_dirs]
    if not all(isinstance(m, WorldModel) for m in members):
        raise ValueError("an ensemble's members are single models, not ensembles")
    ensemble = WorldModelEnsemble(members, [str(d) for d in member_dirs])  # refuses mismatches
    steps = {read_json(Path(d) / CONFIG_FILE).get("train_step") for d in member_dirs}
    names = [f"member-{i}" for i in range(len(member_dirs))]
    meta: dict = {"format": ENSEMBLE_FORMAT, "monde_version": __version__, "members": names}
    if len(steps) == 1 and None not in steps:
        meta["train_step"] = steps.pop()
    with atomic_folder(directory) as tmp:
        for source, name in zip(member_dirs, names, strict=True):
            (tmp / name).mkdir()
            for file in (MODEL_FILE, CONFIG_FILE):
                shutil.copyfile(Path(source) / file, tmp / name / file)
        atomic_write_json(tmp / CONFIG_FILE, meta)
    return ensemble


def weights_digest(directory: str | Path) -> str:
    """sha256 that names the weights saved in `directory`: of model.safetensors for one model,
    of its members' digests in order for an ensemble (what ties a report's decoder to them)."""
    directory = model_folder(directory)
    meta = read_json(directory / CONFIG_FILE)
    if meta.get("format") != ENSEMBLE_FORMAT:
        return hashlib.sha256((directory / MODEL_FILE).read_bytes()).hexdigest()
    members = "".join(weights_digest(directory / name) for name in meta["members"])
    return hashlib.sha256(members.encode()).hexdigest()


def saved_model_record(directory: str | Path) -> dict:
    """{"path", "train_step"} of the model saved in `directory`; train_step is None for models
    saved before it was recorded. An ensemble's record adds its members' records."""
    directory = model_folder(directory)
    meta = read_json(directory / CONFIG_FILE)
    record = {"path": str(directory), "train_step": meta.get("train_step")}
    if meta.get("format") == ENSEMBLE_FORMAT:
        record["members"] = [saved_model_record(directory / name) for name in meta["members"]]
    return record


def model_folder(directory: str | Path) -> Path:
    """`directory` when it holds a saved model (config.json); a run folder given instead of its
    `model/` is refused with a hint (FileNotFoundError)."""
    directory = Path(directory)
    if (directory / CONFIG_FILE).exists():
        return directory
    if (directory / "model" / CONFIG_FILE).exists():
        raise FileNotFoundError(f"{directory} is a run folder; did you mean {directory / 'model'}?")
    raise FileNotFoundError(
        f"{directory / CONFIG_FILE} not found: {directory} is not a model folder "
        "(RUN/model, written by monde train)"
    )


def load_model(directory: str | Path, device: str = "cpu") -> WorldModel | WorldModelEnsemble:
    """Rebuild a WorldModel (or an ensemble of them) from `directory`; a mismatch names the
    file, the tensor and shapes."""
    directory = model_folder(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / MODEL_FILE
    meta = read_json(config_path)
    if meta.get("format") == ENSEMBLE_FORMAT:
        return _load_ensemble(directory, meta, device)
    if meta.get("format") != FORMAT or "model" not in meta:
        raise ValueError(f"{config_path}: not a Monde world-model config (format {FORMAT!r})")
    try:
        cfg = from_dict(ModelConfig, meta["model"], source=str(config_path))
    except ConfigError as err:
        raise ValueError(str(err)) from err
    model = WorldModel(cfg)
    tensors, _ = load_safetensors(weights_path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{weights_path}: weights do not match the model of {config_path}; "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for key, value in tensors.items():
        if value.shape != expected[key].shape:
            raise ValueError(
                f"{weights_path}: tensor {key!r} has shape {tuple(value.shape)}, the model of "
                f"{config_path} expects {tuple(expected[key].shape)}"
            )
    model.load_state_dict(tensors)
    return model.to(device).eval()


def start_from_model(
    model: WorldModel, directory: str | Path, freeze_encoder: bool = False
) -> None:
    """Copy the weights (and proprioception statistics) of the saved model in `directory` into
    `model`, to post-train it (train.model_init); with `freeze_encoder` the encoder's
    parameters stop requiring gradients. Refused with a ValueError naming the folder and the
    model config fields that differ, or when it holds an ensemble."""
    source = load_model(directory)
    if isinstance(source, WorldModelEnsemble):
        raise ValueError(f"{directory}: an ensemble; train.model_init starts from one model")
    if source.cfg != model.cfg:
        differ = [
            f"{name} ({value!r} there, {getattr(model.cfg, name)!r} here)"
            for name, value in vars(source.cfg).items()
            if getattr(model.cfg, name) != value
        ]
        raise ValueError(
            f"{directory}: its model config differs from this run's in {', '.join(differ)}"
        )
    model.load_state_dict(source.state_dict())
    if freeze_encoder:
        model.encoder.requires_grad_(False)


def _load_ensemble(directory: Path, meta: dict, device: str) -> WorldModelEnsemble:
    """The ensemble whose config.json (`meta`) lists member folders inside `directory`."""
    config_path = directory / CONFIG_FILE
    names = meta.get("members")
    if not isinstance(names, list) or not all(
        isinstance(n, str) and _MEMBER_NAME.fullmatch(n) for n in names
    ):
        raise ValueError(
            f"{config_path}: field 'members' must list member folders named member-<i>, got "
            f"{names!r}"
        )
    members = []
    for name in names:
        member = load_model(directory / name, device)
        if not isinstance(member, WorldModel):
            raise ValueError(f"{directory / name}: an ensemble's member is itself an ensemble")
        members.append(member)
    return WorldModelEnsemble(members, [str(directory / n) for n in names]).to(device).eval()
