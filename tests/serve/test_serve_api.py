"""The HTTP API of `monde serve` on a tiny model: auth, limits, validation, sessions, metrics."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest
from serve_helpers import TOKEN, frame

from monde.client import InvalidRequest, MondeClient, SessionNotFound, Unauthorised, encode_image

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def start(http: httpx.Client, model: str = "pix", **extra) -> str:
    body = {"model": model, "goal": encode_image(frame(1)), **extra}
    answer = http.post("/v1/sessions", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.text
    return answer.json()["session_id"]


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=20) as client:
        yield client


def test_health_needs_no_token_everything_else_does(http):
    assert http.get("/health").json() == {"status": "ok"}
    assert http.get("/health/ready").json() == {"ready": True}
    assert http.get("/docs").status_code == 404  # no unauthenticated API browser
    for path in ("/v1/models", "/metrics", "/openapi.json"):
        assert http.get(path).status_code == 401
        wrong = http.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert http.post("/v1/sessions", json={}).status_code == 401
    assert http.post("/v1/sessions/abc/act", json={}).status_code == 401
    assert http.delete("/v1/sessions/abc").status_code == 401
    assert (
        http.get("/openapi.json", headers=AUTH).json()["info"]["title"] == "Monde planning server"
    )
    models = http.get("/v1/models", headers=AUTH).json()
    assert [m["name"] for m in models] == ["pix", "prop"]
    assert models[0]["image_shape"] == [32, 32, 3] and models[1]["proprio"] == ["p0", "p1"]


def test_a_session_acts_step_by_step_then_closes(server):
    client = MondeClient(server.url, token=TOKEN)
    session = client.start("pix", frame(1))
    assert session.model["action_dim"] == 4 and session.model["horizon"] == 2
    for step in range(1, 4):
        result = session.act(frame(10 + step))
        assert result.step == step and result.replanned  # plan.receding 1: every step
        assert result.action.shape == (4,) and result.plan.shape == (2, 4)
        assert result.env_actions.shape == (2, 2)
        np.testing.assert_array_equal(result.action, result.plan[0])
        assert np.abs(result.action).max() <= 1 and np.isfinite(result.cost)
        assert result.timing["batch_size"] >= 1 and result.timing["total_ms"] > 0
    session.close()
    with pytest.raises(SessionNotFound, match="unknown or expired session"):
        session.act(frame(5))
    with pytest.raises(Unauthorised):
        MondeClient(server.url, token="wrong").models()
    png = MondeClient(server.url, token=TOKEN, encoding="png")
    with png.start("pix", frame(1)) as s:
        assert s.act(frame(2)).step == 1


def test_oversized_body_and_image_are_413(http):
    huge = b"x" * 1_100_000  # over ServeConfig.max_body_bytes (1 MB)
    answer = http.post(
        "/v1/sessions", content=huge, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413 and "larger than" in answer.json()["detail"]

    def chunks():  # no Content-Length: counted while read
        for _ in range(12):
            yield b"x" * 100_000

    answer = http.post("/v1/sessions", content=chunks(), headers=AUTH)
    assert answer.status_code == 413
    big = {"encoding": "png", "data": base64.b64encode(b"\x89PNG" * 200_000).decode()}
    answer = http.post("/v1/sessions", json={"model": "pix", "goal": big}, headers=AUTH)
    assert answer.status_code in (413, 422)  # over the JSON field's length or the image limit


def field_of(answer: httpx.Response) -> list:
    assert answer.status_code == 422, answer.text
    return answer.json()["detail"][0]["loc"]


def test_validation_errors_name_the_field(http):
    sid = start(http)
    act = f"/v1/sessions/{sid}/act"
    wrong_shape = encode_image(np.zeros((16, 32, 3), np.uint8))
    assert field_of(http.post(act, json={"observation": wrong_shape}, headers=AUTH)) == [
        "body", "observation", "shape",
    ]  # fmt: skip
    short = {**encode_image(frame(2)), "data": base64.b64encode(b"abc").decode()}
    assert field_of(http.post(act, json={"observation": short}, headers=AUTH))[-1] == "data"
    bad64 = {**encode_image(frame(2)), "data": "***"}
    assert field_of(http.post(act, json={"observation": bad64}, headers=AUTH))[-1] == "data"
    png16 = encode_image(np.zeros((16, 16, 3), np.uint8), "png")
    assert field_of(http.post(act, json={"observation": png16}, headers=AUTH))[-1] == "data"
    body = {"observation": encode_image(frame(2)), "executed": [0.0]}
    assert field_of(http.post(act, json=body, headers=AUTH)) == ["body", "executed"]
    unknown = {"model": "nope", "goal": encode_image(frame(1))}
    assert field_of(http.post("/v1/sessions", json=unknown, headers=AUTH)) == ["body", "model"]
    assert field_of(http.post(act, json={}, headers=AUTH)) == ["body", "observation"]

    # NaN proprioception (JSON's NaN literal, as Python's json writes it)
    sid = start(http, "prop", goal_proprio=[0.0, 1.0])
    obs = encode_image(frame(2))
    text = json.dumps({"observation": obs, "proprio": [float("nan"), 0.0]})
    answer = http.post(
        f"/v1/sessions/{sid}/act",
        content=text,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert field_of(answer) == ["body", "proprio", 0]
    missing = http.post(f"/v1/sessions/{sid}/act", json={"observation": obs}, headers=AUTH)
    assert field_of(missing) == ["body", "proprio"]
    ok = http.post(
        f"/v1/sessions/{sid}/act", json={"observation": obs, "proprio": [0.5, 0.5]}, headers=AUTH
    )
    assert ok.status_code == 200


def test_unknown_and_expired_sessions_are_404(server, http):
    answer = http.post("/v1/sessions/nosuch/act", json={"observation": encode_image(frame(2))},
                       headers=AUTH)  # fmt: skip
    assert answer.status_code == 404 and answer.json()["detail"] == "unknown or expired session"
    assert http.delete("/v1/sessions/nosuch", headers=AUTH).status_code == 404
    sid = start(http)
    store = server.app.state.store
    clock = store.clock
    store.clock = lambda: clock() + store.ttl_s + 1  # an idle time past the TTL
    try:
        body = {"observation": encode_image(frame(2))}
        assert http.post(f"/v1/sessions/{sid}/act", json=body, headers=AUTH).status_code == 404
    finally:
        store.clock = clock
    with pytest.raises(InvalidRequest):
        MondeClient(server.url, token=TOKEN).start("nope", frame(1))


def test_sessions_are_bounded_and_counted_in_metrics(http):
    for _ in range(8):  # serve_config: max_sessions 8
        start(http)
    body = {"model": "pix", "goal": encode_image(frame(1))}
    assert http.post("/v1/sessions", json=body, headers=AUTH).status_code == 429
    text = http.get("/metrics", headers=AUTH).text
    assert "monde_serve_sessions 8.0" in text
    assert 'monde_serve_requests_total{method="POST",route="/v1/sessions",status="429"} 1.0' in text
    assert "monde_serve_batch_size_bucket" in text and "monde_serve_request_seconds" in text
