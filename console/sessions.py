"""Console sessions, kept on the server: the browser holds only a random token.

A session ends after `idle` seconds without a request, `lifetime` seconds after sign-in, at
sign-out, and (for an IAM user) when its login profile changes or goes: a new password or a
deleted profile signs every browser out. Tokens are kept as their SHA-256, so the table holds
nothing a cookie could be made from.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from emulator.iam.principal import Principal

MAX_SESSIONS = 10_000


@dataclass
class Session:
    principal: Principal
    csrf: str
    created: float
    seen: float
    # The login profile's version at sign-in (None for root): a change ends the session.
    profile_version: int | None = None
    # Signed in with a password that must be replaced before anything else.
    must_change: bool = False
    notes: list[str] = field(default_factory=list)
    # While a role is switched to: who signed in (`principal` is then the role session), the
    # display name chosen for the role, and the roles used lately (as AWS's console lists them).
    signed_in: Principal | None = None
    display: str = ""
    recent_roles: list[dict[str, str]] = field(default_factory=list)

    @property
    def identity(self) -> Principal:
        """Who signed in, whichever role the session acts as now."""
        return self.signed_in or self.principal

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(
        self, idle: float, lifetime: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(
        self, principal: Principal, profile_version: int | None, must_change: bool = False
    ) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(
            principal, secrets.token_urlsafe(32), now, now, profile_version, must_change
        )
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= MAX_SESSIONS:  # the oldest goes first
                oldest = min(self._sessions, key=lambda k: self._sessions[k].created)
                del self._sessions[oldest]
            self._sessions[_key(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        now = self._clock()
        key = _key(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if now - session.seen > self.idle or now - session.created > self.lifetime:
                del self._sessions[key]
                return None
            session.seen = now
            return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_key(token), None)

    def _expire(self, now: float) -> None:
        stale = [
            k
            for k, s in self._sessions.items()
            if now - s.seen > self.idle or now - s.created > self.lifetime
        ]
        for k in stale:
            del self._sessions[k]
