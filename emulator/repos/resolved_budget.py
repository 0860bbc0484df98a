"""`ResolvedBudget`: one account, shared by every `PackReader` of an emulator, of the bytes their
caches of resolved objects hold.

A reader keeps the objects it has resolved, most recent last: a delta's base is usually the next
delta's base too, and a walk meets the same trees again, so without that cache resolving the
k-th delta of a chain would inflate its k-1 bases again. Each reader used to allow itself 32 MiB,
so 16 concurrent clones could hold 512 MiB between them. Now every byte a reader keeps is counted
here; a reader may always keep `floor` bytes, and beyond that only while all readers together
are within `max_bytes`: when they are not, the reader evicts its own oldest entries instead (it
cannot evict another reader's: readers are not thread-safe, each belongs to one request). Closing
a reader, or losing it to the garbage collector, gives back what it held.

The numbers. `max_bytes` defaults to 64 MiB (`--resolved-cache-mib`). `floor` is 1/16 of it, at
most 4 MiB: the bases of a delta chain of git's default depth (50) over objects of tens of KiB
fit in that, so a lone request resolves every chain without inflating a base twice; and 16
concurrent readers (the load `bench/soak.py` runs by default) fit in the budget at their floors.
The floor is granted even when the account is spent, and a reader that already holds more than
its floor gives back only when it next keeps something, so all readers together hold at most
`max_bytes + floor x live readers`: 128 MiB for 16 readers with the defaults, where they held up
to 512 MiB before. `peak_bytes` records the most they ever held at once, so a long run can be
checked against that bound (`GET /_ccemu/stats`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

DEFAULT_RESOLVED_BYTES = 64 * 1024 * 1024
MAX_FLOOR = 4 * 1024 * 1024
FLOOR_SHARE = 16  # the floor is max_bytes / FLOOR_SHARE (at most MAX_FLOOR)


def floor_for(max_bytes: int) -> int:
    return min(MAX_FLOOR, max_bytes // FLOOR_SHARE)


@dataclass(frozen=True)
class ResolvedStats:
    bytes: int  # held by all readers now
    max_bytes: int
    floor_bytes: int
    peak_bytes: int  # the most they held at once since the start
    readers: int  # readers holding anything now
    evicted: int  # entries readers evicted to stay within their cap or the account


class ResolvedBudget:
    """The server-wide account. Thread-safe; readers hold a `Grant` each."""

    def __init__(self, max_bytes: int = DEFAULT_RESOLVED_BYTES) -> None:
        self.max_bytes = max_bytes
        self.floor = floor_for(max_bytes)
        self._lock = threading.Lock()
        self._bytes = 0
        self._peak = 0
        self._holders = 0
        self._evicted = 0

    def grant(self) -> Grant:
        return Grant(self)

    @property
    def spent(self) -> bool:
        """Whether the readers together hold more than the budget (read without the lock: a
        reader that misses a change by a moment sees it at its next entry)."""
        return self._bytes > self.max_bytes

    def _take(self, was: int, n: int) -> None:
        with self._lock:
            self._bytes += n
            if was == 0 and n > 0:
                self._holders += 1
            if self._bytes > self._peak:
                self._peak = self._bytes

    def _give(self, now: int, n: int, evicted: int) -> None:
        with self._lock:
            self._bytes -= n
            if now == 0 and n > 0:
                self._holders -= 1
            self._evicted += evicted

    def stats(self) -> ResolvedStats:
        with self._lock:
            return ResolvedStats(
                self._bytes, self.max_bytes, self.floor, self._peak, self._holders, self._evicted
            )


class Grant:
    """What one reader holds of the account. Used by that reader's thread only; the account
    it reports to is shared."""

    __slots__ = ("account", "bytes")

    def __init__(self, account: ResolvedBudget) -> None:
        self.account = account
        self.bytes = 0

    def take(self, n: int) -> None:
        """The reader now keeps `n` more bytes."""
        was = self.bytes
        self.bytes += n
        self.account._take(was, n)

    def must_give(self, limit: int) -> bool:
        """Whether the reader should evict its oldest entry: it holds more than `limit` (its
        own cap), or more than the floor while the account is spent."""
        held = self.bytes
        return held > limit or (held > self.account.floor and self.account.spent)

    def give(self, n: int, evicted: int = 0) -> None:
        """The reader dropped `n` bytes (`evicted` entries of them for lack of room)."""
        n = min(n, self.bytes)
        self.bytes -= n
        self.account._give(self.bytes, n, evicted)

    def release(self) -> None:
        """The reader is done: everything it held goes back. Safe to call again."""
        if self.bytes:
            self.give(self.bytes)
