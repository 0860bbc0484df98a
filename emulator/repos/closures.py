"""What the commits of a clone of some refs reach, kept per repository and grown from the last one.

A clone of some refs (`git clone --single-branch`, a fetch into an empty repository) has the
client holding nothing, so the server sends every object the wanted commits reach. That set
never changes for given commits (objects are named by their content), so it is kept; and when
the branch has moved on since, the new set is a kept one (of commits that are ancestors of the
new ones) plus what `reachability.walk_reachable` finds beyond it: only the new commits and the
trees they changed are read, not the whole history. Pushes in between do not spoil an entry:
what it lists stays reachable (its commits are ancestors of reachable ones, and an object leaves
the store only once nothing reaches it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from emulator.repos.commit_graph import Graph
from emulator.repos.pack_cache import Weighed
from emulator.repos.pack_reader import PackReader
from emulator.repos.reachability import walk_reachable
from emulator.repos.sha_table import ShaTable

_KEPT = 4  # closures kept per repository (the branches cloned alone most recently)


@dataclass(frozen=True)
class Closure:
    tips: tuple[bytes, ...]  # the wanted commits, sorted
    members: ShaTable  # every object they reach


class Closures(Weighed):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[bytes, ...], Closure] = OrderedDict()

    def cache_bytes(self) -> int:
        with self._lock:
            return sum(c.members.cache_bytes() for c in self._items.values())

    def of(self, reader: PackReader, graph: Graph, tips: tuple[bytes, ...]) -> Closure:
        """The objects the commits `tips` (sorted, each in `graph`) reach."""
        with self._lock:
            hit = self._items.get(tips)
            if hit is not None:
                self._items.move_to_end(tips)
                return hit
            kept = list(self._items.values())
        base = _ancestor_closure(graph, tips, kept)
        known = base.members if base is not None else ShaTable(b"")
        found, _ = walk_reachable(reader, graph, tips, known, None)
        closure = Closure(tips, known.union(found))
        del found
        with self._lock:
            self._items[tips] = closure
            while len(self._items) > _KEPT:
                self._items.popitem(last=False)
        return closure


def _ancestor_closure(graph: Graph, tips: tuple[bytes, ...], kept: list[Closure]) -> Closure | None:
    """The largest kept closure whose commits are all ancestors of (or among) `tips`."""
    if not kept:
        return None
    ancestors: set[bytes] = set()
    stack = list(tips)
    while stack:
        c = stack.pop()
        if c in ancestors:
            continue
        ancestors.add(c)
        info = graph.get(c)
        if info is not None:
            stack.extend(info[1])
    usable = [k for k in kept if all(t in ancestors for t in k.tips)]
    return max(usable, key=lambda k: len(k.members)) if usable else None
