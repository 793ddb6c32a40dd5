"""Fixtures: the tiny served models and a running server (serve_helpers)."""

import pytest
from serve_helpers import TOKEN, RunningServer, create_app, serve_config, tiny_planners


@pytest.fixture
def planners():
    return tiny_planners()


@pytest.fixture
def server(planners):
    running = RunningServer(create_app(serve_config(), planners, TOKEN))
    yield running
    running.stop()
