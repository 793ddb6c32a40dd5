"""Sessions: one robot episode each, holding its MPC state (latent history, warm start, current
plan) between act calls; bounded in number, expired when idle."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor


class SessionNotFound(KeyError):
    pass


class SessionLimit(RuntimeError):
    pass


class SessionBusy(RuntimeError):
    pass


@dataclass(eq=False)  # sessions compare by identity
class Session:
    model: str
    z_goal: Tensor  # (D,)
    id: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    z_hist: Tensor | None = None  # (Tc, D) latents at model-step boundaries; None before act
    a_hist: Tensor | None = None  # (Tc − 1, A) model actions between them
    mean: Tensor | None = None  # (H, A / repeat) the solver's warm start
    elites: Tensor | None = None  # (E, H, A / repeat) warm elites, for solvers that keep them
    plan: np.ndarray | None = None  # (H, A) model actions of the last plan
    cost: float | None = None
    step: int = 0  # model steps taken
    last_action: np.ndarray | None = None  # (A,) the action returned by the last act
    last_used: float = 0.0
    busy: bool = False  # an act call is in flight


class SessionStore:
    """id → Session, at most `max_sessions`, each expiring `ttl_s` after its last use."""

    def __init__(
        self, max_sessions: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ):
        self.max_sessions, self.ttl_s, self.clock = max_sessions, ttl_s, clock
        self._sessions: dict[str, Session] = {}
        self.expired_total = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def active(self, model: str, within_s: float) -> int:
        """Sessions of `model` in flight or used in the last `within_s` seconds."""
        since = self.clock() - within_s
        return sum(
            s.model == model and (s.busy or s.last_used >= since) for s in self._sessions.values()
        )

    def reserve(self) -> None:
        """SessionLimit unless a session could be added now (expired ones dropped first)."""
        self.expire()
        if len(self._sessions) >= self.max_sessions:
            raise SessionLimit(f"{self.max_sessions} sessions open; close one or wait")

    def add(self, session: Session) -> Session:
        self.reserve()
        session.last_used = self.clock()
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        """The session, its idle clock reset; SessionNotFound when unknown or expired."""
        session = self._sessions.get(session_id)
        if session is None or self._expired(session):
            if session is not None:
                self._drop(session_id)
            raise SessionNotFound(session_id)
        session.last_used = self.clock()
        return session

    def remove(self, session_id: str) -> None:
        if self._sessions.pop(session_id, None) is None:
            raise SessionNotFound(session_id)

    def expire(self) -> int:
        """Drop every expired session (not one in flight) → how many."""
        stale = [sid for sid, s in self._sessions.items() if self._expired(s)]
        for sid in stale:
            self._drop(sid)
        return len(stale)

    def _expired(self, session: Session) -> bool:
        return not session.busy and self.clock() - session.last_used > self.ttl_s

    def _drop(self, session_id: str) -> None:
        del self._sessions[session_id]
        self.expired_total += 1
