"""Prometheus metrics of one server (its own registry): requests, latency, batch sizes,
planning time, sessions."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "monde_serve_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "monde_serve_request_seconds", "request latency", ["route", "method"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            "monde_serve_batch_size", "act calls per solver batch", ["model"],
            buckets=BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "monde_serve_batch_seconds", "encoding + planning time of one batch", ["model"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.sessions = Gauge("monde_serve_sessions", "open sessions", registry=r)
        self.sessions_expired = Counter(
            "monde_serve_sessions_expired", "sessions dropped after their idle time", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
