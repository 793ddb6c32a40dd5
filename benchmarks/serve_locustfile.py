"""Locust users for benchmarks/serve_load.py: each is a robot with one session that calls `act`
back to back (no think time), sending one of a few real environment frames.

Reads MONDE_LOAD_FRAMES (an .npz of `observations` and `goals`, uint8 (K, H, W, C)),
MONDE_SERVE_TOKEN and MONDE_LOAD_MODEL from the environment.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random

import numpy as np
from locust import FastHttpUser, constant, task

FRAMES = np.load(os.environ["MONDE_LOAD_FRAMES"])
HEADERS = {
    "Authorization": f"Bearer {os.environ['MONDE_SERVE_TOKEN']}",
    "Content-Type": "application/json",
}


def image(frame: np.ndarray) -> dict:
    data = base64.b64encode(np.ascontiguousarray(frame).tobytes()).decode()
    return {"encoding": "raw", "data": data, "shape": list(frame.shape)}


BODIES = [json.dumps({"observation": image(f)}).encode() for f in FRAMES["observations"]]


class Robot(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 120.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        k = random.randrange(len(FRAMES["goals"]))
        body = {"model": os.environ["MONDE_LOAD_MODEL"], "goal": image(FRAMES["goals"][k])}
        answer = self.client.post("/v1/sessions", json=body, headers=HEADERS, name="start")
        self.act_path = f"/v1/sessions/{answer.json()['session_id']}/act"
        self.bodies = itertools.cycle(BODIES[k:] + BODIES[:k])

    @task
    def act(self) -> None:
        self.client.post(self.act_path, data=next(self.bodies), headers=HEADERS, name="act")
