"""What the commits of a clone of some refs reach, kept per repository and grown from the last one.

A clone of some refs (`git clone --single-branch`, a fetch into an empty repository) has the
client holding nothing, so the server sends every object the wanted commits reach. That set
never changes for given commits (objects are named by their content), so it is kept; and when
the branch has moved on since, the new set is a kept one (of commits that are ancestors of the
new ones) plus what `reachability.walk_reachable` finds beyond it: only the new commits and the
trees they changed are read, not the whole history. Pushes in between do not spoil an entry:
what it lists stays reachable (its commits are ancestors of reachable ones, and an object leaves
the store only once nothing reaches it).

To send a closure in pack order without locating each of its ids, a closure also keeps, per pack
(by index key), which of the pack's entries are members: one byte per entry (`Closure.in_pack`).
A closure grown from a kept one derives that from the kept one's (plus the ids it added), so a
clone after a push does not test the membership of every id of the large pack again.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict
from collections.abc import Callable

from emulator.repos.commit_graph import Graph
from emulator.repos.pack_cache import Weighed
from emulator.repos.pack_reader import PackIndex, PackReader
from emulator.repos.reachability import walk_reachable
from emulator.repos.sha_table import ShaTable

_KEPT = 4  # closures kept per repository (the branches cloned alone most recently)


_KEPT_PACKS = 8  # packs whose membership bytes a closure keeps


class Closure:
    __slots__ = ("_base", "_bits", "members", "tips")

    def __init__(
        self,
        tips: tuple[bytes, ...],
        members: ShaTable,
        base: tuple[dict[object, bytes], ShaTable] | None = None,
    ) -> None:
        self.tips = tips  # the wanted commits, sorted
        self.members = members  # every object they reach
        # the kept closure's membership bytes and the ids added to it, until used
        self._base = base
        self._bits: dict[object, bytes] = {}

    def cache_bytes(self) -> int:
        held = list(self._bits.values())
        if self._base is not None:
            held += list(self._base[0].values())  # a copy: another request may add to it
            held.append(self._base[1].blob)
        return self.members.cache_bytes() + sum(len(b) for b in held)

    def in_pack(self, ix: PackIndex) -> bytes:
        """For each entry of the pack of `ix`, in index order: 1 if it is a member, else 0."""
        bits = self._bits.get(ix.key)
        if bits is None:
            bits = self._membership(ix)
            self._bits[ix.key] = bits
            while len(self._bits) > _KEPT_PACKS:  # requests may race here: pop, never del
                self._bits.pop(next(iter(self._bits)), None)
        return bits

    def _membership(self, ix: PackIndex) -> bytes:
        base = self._base
        kept = base[0].get(ix.key) if base is not None else None
        if base is not None and kept is not None:
            out = bytearray(kept)
            for sha in base[1]:
                i = ix.shas.position(sha)
                if i is not None:
                    out[i] = 1
            return bytes(out)
        if ix.count * 16 < len(self.members):  # a small pack: look its ids up
            return bytes(map(self.members.__contains__, ix.shas.ids()))
        members = set(self.members.ids())
        return bytes(map(members.__contains__, ix.shas.ids()))


class Closures(Weighed):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[bytes, ...], Closure] = OrderedDict()

    def cache_bytes(self) -> int:
        with self._lock:
            return sum(c.cache_bytes() for c in self._items.values())

    def of(self, reader: PackReader, graph: Graph, tips: tuple[bytes, ...]) -> Closure:
        """The objects the commits `tips` (sorted, each in `graph`) reach."""
        closure = self._find(reader, graph, tips, None, grown_only=False)
        assert closure is not None
        return closure

    def grown(
        self,
        reader: PackReader,
        graph: Graph,
        tips: tuple[bytes, ...],
        should_stop: Callable[[], bool] | None,
    ) -> Closure | None:
        """As `of`, but only when a kept closure of ancestors leaves a short walk (the branch
        moved on by a push); else None, without walking."""
        return self._find(reader, graph, tips, should_stop, grown_only=True)

    def _find(
        self,
        reader: PackReader,
        graph: Graph,
        tips: tuple[bytes, ...],
        should_stop: Callable[[], bool] | None,
        *,
        grown_only: bool,
    ) -> Closure | None:
        with self._lock:
            hit = self._items.get(tips)
            if hit is not None:
                self._items.move_to_end(tips)
                return hit
            kept = list(self._items.values())
        base = _ancestor_closure(graph, tips, kept)
        if base is None and grown_only:
            return None
        known = base.members if base is not None else ShaTable(b"")
        found, _ = walk_reachable(reader, graph, tips, known, should_stop)
        added = ShaTable.of(found)
        del found
        grown = (base._bits, added) if base is not None else None
        return self._keep(Closure(tips, known.union(added), grown))

    def kept(self, tips: tuple[bytes, ...]) -> Closure | None:
        """The closure of `tips` (sorted) if it is kept, without walking."""
        with self._lock:
            return self._items.get(tips)

    def seed(self, tips: tuple[bytes, ...], members: ShaTable) -> Closure:
        """Keep `members`, found elsewhere, as what the commits `tips` (sorted) reach: the
        background walk after a push hands over the default branch's, so the next clone of
        that branch alone does not walk every tree again."""
        with self._lock:
            hit = self._items.get(tips)
            if hit is not None:
                return hit
        return self._keep(Closure(tips, members))

    def _keep(self, closure: Closure) -> Closure:
        with self._lock:
            self._items[closure.tips] = closure
            self._items.move_to_end(closure.tips)
            while len(self._items) > _KEPT:
                self._items.popitem(last=False)
        return closure


def repo_closures(reader: PackReader) -> Closures:
    """The closures kept for the reader's repository (they outlive its packs: see above)."""
    closures = reader.cached(("closures", reader.owner), lambda: (Closures(), 0))
    assert isinstance(closures, Closures)
    return closures


def _ancestor_closure(graph: Graph, tips: tuple[bytes, ...], kept: list[Closure]) -> Closure | None:
    """The largest kept closure whose commits are all ancestors of (or among) `tips`.

    Walks back from `tips` newest first and stops once every kept tip is found, or once what is
    left to walk is older than all of them: a branch that moved on by a few commits costs a few
    steps, not a walk of its whole history. Clock skew can only hide an ancestor, which costs a
    longer walk of objects later, never a wrong answer."""
    if not kept:
        return None
    targets = {t for k in kept for t in k.tips}
    oldest = min((info[2] for t in targets if (info := graph.get(t)) is not None), default=0)
    found: set[bytes] = set()
    seen: set[bytes] = set()
    heap: list[tuple[int, bytes]] = []
    for t in tips:
        info = graph.get(t)
        if info is not None and t not in seen:
            seen.add(t)
            heapq.heappush(heap, (-info[2], t))
    while heap and len(found) < len(targets):
        neg_when, c = heapq.heappop(heap)
        if -neg_when < oldest:
            break
        if c in targets:
            found.add(c)
        for p in graph[c][1]:
            if p not in seen:
                seen.add(p)
                info = graph.get(p)
                if info is not None:
                    heapq.heappush(heap, (-info[2], p))
    usable = [k for k in kept if all(t in found for t in k.tips)]
    return max(usable, key=lambda k: len(k.members)) if usable else None
