"""ASGI middleware: request bodies over the limit are refused with 413 before any parsing (the
body is read whole, at most `max_bytes`, then replayed to the app), and every request is
counted and timed for the metrics under its route's template, not its raw path."""

from __future__ import annotations

import json
import time

from monde.serve.metrics import ServeMetrics


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimitAndMetrics:
    def __init__(self, app, max_bytes: int, metrics: ServeMetrics):
        self.app, self.max_bytes, self.metrics = app, max_bytes, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            replay = await self._read_body(scope, receive)
            if replay is None:
                status[0] = 413
                await _send_json(send, 413, f"request body larger than {self.max_bytes} bytes")
            else:
                await self.app(scope, replay, send_status)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or "unrouted"
            method = scope.get("method", "")
            self.metrics.requests.labels(name, method, str(status[0])).inc()
            self.metrics.latency.labels(name, method).observe(time.perf_counter() - start)

    async def _read_body(self, scope, receive):
        """→ a receive callable replaying the whole body, or None when it is too large."""
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    if int(value) > self.max_bytes:
                        return None
                except ValueError:
                    return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                chunks, more = None, False
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        if chunks is None:  # the client left before sending its body: the app sees that
            return receive
        body, sent = b"".join(chunks), [False]

        async def replay():
            if not sent[0]:
                sent[0] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for a disconnect, as uvicorn does

        return replay
