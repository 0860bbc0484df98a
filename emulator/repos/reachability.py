"""What the refs reach: the object set a clone must send and the collector must keep.

`reachable_objects` walks from the ref tips through tags, commits (the cached commit graph, no
inflation) and trees (each tree read once); blobs are named by their trees and never read.
`stored_exactly` says whether a set of packs holds exactly those objects, the condition under
which a clone may send the stored packs as they are (git's pack reuse of a freshly repacked
repository). The answer is cached per (packs, tips) in the `PackCache`, so the background
collector's walk also serves the next clone, and a clone that had to walk serves the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager

from emulator.repos.commit_graph import Graph
from emulator.repos.pack_cache import sha_set_bytes
from emulator.repos.pack_reader import (
    OBJ_COMMIT,
    OBJ_TAG,
    OBJ_TREE,
    PackFormatError,
    PackReader,
    is_gitlink_mode,
    is_tree_mode,
    iter_tree,
    tag_target,
)
from emulator.repos.pack_send import duplicate_positions
from emulator.repos.sha_table import ShaTable

ShouldStop = Callable[[], bool]


class WalkInterrupted(Exception):
    """The walk was asked to stop (the server is shutting down)."""


def reachable_objects(
    reader: PackReader,
    graph: Graph,
    tips: frozenset[bytes],
    should_stop: ShouldStop | None = None,
    first: tuple[bytes, Callable[[ShaTable], None]] | None = None,
) -> ShaTable:
    """Binary ids of every object reachable from `tips` (binary ids of ref values). Raises
    `PackFormatError` if a reachable commit or tree is missing: then nothing may be dropped.

    The last answer is kept per base pack (the largest), and a new one is derived from it
    when every old tip is still reachable (fast-forwards, new branches and tags: the usual
    push): only the new objects are walked, so a clone after a push does not read every tree
    again. Object ids name content, so the answer holds whichever repository asks. The answer
    is a `ShaTable`: kept for as long as the packs are, it must not be 100,000s of objects.

    `first` is (a commit among `tips`, a function): when every object is walked afresh, what
    that commit reaches is walked first and handed to the function, then the other tips are
    walked up to it. The two walks cost what one walk of all the tips does, and the default
    branch's closure (what `git clone --single-branch` needs) comes with it.

    One walk at a time per base pack: the background walk after a push and a clone that comes
    in meanwhile would otherwise both walk every tree; the one that waits gets the answer (or
    derives its own from it)."""
    if not reader.indexes:
        return ShaTable(b"")
    key = ("reach", reader.indexes[0].key)
    with _one_walk(key):
        return _reachable_objects(reader, graph, tips, should_stop, first)


_walks_lock = threading.Lock()
_walks: dict[object, tuple[threading.Lock, int]] = {}  # key -> (its lock, callers holding it)


@contextmanager
def _one_walk(key: object) -> Iterator[None]:
    with _walks_lock:
        lock, users = _walks.get(key, (threading.Lock(), 0))
        _walks[key] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _walks_lock:
            lock, users = _walks[key]
            if users == 1:
                del _walks[key]
            else:
                _walks[key] = (lock, users - 1)


def _reachable_objects(
    reader: PackReader,
    graph: Graph,
    tips: frozenset[bytes],
    should_stop: ShouldStop | None,
    first: tuple[bytes, Callable[[ShaTable], None]] | None,
) -> ShaTable:
    base = reader.indexes[0]
    key = ("reach", base.key)
    holder = reader.cached(key, lambda: ([], 0))
    assert isinstance(holder, list)
    last = holder[0] if holder else None
    result: ShaTable | None = None
    if last is not None:
        old_tips, known = last
        assert isinstance(known, ShaTable)
        if old_tips == tips:
            return known
        found, touched = walk_reachable(reader, graph, tips - old_tips, known, should_stop)
        if all(t in tips or t in touched for t in old_tips):
            result = known.union(found)
    if result is None:
        if first is not None and first[0] in tips and first[0] in graph:
            walked, _ = walk_reachable(reader, graph, (first[0],), frozenset(), should_stop)
            branch = same_table(ShaTable.of(walked), base.shas)
            first[1](branch)
            rest, _ = walk_reachable(reader, graph, tips - {first[0]}, walked, should_stop)
            if not rest:  # the other refs reach nothing the default branch does not
                result = branch
            walked |= rest
            del rest
        else:
            walked, _ = walk_reachable(reader, graph, tips, frozenset(), should_stop)
        if result is None:
            result = same_table(ShaTable.of(walked), base.shas)
        del walked
    remember_reachable(reader, tips, result)
    return result


def same_table(table: ShaTable, other: ShaTable) -> ShaTable:
    """`other` if it holds the same ids as `table`, else `table`: what the refs reach is often
    exactly what the largest pack holds (after a mirror push or a repack), and a quarter of a
    million ids need not be kept twice."""
    return other if len(other) == len(table) and other.blob == table.blob else table


def remember_reachable(reader: PackReader, tips: frozenset[bytes], found: ShaTable) -> None:
    """Seed the derivation of `reachable_objects` for a new set of packs (after a repack)."""
    if reader.indexes:
        base = reader.indexes[0]
        key = ("reach", base.key)
        holder = reader.cached(key, lambda: ([], 0))
        assert isinstance(holder, list)
        holder[:] = [(tips, found)]
        own = 0 if found is base.shas else found.cache_bytes()  # the index's table is counted
        reader.cache.reweigh(key, own + sha_set_bytes(len(tips)))


def walk_reachable(
    reader: PackReader,
    graph: Graph,
    tips: Iterable[bytes],
    known: Collection[bytes],
    should_stop: ShouldStop | None,
) -> tuple[set[bytes], set[bytes]]:
    """Objects reachable from `tips` that are not in `known` (closed under reachability, so
    the walk stops there), and the objects of `known` it ran into."""
    seen: set[bytes] = set()
    touched: set[bytes] = set()
    commits: list[bytes] = []
    trees: list[bytes] = []

    def new(sha: bytes) -> bool:
        if sha in known:
            touched.add(sha)
            return False
        return sha not in seen

    for tip in tips:
        cur = tip
        for _ in range(100):  # git's tag chains are short; longer is damage
            if not new(cur):
                break
            if cur in graph:
                commits.append(cur)
                break
            obj = reader.get(cur)
            if obj is None:
                raise PackFormatError(f"object {cur.hex()} is missing")
            typ, data = obj
            if typ == OBJ_TREE:
                trees.append(cur)
                break
            seen.add(cur)
            if typ != OBJ_TAG:
                if typ == OBJ_COMMIT:  # a commit the graph lacks would be a graph bug
                    raise PackFormatError(f"commit {cur.hex()} is not in the commit graph")
                break  # a tagged blob
            cur = tag_target(data)
    while commits:
        c = commits.pop()
        if not new(c):
            continue
        info = graph.get(c)
        if info is None:
            raise PackFormatError(f"commit {c.hex()} is missing")
        seen.add(c)
        trees.append(info[0])
        commits.extend(info[1])
    read = 0
    while trees:
        t = trees.pop()
        if not new(t):
            continue
        obj = reader.get(t)
        if obj is None or obj[0] != OBJ_TREE:
            raise PackFormatError(f"tree {t.hex()} is missing")
        seen.add(t)
        for mode, _name, sha in iter_tree(obj[1]):
            if is_tree_mode(mode):
                trees.append(sha)
            elif not is_gitlink_mode(mode) and sha not in known:
                seen.add(sha)
        read += 1
        if should_stop is not None and read % 512 == 0 and should_stop():
            raise WalkInterrupted
    return seen, touched


def stored_exactly(reader: PackReader, reachable: Collection[bytes]) -> bool:
    """Whether the reader's packs hold exactly `reachable`: nothing more, nothing less."""
    if isinstance(reachable, ShaTable) and len(reader.indexes) == 1:
        return reader.indexes[0].shas.blob == reachable.blob  # both sorted: one comparison
    members = reachable if isinstance(reachable, (set, frozenset)) else set(reachable)
    distinct = 0
    for ix, dups in zip(reader.indexes, duplicate_positions(reader), strict=True):
        if not members.issuperset(ix.shas):  # the loop in C: a pack holds 100,000s of ids
            return False
        distinct += ix.count - len(dups)
    return distinct == len(members)


