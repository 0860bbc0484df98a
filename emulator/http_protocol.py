"""uvicorn's h11 protocol with the connection limits uvicorn lacks.

uvicorn closes a keep-alive connection that stays idle after an answer (`timeout_keep_alive`),
but not one that sends nothing at all after connecting, nor one that sends part of a request
head and then stalls (any byte cancels the keep-alive timer): such connections are kept for
ever, and enough of them exhaust the server's file descriptors. Here:

- a request head must be complete within `header_timeout` of connecting, or of the end of the
  previous answer plus the keep-alive time; else the connection is closed (Apache's
  `RequestReadTimeout header=`, nginx's `client_header_timeout`);
- past `max_connections`, a new connection closes the connection that has waited longest for
  a request head (one with a request running is never closed); if every connection has a
  request running, the new one is closed. A flood of idle connections therefore cannot keep a
  real client out.

What a request does once its head has arrived (its body, its answer) is the application's to
bound: the git door abandons a body that stalls.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class _LimitedH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    max_connections: int = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0
        self._cycle_when_armed: object = None

    def _waiting_for_head(self) -> bool:
        # A connection whose last answer is complete (or which had none) and on which no
        # new request head has arrived since the deadline was armed.
        return self.cycle is self._cycle_when_armed and (
            self.cycle is None or self.cycle.response_complete
        )

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._waiting_since = time.monotonic()
        self._cycle_when_armed = self.cycle
        self._head_deadline = self.loop.call_later(seconds, self._on_deadline)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _on_deadline(self) -> None:
        self._head_deadline = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)
        if len(self.connections) > self.max_connections:
            self._make_room()

    def _make_room(self) -> None:
        waiting = [
            c
            for c in self.connections
            if isinstance(c, _LimitedH11Protocol)
            and c is not self
            and c._waiting_for_head()
            and not c.transport.is_closing()
        ]
        victim = min(waiting, key=lambda c: c._waiting_since) if waiting else self
        victim.transport.close()

    def on_response_complete(self) -> None:
        answered = self.cycle
        super().on_response_complete()
        # A pipelined request may have started in super(): its head is in, nothing to arm.
        if self.cycle is answered and not self.transport.is_closing():
            self._arm(float(self.timeout_keep_alive) + self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def limited_h11_protocol(*, header_timeout: float, max_connections: int) -> type[H11Protocol]:
    """The protocol class to give uvicorn (`Config(http=...)`), with these limits."""
    return type(
        "LimitedH11Protocol",
        (_LimitedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )
