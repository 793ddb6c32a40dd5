"""The server's config, token and bind rule (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monde.serve.config import ServeConfig, load_serve_config
from monde.serve.security import authorised, is_loopback, server_token
from monde.serve.sessions import Session, SessionLimit, SessionNotFound, SessionStore

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_the_shipped_config_loads_and_model_entries_are_checked():
    cfg = load_serve_config(CONFIGS / "serve.yaml")
    assert cfg.models["demo"].path == "runs/demo/model" and cfg.host == "127.0.0.1"
    cfg = load_serve_config(None, ["port=0", "batch=false"], ["a=runs/x/model"])
    assert cfg.port == 0 and not cfg.batch and cfg.models["a"].path == "runs/x/model"
    with pytest.raises(ValueError, match="NAME=MODEL_FOLDER"):
        load_serve_config(None, [], ["runs/x/model"])
    with pytest.raises(ValueError, match="'models' is empty"):
        load_serve_config(None, [])
    with pytest.raises(ValueError, match="max_bath"):
        load_serve_config(None, ["max_bath=3"], ["a=b"])


def test_token_from_env_or_file_and_public_bind_needs_one(tmp_path, monkeypatch):
    monkeypatch.delenv("MONDE_SERVE_TOKEN", raising=False)
    token, generated = server_token(ServeConfig())
    assert generated and len(token) >= 32  # loopback: a generated token
    with pytest.raises(ValueError, match="refusing to listen on 0.0.0.0 without a token"):
        server_token(ServeConfig(host="0.0.0.0"))
    file = tmp_path / "token"
    file.write_text("from-file\n")
    assert server_token(ServeConfig(host="0.0.0.0", token_file=str(file))) == ("from-file", False)
    monkeypatch.setenv("MONDE_SERVE_TOKEN", "from-env")
    assert server_token(ServeConfig(host="::", token_file=str(file))) == ("from-env", False)
    monkeypatch.delenv("MONDE_SERVE_TOKEN")
    file.write_text("  \n")
    with pytest.raises(ValueError, match=f"token_file {file} is empty"):
        server_token(ServeConfig(token_file=str(file)))
    with pytest.raises(ValueError, match="token_file .*missing"):
        server_token(ServeConfig(token_file=str(tmp_path / "missing")))
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")


def test_authorised_compares_the_whole_bearer_token():
    assert authorised("Bearer abc", "abc") and authorised("bearer abc", "abc")
    for header in (None, "", "abc", "Bearer ab", "Bearer abcd", "Basic abc", "Bearerabc"):
        assert not authorised(header, "abc"), header


def test_sessions_are_bounded_and_expire_unless_in_flight():
    now = [0.0]
    store = SessionStore(max_sessions=2, ttl_s=10, clock=lambda: now[0])
    a, b = store.add(Session("m", None)), store.add(Session("m", None))
    with pytest.raises(SessionLimit):
        store.add(Session("m", None))
    now[0] = 5
    assert store.get(a.id) is a  # use resets the idle clock
    b.busy = True
    now[0] = 12
    assert store.expire() == 0 and len(store) == 2  # a used at 5; b in flight
    now[0] = 16
    assert store.expire() == 1 and store.get(b.id) is b
    with pytest.raises(SessionNotFound):
        store.get(a.id)
    store.remove(b.id)
    assert len(store) == 0 and store.expired_total == 1


def test_monde_serve_refuses_a_public_address_without_a_token(monkeypatch, capsys):
    from monde.cli import main

    monkeypatch.delenv("MONDE_SERVE_TOKEN", raising=False)
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--model", "demo=runs/none/model", "--host", "0.0.0.0"])
    assert "refusing to listen on 0.0.0.0 without a token" in str(stop.value.code)


def test_the_listening_socket_says_tcp_so_asyncio_disables_nagle():
    import socket

    from monde.serve.server import listening_socket

    with listening_socket("127.0.0.1", 0) as sock:
        # asyncio sets TCP_NODELAY on accepted sockets only when their protocol is TCP; with
        # Nagle on, each two-part response waits for the client's delayed ACK (~40 ms)
        assert sock.proto == socket.IPPROTO_TCP and sock.getsockname()[1] > 0
