"""uvicorn's httptools protocol (llhttp, a C parser) with the connection limits uvicorn lacks.

uvicorn closes a keep-alive connection that stays idle after an answer (`timeout_keep_alive`),
but not one that sends nothing at all after connecting, nor one that sends part of a request
head and then stalls (any byte cancels the keep-alive timer): such connections are kept for
ever, and enough of them exhaust the server's file descriptors. Nor does its httptools protocol
bound a request head (h11's bounds it to 16 KiB): one endless header line would grow in memory
until the header deadline. Here:

- a request head must be complete within `header_timeout` of connecting, or of the end of the
  previous answer plus the keep-alive time; else the connection is closed (Apache's
  `RequestReadTimeout header=`, nginx's `client_header_timeout`);
- a request head larger than `MAX_HEAD` is answered 400 and the connection closed;
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

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# h11's default bound on a request head, which ccemu served with before.
MAX_HEAD = 16 * 1024


class _LimitedProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    max_connections: int = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0
        self._cycle_when_armed: object = None
        self._head_bytes = 0  # bytes of a request head not yet complete

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
            if isinstance(c, _LimitedProtocol)
            and c is not self
            and c._waiting_for_head()
            and not c.transport.is_closing()
        ]
        victim = min(waiting, key=lambda c: c._waiting_since) if waiting else self
        victim.transport.close()

    def data_received(self, data: bytes) -> None:
        heads = self._heads
        super().data_received(data)
        if self._heads != heads:
            self._head_bytes = 0  # a head completed in this chunk: what follows is counted anew
        elif self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD and not self.transport.is_closing():
                self.send_400_response("Request head too large.")

    # A head is in progress from its first byte (llhttp's on_message_begin) until
    # on_headers_complete; `_heads` counts completed heads.
    _in_head = False
    _heads = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._heads += 1
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        answered = self.cycle
        super().on_response_complete()
        # A pipelined request may have started in super(): its head is in, nothing to arm.
        if self.cycle is answered and not self.transport.is_closing():
            self._arm(float(self.timeout_keep_alive) + self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def limited_http_protocol(
    *, header_timeout: float, max_connections: int
) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (`Config(http=...)`), with these limits."""
    return type(
        "LimitedHttpProtocol",
        (_LimitedProtocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )
