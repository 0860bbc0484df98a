"""`PackCache`: what reading a repository's packs builds and later requests reuse, bounded in
bytes, each entry owned by the repositories that use it.

An entry's weight is an estimate of the bytes it holds, computed once when it is built (or
updated by `reweigh` and, for values that grow, by their own `cache_bytes()` at each use). The
estimates are per-item costs of CPython 3.11 on 64 bits, measured with `tracemalloc` on
containers of 100,000 items; they are cheap to compute and good to within tens of percent, which
is what a budget needs. Shared objects (an index's SHAs in a set built from it) are counted in
each entry, so the estimate errs on the large side.

Idle: once the server has had no git work for a while (`emulator.memory.MemoryReturn`), the
cache shrinks to its idle budget (`idle_bytes`, by default a quarter of `max_bytes`) before the
freed heap is given back: what the API answered and computed (`CHEAP_KINDS`: memos of answers,
differences, file histories, peeled tags), which a request rebuilds from the rest at little
cost, goes first; then, only while still above the idle budget, the rest (pack indexes, commit
graphs, reachable sets), least recently used first. A full cache would otherwise hold its
`max_bytes` for as long as the server runs, and no trim could give those pages back. A quarter:
the indexes and commit graphs of the repositories in use mostly stay (they cost a decryption
and a parse of every commit to rebuild), while a server that served a large mixed load drops
three quarters of what it built.

The resolved-object caches of the readers (`resolved_budget`) are not entries of this cache;
their shared account is created with it (`resolved`), so every reader built from the cache
finds it.

Ownership: an entry remembers every repository (`owner`, its id) that built or used it. Deleting
a repository (`forget_owner`) drops the entries no remaining repository has used; a pack pushed
to two repositories has one index entry, kept until both are gone.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from emulator.repos.resolved_budget import ResolvedBudget

DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
IDLE_SHARE = 4  # the idle budget is max_bytes / IDLE_SHARE unless set

# Kinds of entry (the first element of the key) that answer API reads and are rebuilt from the
# rest cheaply: the first to go when the server is idle.
CHEAP_KINDS = frozenset({"memo", "differences", "file-history", "peel"})

# Per-item estimates (bytes), see the module docstring.
SHA = 53  # a 20-byte `bytes` object
POINTER = 8  # a slot in a list or tuple
SET_ITEM = 42  # a set's share of the table per member (the member itself not included)
DICT_ITEM = 52  # a dict's share of the table per item (key and value not included)
INT = 28  # an int that is not one of the small cached ones
ENTRY_OVERHEAD = 200  # the cache's own record, the key, a small value


_GONE_KEPT = 1024  # deleted repositories remembered (36-character ids)


class Weighed:
    """A cached value that grows after it was built (a memo filled as requests read, a walk
    resumed page after page): the cache asks it for its size at each use."""

    def cache_bytes(self) -> int:
        raise NotImplementedError


def sha_set_bytes(n: int) -> int:
    return n * (SHA + SET_ITEM)


def kind_of(key: object) -> str:
    return key[0] if isinstance(key, tuple) and key and isinstance(key[0], str) else "other"


def _names_any(key: object, names: set[str]) -> bool:
    """Whether a cache key (strings, bytes and tuples of them) holds one of `names`."""
    if isinstance(key, str):
        return key in names
    if isinstance(key, tuple):
        return any(_names_any(part, names) for part in key)
    return False


@dataclass
class _Entry:
    value: object
    weight: int
    owners: set[str]


@dataclass(frozen=True)
class CacheStats:
    bytes: int
    entries: int
    max_bytes: int
    evicted: int
    idle_bytes: int = 0
    shrunk: int = 0  # entries dropped by `shrink_idle`
    # (entries, bytes) per kind of entry: the first element of its key ("idx", "commits",
    # "reach", "memo", "differences", ...)
    kinds: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class PackCache:
    """Parsed indexes, commit graphs, reachability answers and per-repository memos, shared by
    all requests of one emulator. At most `max_bytes` (estimated); least recently used goes
    first, and a value larger than the whole budget is built and used but not kept."""

    max_bytes: int = DEFAULT_CACHE_BYTES
    # What the cache keeps once the server is idle (see the module docstring); None: a quarter
    # of `max_bytes`.
    idle_bytes: int | None = None
    # The account of what readers keep of the objects they resolved (`resolved_budget`).
    resolved: ResolvedBudget = field(default_factory=ResolvedBudget)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _items: OrderedDict[object, _Entry] = field(default_factory=OrderedDict)
    _weight: int = 0
    _evicted: int = 0
    _shrunk: int = 0
    # Recently deleted repositories: a request still in flight for one builds what it needs,
    # but nothing it builds is kept (else it would outlive the repository).
    _gone: OrderedDict[str, None] = field(default_factory=OrderedDict)
    # The set of packs each repository read last (see `pack_set`).
    _pack_sets: dict[str, object] = field(default_factory=dict)
    # When the cache was last used or shrunk (time.monotonic): what `emulator.memory` calls
    # activity, since every git operation and code read goes through here.
    last_used: float = 0.0

    def get_or_build(
        self,
        key: object,
        build: Callable[[], tuple[object, int]],
        owner: str | None = None,
    ) -> object:
        self.last_used = time.monotonic()
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
                if owner is not None:
                    entry.owners.add(owner)
                if isinstance(entry.value, Weighed):
                    self._set_weight(entry, entry.value.cache_bytes() + ENTRY_OVERHEAD)
                    self._evict(keep=key)
                return entry.value
        # Built outside the lock: two requests may build the same thing once; both are right.
        value, weight = build()
        weight += ENTRY_OVERHEAD
        if weight > self.max_bytes:
            return value
        with self._lock:
            if owner in self._gone:
                return value
            entry = self._items.get(key)
            if entry is None:
                entry = _Entry(value, weight, set())
                self._items[key] = entry
                self._weight += weight
            if owner is not None:
                entry.owners.add(owner)
            self._evict(keep=key)
            return entry.value

    def touch(self) -> None:
        """A reader is done (a clone sent its last byte, a push its report): activity too,
        though a long send may not have used the cache since it began."""
        self.last_used = time.monotonic()

    def reweigh(self, key: object, weight: int) -> None:
        """A cached value changed size (a holder refilled): account its new weight."""
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._set_weight(entry, weight + ENTRY_OVERHEAD)
                self._evict(keep=None)

    def forget_owner(self, owner: str) -> int:
        """Drop what only `owner` (a deleted repository) used; returns the bytes dropped."""
        with self._lock:
            self._pack_sets.pop(owner, None)
            self._gone[owner] = None
            while len(self._gone) > _GONE_KEPT:
                self._gone.popitem(last=False)
            keys = [k for k, e in self._items.items() if owner in e.owners]
            dropped = self._release(keys, owner)
        self.last_used = time.monotonic()
        return dropped

    def pack_set(self, owner: str, key: object) -> None:
        """`owner` now reads the set of packs `key` (a `PackReader.key`): what it built for
        the set it read before (generations, duplicate positions, exact-clone answers), keyed
        by that set, will not be asked for again once a push has added a pack, so it goes now
        rather than when the budget pushes it out. A request still reading the old set
        rebuilds what it needs."""
        with self._lock:
            old = self._pack_sets.get(owner)
            if old == key:
                return
            self._pack_sets[owner] = key
            if old is None:
                return
            self._release([k for k in self._items if isinstance(k, tuple) and old in k[1:]], owner)

    def forget_packs(self, owner: str, names: Iterable[str]) -> int:
        """Drop what `owner` built from packs it has retired (after a repack): the entries
        whose keys name one of `names`, unless another repository uses them too. Returns the
        bytes dropped. Left alone, they would only wait for the budget to push them out."""
        gone = set(names)
        with self._lock:
            return self._release([k for k in self._items if _names_any(k, gone)], owner)

    def _release(self, keys: list[object], owner: str) -> int:
        """`owner` no longer uses the entries `keys`; those no one else uses go. Returns the
        bytes dropped. The caller holds the lock."""
        dropped = 0
        for key in keys:
            entry = self._items[key]
            entry.owners.discard(owner)
            if not entry.owners:
                del self._items[key]
                self._weight -= entry.weight
                dropped += entry.weight
        return dropped

    def owned_bytes(self, owner: str) -> int:
        """The weight of the entries `owner` has built or used."""
        with self._lock:
            return sum(e.weight for e in self._items.values() if owner in e.owners)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weight = 0
        self.last_used = time.monotonic()

    @property
    def idle_budget(self) -> int:
        return self.max_bytes // IDLE_SHARE if self.idle_bytes is None else self.idle_bytes

    def shrink_idle(self) -> int:
        """The server is idle: drop entries down to the idle budget, the cheap kinds first,
        each group least recently used first. Returns the bytes dropped. Not activity: it
        leaves `last_used` alone."""
        target = self.idle_budget
        dropped = 0
        with self._lock:
            for cheap_only in (True, False):
                if self._weight <= target:
                    break
                for key in list(self._items):  # least recently used first
                    if self._weight <= target:
                        break
                    if cheap_only and kind_of(key) not in CHEAP_KINDS:
                        continue
                    entry = self._items.pop(key)
                    self._weight -= entry.weight
                    dropped += entry.weight
                    self._shrunk += 1
        return dropped

    def stats(self) -> CacheStats:
        with self._lock:
            kinds: dict[str, tuple[int, int]] = {}
            for key, entry in self._items.items():
                kind = kind_of(key)
                n, b = kinds.get(kind, (0, 0))
                kinds[kind] = (n + 1, b + entry.weight)
            return CacheStats(
                self._weight,
                len(self._items),
                self.max_bytes,
                self._evicted,
                idle_bytes=self.idle_budget,
                shrunk=self._shrunk,
                kinds=kinds,
            )

    def _set_weight(self, entry: _Entry, weight: int) -> None:
        self._weight += weight - entry.weight
        entry.weight = weight

    def _evict(self, keep: object) -> None:
        while self._weight > self.max_bytes and self._items:
            key, old = next(iter(self._items.items()))
            if key == keep:
                if len(self._items) == 1:
                    break
                self._items.move_to_end(key)
                continue
            del self._items[key]
            self._weight -= old.weight
            self._evicted += 1
