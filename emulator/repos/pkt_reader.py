"""Reading a v0 upload-pack request: pkt-lines with a size cap, and object ids."""

from __future__ import annotations

from collections.abc import Callable

MAX_PKT = 65520


class UploadPackError(Exception):
    """Told to the client as `ERR <message>` (or on side-band channel 3 once the pack has
    started)."""


class PktReader:
    def __init__(self, read: Callable[[int], bytes], limit: int) -> None:
        self._read = read
        self._limit = limit
        self._used = 0
        self._peeked: bytes | bool | None = False  # False: nothing peeked

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
            raise UploadPackError("upload-pack: request too large")
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
            raise UploadPackError("upload-pack: protocol error, truncated pkt-line")
        try:
            n = int(head, 16)
        except ValueError:
            raise UploadPackError("upload-pack: protocol error, bad pkt-line length") from None
        if n == 0:
            return None
        if n < 5 or n > MAX_PKT:
            raise UploadPackError("upload-pack: protocol error, bad pkt-line length")
        data = self._exact(n - 4)
        if len(data) < n - 4:
            raise UploadPackError("upload-pack: protocol error, truncated pkt-line")
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