def tips_of(ref_values: Iterable[bytes]) -> frozenset[bytes]:
    """Binary ids of hex ref values (values that are not hex are skipped)."""
    out: set[bytes] = set()
    for hexsha in ref_values:
        try:
            out.add(bytes.fromhex(hexsha.decode("ascii")))
        except ValueError:
            continue
    return frozenset(out)


def exact_key(reader: PackReader, tips: frozenset[bytes]) -> tuple[object, ...]:
    return ("exact", reader.key, tips)


def remember_exact(reader: PackReader, tips: frozenset[bytes], exact: bool) -> None:
    reader.cached(exact_key(reader, tips), lambda: (exact, sha_set_bytes(len(tips))))


def clone_objects(
    reader: PackReader,
    graph: Graph,
    tips: frozenset[bytes],
    first: tuple[bytes, Callable[[ShaTable], None]] | None = None,
) -> tuple[bool, ShaTable | None]:
    """For a request that wants every ref: (True, None) if the stored packs hold exactly what
    the refs reach, else (False, the objects to send). Walks only when the answer for these
    packs and tips is not known yet (`first`: as for `reachable_objects`)."""
    walked: list[ShaTable] = []

    def build() -> tuple[object, int]:
        found = reachable_objects(reader, graph, tips, None, first)
        walked.append(found)
        return stored_exactly(reader, found), sha_set_bytes(len(tips))

    exact = reader.cached(exact_key(reader, tips), build)
    if exact:
        return True, None
    return False, walked[0] if walked else reachable_objects(reader, graph, tips)
