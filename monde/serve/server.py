"""Load the served models and run the app on uvicorn (what `monde serve` calls)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from monde.serve.config import ServeConfig, ServedModel
from monde.serve.planning import ServedPlanner
from monde.serve.security import server_token


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn. Its protocol is named (IPPROTO_TCP, not 0): asyncio sets
    TCP_NODELAY only on accepted sockets whose protocol says TCP, and without it every response
    written in two parts (head, body) waits for the client's delayed ACK (40 ms on Linux)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def load_planner(name: str, entry: ServedModel, cfg: ServeConfig) -> ServedPlanner:
    """The model folder and the `plan` section of its run config (see ServedModel)."""
    from monde.config import RunConfig
    from monde.config_io import load_config
    from monde.models.checkpoint import load_model

    folder = Path(entry.path)
    model = load_model(folder, cfg.device)
    run_cfg = Path(entry.config) if entry.config else folder.parent / "config.yaml"
    plan = load_config(RunConfig, run_cfg if run_cfg.exists() else None, entry.overrides).plan
    return ServedPlanner(name, model, plan, seed=cfg.seed)


def build(cfg: ServeConfig, token: str):
    """The app for `cfg`, its models loaded."""
    import torch

    from monde.serve.app import create_app

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    planners = {name: load_planner(name, entry, cfg) for name, entry in cfg.models.items()}
    return create_app(cfg, planners, token)


def serve(cfg: ServeConfig, log_level: str = "info", access_log: bool = False) -> None:
    """Run until interrupted. Refuses a public address without a token (security.server_token)."""
    import uvicorn

    token, generated = server_token(cfg)
    app = build(cfg, token)
    if generated:
        print(
            f"no {cfg.token_env} or token_file set: this run's token is {token}",
            file=sys.stderr,
            flush=True,
        )
    sock = listening_socket(cfg.host, cfg.port)
    print(
        f"monde serve: {sorted(cfg.models)} on http://{cfg.host}:{sock.getsockname()[1]}",
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, log_level=log_level, access_log=access_log, timeout_graceful_shutdown=5)
    )
    server.run(sockets=[sock])
