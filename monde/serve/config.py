"""The server's config: which models it serves (by name, from the operator's config file, never a
path chosen by a client), where it listens, its limits and its batching."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ServedModel:
    path: str
    """model folder (RUN/model: model.safetensors + config.json)"""
    config: str = ""
    """run config whose `plan` section plans for this model; empty: RUN/config.yaml beside the
    model folder when there is one, else the defaults"""
    overrides: list[str] = field(default_factory=list)
    """dotted overrides of that config, e.g. plan.samples=100"""


@dataclass
class ServeConfig:
    models: dict[str, ServedModel] = field(default_factory=dict)
    """name → model; clients start sessions by name"""
    host: str = "127.0.0.1"
    """bind address; a non-loopback address needs a configured token"""
    port: int = 8765
    token_env: str = "MONDE_SERVE_TOKEN"
    """environment variable holding the bearer token"""
    token_file: str = ""
    """file holding the bearer token (read when the variable is unset or empty)"""
    max_sessions: int = 256
    """open sessions at most (all models together); more → 429"""
    session_ttl_s: float = 300.0
    """a session unused this long expires (→ 404)"""
    batch: bool = True
    """gather concurrent act calls of one model into one solver call (false: one at a time)"""
    batch_window_ms: float = 5.0
    """the longest the first act call of a batch waits for others; it waits less once every
    session active in the last second has a call in the batch (a lone robot never waits)"""
    max_batch: int = 64
    """act calls planned together at most"""
    max_body_bytes: int = 1_000_000
    """larger request bodies → 413"""
    max_image_bytes: int = 600_000
    """larger decoded images (raw bytes or PNG file) → 413"""
    threads: int = 0
    """torch threads for planning (0: torch's default)"""
    device: str = "cpu"
    seed: int = 0
    """seed of each model's solver noise"""

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if self.max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if self.session_ttl_s <= 0 or self.batch_window_ms < 0:
            raise ValueError("session_ttl_s must be positive and batch_window_ms not negative")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be in 0..65535, got {self.port}")


def load_serve_config(
    path: str | Path | None, overrides: list[str] | None = None, models: list[str] | None = None
) -> ServeConfig:
    """The YAML config (or the defaults), dotted overrides, then `NAME=PATH` model entries."""
    from monde.config_io import load_config

    cfg = load_config(ServeConfig, path, list(overrides or []))
    for entry in models or []:
        name, sep, folder = entry.partition("=")
        if not sep or not name or not folder:
            raise ValueError(f"--model {entry!r}: expected NAME=MODEL_FOLDER")
        cfg.models[name] = ServedModel(path=folder)
    if not cfg.models:
        raise ValueError(
            f"{path or 'command line'}: 'models' is empty; name at least one (--model NAME=PATH)"
        )
    return cfg
