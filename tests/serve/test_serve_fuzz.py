"""Fuzz the API from its own OpenAPI description (schemathesis), briefly: no 5xx, no crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from serve_helpers import TOKEN, RunningServer, create_app, serve_config, tiny_planners

schemathesis = pytest.importorskip("schemathesis")

APP = create_app(serve_config(max_sessions=64), tiny_planners(), TOKEN)
schema = schemathesis.openapi.from_dict(APP.openapi())


@pytest.fixture(scope="module")
def url():
    server = RunningServer(APP)
    yield server.url
    server.stop()


@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_server_fail(case, url):
    for headers in ({"Authorization": f"Bearer {TOKEN}"}, {}):
        response = case.call(base_url=url, headers=headers, timeout=20)
        assert response.status_code < 500, (case.method, case.path, response.text[:300])
