"""Helpers of the server tests: a tiny served model, a server on a random free loopback port
(stopped cleanly)."""

from __future__ import annotations

import threading
import time

import numpy as np
import torch

from monde.config import ModelConfig, PlanConfig
from monde.models.world_model import WorldModel
from monde.serve.app import create_app  # noqa: F401 (re-exported to the tests)
from monde.serve.config import ServeConfig
from monde.serve.planning import ServedPlanner
from monde.serve.server import listening_socket

TOKEN = "test-token-0123456789"
PLAN = PlanConfig(horizon=2, samples=16, iterations=2, topk=4, precision="fp32")


def tiny_model(proprio: bool = False) -> WorldModel:
    torch.manual_seed(0)
    extra = {"proprio": ["p0", "p1"], "proprio_indices": [0, 1]} if proprio else {}
    cfg = ModelConfig(
        image_size=32, encoder_channels=[8, 16], latent_dim=8, predictor_dim=16, frameskip=2,
        **extra,
    )  # fmt: skip
    model = WorldModel(cfg).eval()
    torch.nn.init.normal_(model.predictor.output.weight, std=0.1)  # a predictor that moves
    return model


def tiny_planners(seed: int = 0) -> dict[str, ServedPlanner]:
    return {
        "pix": ServedPlanner("pix", tiny_model(), PLAN, seed=seed),
        "prop": ServedPlanner("prop", tiny_model(proprio=True), PLAN, seed=seed),
    }


def frame(seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


class RunningServer:
    """uvicorn in a thread on 127.0.0.1 (port 0: a free one), until stop()."""

    def __init__(self, app, port: int = 0):
        import uvicorn

        self.app = app
        self.sock = listening_socket("127.0.0.1", port)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()
        assert not self.thread.is_alive(), "the server did not stop"


def serve_config(**overrides) -> ServeConfig:
    return ServeConfig(**{"max_sessions": 8, "batch_window_ms": 5.0, **overrides})
