"""`ShaTable`: a sorted set of 20-byte object ids kept in two buffers, not 100,000s of objects.

A pack index or a reachable set of a large repository holds a quarter of a million ids. As
`bytes` objects in a list or set each id is a small object of its own (about 90 bytes with its
slot), and a long-lived structure of small objects built just after a large transient one (the
indexing of a push, a walk of every tree) lands in the holes that one left all over the
allocator's arenas, which then can never be given back to the system. A table is one buffer of
the ids end to end, in ascending order, plus bytes 1-4 of each as an unsigned 32-bit integer in
an `array` (to bisect in C, within the ids that share the first byte: git's fan-out): 24 bytes
per id, two allocations however many ids.

Lookups cost about what a bisection of a list of `bytes` costs; iterating makes each id as it
goes (a temporary the caller drops).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator

_ID = 20
_KEY = 4  # bytes 1-4 of an id (the first byte is the fan-out's), as a C unsigned int ("I")


def _key_array(blob: bytes, count: int) -> array[int]:
    """Bytes 1-4 of each id, read big-endian (so among ids with the same first byte their
    order is the ids' order), gathered with strided slice copies (in C) rather than a loop over
    the ids."""
    raw = bytearray(_KEY * count)
    big = sys.byteorder == "big"
    for j in range(_KEY):
        raw[(j if big else _KEY - 1 - j) :: _KEY] = blob[1 + j :: _ID]
    keys = array("I")
    keys.frombytes(bytes(raw))
    return keys


class ShaTable(Collection[bytes]):
    """Ids in ascending order, each once. `blob` is their concatenation."""

    __slots__ = ("_blob", "_count", "_fan", "_keys")

    def __init__(self, blob: bytes) -> None:
        if len(blob) % _ID:
            raise ValueError("a table of ids is a multiple of 20 bytes long")
        self._blob = blob
        self._count = len(blob) // _ID
        self._keys = _key_array(blob, self._count)
        # git's fan-out: where the ids of each first byte begin, so a lookup bisects only
        # those (eight steps fewer on a quarter of a million ids). 257 bisections of the
        # first bytes to build, about 0.2 ms.
        first = blob[::_ID]
        self._fan = array("I", (bisect_left(first, b) for b in range(257)))

    @classmethod
    def of(cls, ids: Iterable[bytes]) -> ShaTable:
        """A table of `ids` (any order; repeats kept once)."""
        unique = ids if isinstance(ids, (set, frozenset)) else set(ids)
        return cls(b"".join(sorted(unique)))

    @property
    def blob(self) -> bytes:
        return self._blob

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> bytes:
        if i < 0:
            i += self._count
        if not 0 <= i < self._count:
            raise IndexError(i)
        start = i * _ID
        return self._blob[start : start + _ID]

    def __iter__(self) -> Iterator[bytes]:
        blob = self._blob
        for start in range(0, len(blob), _ID):
            yield blob[start : start + _ID]

    def ids(self) -> Iterator[bytes]:
        """The ids in order, cut out of the buffer without a Python-level loop (faster than
        iterating the table when handed to `map` or `bytes`)."""
        blob = self._blob
        n = len(blob)
        return map(blob.__getitem__, map(slice, range(0, n, _ID), range(_ID, n + _ID, _ID)))

    def position(self, sha: bytes) -> int | None:
        """The index of `sha` in the table, or None."""
        # _insertion, inlined: this is the lookup of every walk over commits and objects.
        if len(sha) != _ID:
            return None
        keys = self._keys
        key = int.from_bytes(sha[1 : 1 + _KEY], "big")
        fan = self._fan
        first = sha[0]
        i = bisect_left(keys, key, fan[first], fan[first + 1])
        n = self._count
        if i < n and keys[i] == key:
            blob = self._blob
            while True:
                start = i * _ID
                if blob.startswith(sha, start):
                    return i
                if blob[start : start + _ID] > sha:
                    return None
                i += 1
                if i == n or keys[i] != key:
                    return None
        return None

    def _insertion(self, sha: bytes) -> int:
        """Where `sha` is or would go (the first id not less than it)."""
        keys = self._keys
        key = int.from_bytes(sha[1 : 1 + _KEY], "big")
        first = sha[0] if sha else 0
        i = bisect_left(keys, key, self._fan[first], self._fan[first + 1])
        n = self._count
        blob = self._blob
        while i < n and keys[i] == key and blob[i * _ID : (i + 1) * _ID] < sha:
            i += 1
        return i

    def union(self, ids: Iterable[bytes]) -> ShaTable:
        """This table plus `ids`: the few new ids are spliced in (copies of the runs between
        them), not the whole set sorted again."""
        new = sorted({s for s in ids if s not in self})
        if not new:
            return self
        blob = self._blob
        parts: list[bytes] = []
        prev = 0
        for sha in new:
            i = self._insertion(sha)
            parts.append(blob[prev * _ID : i * _ID])
            parts.append(sha)
            prev = i
        parts.append(blob[prev * _ID :])
        return ShaTable(b"".join(parts))

    def __contains__(self, sha: object) -> bool:
        return isinstance(sha, bytes) and self.position(sha) is not None

    def as_set(self) -> set[bytes]:
        return set(self)

    def cache_bytes(self) -> int:
        return len(self._blob) + len(self._keys) * _KEY + 4 * 257 + 200
