"""The bearer token (from an environment variable or a file, compared in constant time) and the
bind rule: loopback by default, a public address only with a configured token."""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from monde.serve.config import ServeConfig


def configured_token(cfg: ServeConfig) -> str | None:
    """The token from `cfg.token_env`, else from `cfg.token_file`; None when neither is set.
    An empty or unreadable token file is an error naming the file."""
    token = os.environ.get(cfg.token_env, "").strip()
    if token:
        return token
    if not cfg.token_file:
        return None
    path = Path(cfg.token_file)
    try:
        token = path.read_text().strip()
    except OSError as err:
        raise ValueError(f"token_file {path}: {err.strerror}") from None
    if not token:
        raise ValueError(f"token_file {path} is empty")
    return token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def server_token(cfg: ServeConfig) -> tuple[str, bool]:
    """→ (token, generated). Refuses a non-loopback bind without a configured token; on
    loopback without one, a random token is generated (and printed by the caller)."""
    token = configured_token(cfg)
    if token is not None:
        return token, False
    if not is_loopback(cfg.host):
        raise ValueError(
            f"refusing to listen on {cfg.host} without a token: set {cfg.token_env} or "
            "token_file (only loopback may run with a generated token)"
        )
    return secrets.token_urlsafe(32), True


def authorised(header: str | None, token: str) -> bool:
    """Whether an Authorization header is `Bearer <token>` (scheme in any case; the token
    compared in constant time)."""
    scheme, _, value = (header or "").partition(" ")
    ok_scheme = scheme.lower() == "bearer"
    return hmac.compare_digest(value.strip().encode(), token.encode()) and ok_scheme
