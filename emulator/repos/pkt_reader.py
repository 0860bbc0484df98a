"""Reading v0 requests (upload-pack's wants and haves, receive-pack's commands): pkt-lines with
a size cap, and object ids.

Every malformed frame is the client's error, raised as the service's own exception so it is
told to the client (`ERR ...`) instead of failing inside the server. git never sends the empty
pkt-line `0004` (gitprotocol-common: "Implementations SHOULD NOT send an empty pkt-line"), so
it is refused like any other bad length.
"""

from __future__ import annotations

from collections.abc import Callable

MAX_PKT = 65520
_HEX = frozenset(b"0123456789abcdefABCDEF")


class UploadPackError(Exception):
    """Told to the client as `ERR <message>` (or on side-band channel 3 once the pack has
    started)."""


class PktReader:
    """`read()` one pkt-line at a time from `read(n)` (1..n bytes, b"" at the end), never
    reading past the current pkt-line, so what follows (a pack) can be read from the same
    stream. Errors are raised as `error(prefix + message)`."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        limit: int,
        *,
        error: type[Exception] = UploadPackError,
        prefix: str = "upload-pack: ",
    ) -> None:
        self._read = read
        self._limit = limit
        self._error = error
        self._prefix = prefix
        self._used = 0
        self._peeked: bytes | bool | None = False  # False: nothing peeked

    def _fail(self, message: str) -> Exception:
        return self._error(self._prefix + message)

    def _exact(self, n: int) -> bytes:
        chunks = []
        got = 0
        while got < n:
            data = self._read(n - got)
            if not data:
                break
            chunks.append(data)
            got += len(data)
        self._used += got
        if self._used > self._limit:
            raise self._fail("request too large")
        return b"".join(chunks)

    def read(self) -> bytes | None:
        """A packet's payload; None for a flush-pkt; b"" at end of input."""
        if self._peeked is not False:
            out, self._peeked = self._peeked, False
            assert out is None or isinstance(out, bytes)
            return out
        head = self._exact(4)
        if not head:
            return b""
        if len(head) < 4:
            raise self._fail("protocol error, truncated pkt-line")
        if not all(c in _HEX for c in head):  # int() would take "0x10", " +1f"
            raise self._fail("protocol error, bad pkt-line length")
        n = int(head, 16)
        if n == 0:
            return None
        if n == 4:
            raise self._fail("protocol error, empty pkt-line (0004)")
        if n < 5 or n > MAX_PKT:
            raise self._fail("protocol error, bad pkt-line length")
        data = self._exact(n - 4)
        if len(data) < n - 4:
            raise self._fail("protocol error, truncated pkt-line")
        return data

    def peek(self) -> bytes | None:
        if self._peeked is False:
            self._peeked = self.read()
        assert self._peeked is None or isinstance(self._peeked, bytes)
        return self._peeked


def parse_id(text: bytes, what: str) -> bytes:
    if len(text) != 40:
        raise UploadPackError(f"upload-pack: protocol error, expected object id in {what}")
    try:
        return bytes.fromhex(text.decode("ascii"))
    except ValueError:
        raise UploadPackError(
            f"upload-pack: protocol error, expected object id in {what}"
        ) from None
