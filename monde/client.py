"""A small client of `monde serve` (docs/serve.md): start a session, act, close.

Standard library and numpy only, so a robot's control computer needs nothing else:

    from monde.client import MondeClient

    client = MondeClient("http://127.0.0.1:8765")       # token from MONDE_SERVE_TOKEN
    with client.start("demo", goal_image) as session:   # uint8 (H, W, C)
        while not done:
            result = session.act(camera_image)          # → ActResult
            robot.apply(result.env_actions)             # (frameskip, env_action_dim)

Every failure is a `ServeError` naming what happened: `Unauthorised` (401), `SessionNotFound`
(404: unknown, expired, or lost when the server restarted), `InvalidRequest` (422, with the
field), `ServerUnavailable` (no connection, connection lost, timeout, 5xx). One client holds one
keep-alive connection: use one per thread.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np


class ServeError(RuntimeError):
    def __init__(self, message: str, status: int | None = None, detail=None):
        super().__init__(message)
        self.status, self.detail = status, detail


class Unauthorised(ServeError):
    pass


class SessionNotFound(ServeError):
    pass


class InvalidRequest(ServeError):
    pass


class ServerUnavailable(ServeError):
    pass


ERRORS = {401: Unauthorised, 404: SessionNotFound, 413: InvalidRequest, 422: InvalidRequest}


def encode_image(image: np.ndarray, encoding: str = "raw") -> dict:
    """uint8 (H, W, C) → the API's Image object: base64 raw bytes with their shape, or PNG."""
    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"images are uint8 (H, W, C); got {image.dtype} {image.shape}")
    if encoding == "raw":
        data, shape = image.tobytes(), list(image.shape)
    elif encoding == "png":
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
        data, shape = buffer.getvalue(), None
    else:
        raise ValueError(f"encoding is 'raw' or 'png', not {encoding!r}")
    out = {"encoding": encoding, "data": base64.b64encode(data).decode("ascii")}
    return out if shape is None else {**out, "shape": shape}


@dataclass
class ActResult:
    action: np.ndarray  # (A,) the next model action
    env_actions: np.ndarray  # (frameskip, env_action_dim): the same, one row per env step
    plan: np.ndarray  # (H, A)
    cost: float | None
    replanned: bool
    step: int
    timing: dict  # queue_ms, plan_ms, total_ms, batch_size


def _floats(values) -> list[float] | None:
    return None if values is None else [float(v) for v in np.asarray(values).reshape(-1)]


class MondeClient:
    def __init__(
        self,
        url: str = "http://127.0.0.1:8765",
        token: str | None = None,
        timeout: float = 60.0,
        encoding: str = "raw",
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host:port, got {url!r}")
        self.url, self.timeout, self.encoding = url.rstrip("/"), timeout, encoding
        self._parts = parts
        self.token = token if token is not None else os.environ.get("MONDE_SERVE_TOKEN", "")
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else (http.client.HTTPConnection)
            )
            self._conn = kind(self._parts.hostname, self._parts.port, timeout=self.timeout)
        return self._conn

    def close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: dict | None = None):
        """→ the decoded JSON answer (None for 204); ServeError subclasses otherwise."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
                self.close_connection()
                # a kept-alive connection the server closed meanwhile: one fresh try for
                # requests that change nothing; an act may have been planned, so it is not resent
                if attempt == 0 and method in ("GET", "DELETE"):
                    continue
                raise ServerUnavailable(
                    f"{method} {self.url}{path}: connection lost ({err!r})"
                ) from err
            except TimeoutError as err:
                self.close_connection()
                raise ServerUnavailable(
                    f"{method} {self.url}{path}: no answer within {self.timeout} s"
                ) from err
            except OSError as err:
                self.close_connection()
                raise ServerUnavailable(f"{method} {self.url}{path}: {err}") from err
        if response.getheader("connection", "").lower() == "close":
            self.close_connection()
        if response.status == 204:
            return None
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        if response.status >= 400:
            detail = data.get("detail") if isinstance(data, dict) else data
            kind = ERRORS.get(
                response.status, ServerUnavailable if response.status >= 500 else ServeError
            )
            raise kind(f"{method} {path}: {response.status} {detail}", response.status, detail)
        return data

    def health(self) -> dict:
        return self.request("GET", "/health")

    def models(self) -> list[dict]:
        return self.request("GET", "/v1/models")

    def start(self, model: str, goal: np.ndarray, goal_proprio=None) -> Session:
        """Start a session toward `goal` (uint8 (H, W, C); its proprioception where the model
        reads it)."""
        body = {"model": model, "goal": encode_image(goal, self.encoding)}
        if goal_proprio is not None:
            body["goal_proprio"] = _floats(goal_proprio)
        answer = self.request("POST", "/v1/sessions", body)
        return Session(self, answer["session_id"], answer["model"])

    def act(
        self, session_id: str, observation: np.ndarray, proprio=None, executed=None
    ) -> ActResult:
        body = {"observation": encode_image(observation, self.encoding)}
        if proprio is not None:
            body["proprio"] = _floats(proprio)
        if executed is not None:
            body["executed"] = _floats(executed)
        a = self.request("POST", f"/v1/sessions/{session_id}/act", body)
        return ActResult(
            action=np.asarray(a["action"], np.float32),
            env_actions=np.asarray(a["env_actions"], np.float32),
            plan=np.asarray(a["plan"], np.float32),
            cost=a["cost"],
            replanned=a["replanned"],
            step=a["step"],
            timing=a["timing"],
        )

    def close(self, session_id: str) -> None:
        self.request("DELETE", f"/v1/sessions/{session_id}")


class Session:
    """One episode on the server; a context manager that closes it."""

    def __init__(self, client: MondeClient, session_id: str, model: dict):
        self.client, self.id, self.model = client, session_id, model

    def act(self, observation: np.ndarray, proprio=None, executed=None) -> ActResult:
        return self.client.act(self.id, observation, proprio, executed)

    def close(self) -> None:
        self.client.close(self.id)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.close()
        except ServeError:
            pass  # expired or the server went away: nothing left to close
