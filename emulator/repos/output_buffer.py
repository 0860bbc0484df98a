"""`OutputBuffer`: a git service's many small writes gathered into large ones, for a door.

A pack goes out as 65,520-byte side-band frames, each written as a five-byte header and its
data; handing each write on separately would cost a crossing to the event loop (HTTP) or an
SSH packet (SSH) per frame. The buffer has a fixed capacity, filled in place: a growing
`bytearray` emptied after each hand-over is reallocated through every size up to the limit
hundreds of times a clone, and those blocks land wherever the allocator has holes, each one
touching memory the process then keeps until it is trimmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Bytes = bytes | bytearray | memoryview
# What a git service writes its answer with. It may be handed a view that is valid only during
# the call (a piece of a buffer about to be refilled): the callee copies what it keeps.
Write = Callable[[Bytes], None]


class OutputBuffer:
    """Gathers writes and hands them on (`emit`, as one `bytes`) once `limit` bytes are held or
    `seconds` have passed since the last hand-over (so progress lines are not held back while
    a long pack is computed)."""

    def __init__(self, emit: Callable[[bytes], None], limit: int, seconds: float) -> None:
        self._emit = emit
        self._limit = limit
        self._seconds = seconds
        self._view: memoryview | None = None  # allocated on the first write
        self._len = 0
        self._last = time.monotonic()
        self.started = False  # something was handed on

    def write(self, data: Bytes) -> None:
        n = len(data)
        if self._len + n > self._limit:
            self.flush()
            if n >= self._limit:  # larger than the buffer: on its own
                self._hand_on(bytes(data))
                return
        if self._view is None:
            self._view = memoryview(bytearray(self._limit))
        self._view[self._len : self._len + n] = data
        self._len += n
        if self._len >= self._limit or time.monotonic() - self._last > self._seconds:
            self.flush()

    def flush(self) -> None:
        if self._len and self._view is not None:
            data = bytes(self._view[: self._len])
            self._len = 0
            self._hand_on(data)
        self._last = time.monotonic()

    def discard(self) -> None:
        self._len = 0

    def _hand_on(self, data: bytes) -> None:
        self.started = True
        self._emit(data)
        self._last = time.monotonic()
