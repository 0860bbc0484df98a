"""What the commits of a clone of some refs reach, kept per repository and grown from the last one.

A clone of some refs (`git clone --single-branch`, a fetch into an empty repository) has the
client holding nothing, so the server sends every object the wanted commits reach. That set
never changes for given commits (objects are named by their content), so it is kept; and when
the branch has moved on since, the new set is the kept one plus what the new commits reach that
it lacks: only the new commits' trees are walked (against the kept commits' trees, as a fetch
would), not the whole history. Pushes in between do not spoil an entry, since what it lists
stays reachable (the wanted commits were reachable when it was made, and an object leaves the
store only once nothing reaches it — the entry names commits, checked to be ancestors of the
new wants before it is used).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from emulator.repos.commit_graph import Graph, commits_to_send
from emulator.repos.object_walk import ObjectWalk
from emulator.repos.pack_cache import SET_ITEM, SHA, Weighed, sha_list_bytes
from emulator.repos.pack_reader import PackReader

_KEPT = 4  # closures kept per repository (the branches cloned alone most recently)


@dataclass(frozen=True)
class Closure:
    tips: tuple[bytes, ...]  # the wanted commits, sorted
    order: tuple[bytes, ...]  # every object they reach, in the order the walk found them
    members: frozenset[bytes]


class Closures(Weighed):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[bytes, ...], Closure] = OrderedDict()

    def cache_bytes(self) -> int:
        with self._lock:
            n = sum(len(c.order) for c in self._items.values())
        return sha_list_bytes(n) + n * (SHA + SET_ITEM)

    def of(
        self, reader: PackReader, graph: Graph, tips: tuple[bytes, ...], max_objects: int
    ) -> Closure:
        """The objects the commits `tips` (sorted, each in `graph`) reach."""
        with self._lock:
            hit = self._items.get(tips)
            if hit is not None:
                self._items.move_to_end(tips)
                return hit
            kept = list(self._items.values())
        base = _ancestor_closure(graph, tips, kept)
        walk = ObjectWalk(reader, graph, max_objects)
        if base is None:
            commits, _ = commits_to_send(graph, list(tips), [], set(), set())
            walk.add_commits(commits, [])
            order = tuple(walk.order)
            found = Closure(tips, order, frozenset(order))
        else:
            commits, boundary = commits_to_send(graph, list(tips), list(base.tips), set(), set())
            walk.add_commits(commits, walk.add_boundary(boundary))
            new = [o for o in walk.order if o not in base.members]
            found = Closure(tips, base.order + tuple(new), base.members.union(new))
        with self._lock:
            self._items[tips] = found
            while len(self._items) > _KEPT:
                self._items.popitem(last=False)
        return found


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
    return max(usable, key=lambda k: len(k.order)) if usable else None
