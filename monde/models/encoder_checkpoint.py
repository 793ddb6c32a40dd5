"""A pretrained encoder on disk: encoder.safetensors + config.json. No pickle.

`monde pretrain` writes the backbone of a token encoder (model.encoder 'vit': the patch
transformer, not the readout that pools its tokens into the world model's latent); `monde train`
starts its encoder from it with train.encoder_init, and keeps it fixed with
train.freeze_encoder. The config.json records the encoder fields of the ModelConfig that built
it, so that a checkpoint of another encoder is refused with the tensor (or field) that differs.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from monde._version import __version__
from monde.config import ModelConfig
from monde.io import (
    atomic_folder,
    atomic_save_safetensors,
    atomic_write_json,
    load_safetensors,
    read_json,
)

WEIGHTS_FILE = "encoder.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "monde.Encoder/1"
ENCODER_FIELDS = (
    "encoder",
    "image_size",
    "in_channels",
    "encoder_patch",
    "encoder_dim",
    "encoder_depth",
    "encoder_heads",
)
"""the ModelConfig fields that shape a pretrained backbone (the readout's are not saved)"""


def pretrained_part(encoder: nn.Module, cfg: ModelConfig) -> nn.Module:
    """The part of a built encoder that pretraining learns and a checkpoint holds: its
    `backbone` (tokens from frames); ValueError for an encoder kind without one."""
    backbone = encoder.get_submodule("backbone") if hasattr(encoder, "backbone") else None
    if backbone is None:
        raise ValueError(
            f"model.encoder {cfg.encoder!r} has no patch-token backbone to pretrain or load; "
            "use model.encoder: vit or conv_vit"
        )
    return backbone


CONV_STEM_FIELDS = ("encoder_channels",)
"""and those of a conv stem's backbone (model.encoder 'conv_vit')"""


def encoder_fields(cfg: ModelConfig) -> dict:
    """The fields of `cfg` a pretrained backbone depends on, as JSON keeps them (lists)."""
    names = ENCODER_FIELDS + (CONV_STEM_FIELDS if cfg.encoder == "conv_vit" else ())
    fields = {name: getattr(cfg, name) for name in names}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def save_encoder(
    backbone: nn.Module, cfg: ModelConfig, directory: str | Path, record: dict | None = None
) -> None:
    """Write `backbone`'s weights and the encoder fields of `cfg` (plus `record`: how it was
    pretrained) into `directory`, atomically: a temporary sibling renamed into place."""
    tensors = {k: v.detach().cpu() for k, v in backbone.state_dict().items()}
    with atomic_folder(directory) as tmp:
        atomic_save_safetensors(tensors, tmp / WEIGHTS_FILE, metadata={"format": FORMAT})
        atomic_write_json(
            tmp / CONFIG_FILE,
            {
                "format": FORMAT,
                "monde_version": __version__,
                "encoder": encoder_fields(cfg),
                **({"pretrain": record} if record else {}),
            },
        )


def load_encoder_into(
    encoder: nn.Module, cfg: ModelConfig, directory: str | Path, freeze: bool = False
) -> list[str]:
    """Load the pretrained backbone in `directory` into `encoder` (built from `cfg`); with
    `freeze` its parameters stop requiring gradients. → the names of the loaded tensors.

    Refused with a one-line ValueError naming the file and the first tensor whose name or
    shape differs, or else the encoder field of config.json that differs from `cfg`.
    """
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    if not config_path.exists():
        raise FileNotFoundError(
            f"{config_path} not found: {directory} is not a pretrained encoder folder "
            "(RUN/encoder, written by monde pretrain)"
        )
    meta = read_json(config_path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{config_path}: not a Monde pretrained encoder (format {FORMAT!r})")
    backbone = pretrained_part(encoder, cfg)
    tensors, _ = load_safetensors(weights_path)
    expected = backbone.state_dict()
    for name in sorted(set(expected) | set(tensors)):
        if name not in tensors:
            raise ValueError(f"{weights_path}: tensor {name!r} of this encoder is missing")
        if name not in expected:
            shape = tuple(tensors[name].shape)
            raise ValueError(
                f"{weights_path}: tensor {name!r} {shape} is not in this encoder (model config)"
            )
        if tensors[name].shape != expected[name].shape:
            raise ValueError(
                f"{weights_path}: tensor {name!r} has shape {tuple(tensors[name].shape)}, this "
                f"model config's encoder expects {tuple(expected[name].shape)}"
            )
    saved = meta.get("encoder", {})
    for field, value in encoder_fields(cfg).items():
        if saved.get(field) != value:
            raise ValueError(
                f"{config_path}: encoder field model.{field} is {saved.get(field)!r} there, "
                f"{value!r} in this model config"
            )
    backbone.load_state_dict(tensors)
    if freeze:
        backbone.requires_grad_(False)
    return sorted(tensors)
