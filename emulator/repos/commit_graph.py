"""An in-memory commit graph (sha -> tree, parents, commit time) and the walks a fetch needs.

Built once per pack by reading only its commit objects, kept per pack in the `PackCache` as a
`CommitTable` (a few buffers, not an object per id: see `sha_table`), and read through a
`PackGraphs` over a set of packs, so a push (one new pack) costs one small scan, not a rebuild.
"""

from __future__ import annotations

import heapq
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar, overload

from emulator.repos.pack_cache import DICT_ITEM, INT, SHA, Weighed
from emulator.repos.pack_reader import (
    OBJ_COMMIT,
    OFS_DELTA,
    REF_DELTA,
    PackIndex,
    PackReader,
    parse_commit,
    parse_entry_header,
)
from emulator.repos.sha_table import ShaTable

Commit = tuple[bytes, tuple[bytes, ...], int]  # tree, parents, commit time
Graph = Mapping[bytes, Commit]

_WINDOW = 1 << 20
_ID = 20
_T = TypeVar("_T")


class CommitTable(Mapping[bytes, Commit]):
    """One pack's commits: ids in a `ShaTable`; trees, times and parents in buffers in the
    same order (a commit's parents are `parents[ends[i - 1]:ends[i]]`, counted in ids)."""

    __slots__ = ("_ends", "_ids", "_parents", "_times", "_trees")

    def __init__(self, commits: Mapping[bytes, Commit]) -> None:
        self._ids = ShaTable.of(commits)
        trees: list[bytes] = []
        parents: list[bytes] = []
        ends = array("I")
        times = array("q")
        n = 0
        for c in self._ids:
            tree, ps, when = commits[c]
            trees.append(tree)
            parents.extend(ps)
            n += len(ps)
            ends.append(n)
            times.append(when)
        self._trees = b"".join(trees)
        self._parents = b"".join(parents)
        self._ends = ends
        self._times = times

    def _at(self, i: int) -> Commit:
        a = self._ends[i - 1] * _ID if i else 0
        b = self._ends[i] * _ID
        ps = self._parents
        if b - a == _ID:
            parents: tuple[bytes, ...] = (ps[a:b],)
        elif b - a == 2 * _ID:  # a merge
            parents = (ps[a : a + _ID], ps[a + _ID : b])
        else:
            parents = tuple(ps[j : j + _ID] for j in range(a, b, _ID))
        t = i * _ID
        return self._trees[t : t + _ID], parents, self._times[i]

    @overload
    def get(self, key: bytes, /) -> Commit | None: ...
    @overload
    def get(self, key: bytes, default: Commit | _T, /) -> Commit | _T: ...
    def get(self, key: bytes, default: object = None, /) -> object:
        i = self._ids.position(key)
        return default if i is None else self._at(i)

    def __getitem__(self, key: bytes) -> Commit:
        i = self._ids.position(key)
        if i is None:
            raise KeyError(key)
        return self._at(i)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def cache_bytes(self) -> int:
        return (
            self._ids.cache_bytes()
            + len(self._trees)
            + len(self._parents)
            + 4 * len(self._ends)
            + 8 * len(self._times)
        )


class PackGraphs(Mapping[bytes, Commit]):
    """The commits of several packs, the first pack's copy first (like `PackReader.locate`)."""

    __slots__ = ("_len", "_parts")

    def __init__(self, parts: list[CommitTable]) -> None:
        self._parts = parts
        self._len = -1

    @overload
    def get(self, key: bytes, /) -> Commit | None: ...
    @overload
    def get(self, key: bytes, default: Commit | _T, /) -> Commit | _T: ...
    def get(self, key: bytes, default: object = None, /) -> object:
        for part in self._parts:
            i = part._ids.position(key)  # CommitTable.get, one call fewer per lookup
            if i is not None:
                return part._at(i)
        return default

    def __getitem__(self, key: bytes) -> Commit:
        found: Commit | None = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return any(key in part for part in self._parts)

    def __iter__(self) -> Iterator[bytes]:
        # Each id once, without a set of every id: the first part (the largest pack) as it is,
        # a later part's ids unless an earlier part holds them too.
        parts = self._parts
        for k, part in enumerate(parts):
            earlier = parts[:k]
            for c in part:
                if not any(c in q for q in earlier):
                    yield c

    def __len__(self) -> int:
        if self._len < 0:
            self._len = sum(1 for _ in self)
        return self._len


# Estimated bytes of one decoded commit kept in a dict: the tuple, its tree id, a parent, the
# time, the key and the dict's slot.
DECODED_COMMIT_BYTES = 64 + SHA + 48 + SHA + INT + SHA + DICT_ITEM


class GraphView(Mapping[bytes, Commit]):
    """A view of a graph that remembers the commits it looked up: a walk that asks for the same
    commits again (as itself, as a parent, for its date) decodes each once. By default made per
    request and dropped with it; `seen` may be a repository's own table of decoded commits
    (bounded by its keeper: see `RepoMemo.decoded_commits`), so that a history asked for
    again from a new tip decodes only the new commits. A commit decodes the same in every set
    of packs: its id names its content."""

    __slots__ = ("_graph", "_seen")

    def __init__(self, graph: Graph, seen: dict[bytes, Commit] | None = None) -> None:
        self._graph = graph
        self._seen: dict[bytes, Commit] = {} if seen is None else seen

    @overload
    def get(self, key: bytes, /) -> Commit | None: ...
    @overload
    def get(self, key: bytes, default: Commit | _T, /) -> Commit | _T: ...
    def get(self, key: bytes, default: object = None, /) -> object:
        hit = self._seen.get(key)
        if hit is None:
            hit = self._graph.get(key)
            if hit is None:
                return default
            self._seen[key] = hit
        return hit

    def __getitem__(self, key: bytes) -> Commit:
        found: Commit | None = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        # A commit asked about is usually read next: decode it now, once.
        return isinstance(key, bytes) and self.get(key) is not None

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._graph)

    def __len__(self) -> int:
        return len(self._graph)


def _scan_pack_commits(reader: PackReader, p: int) -> dict[bytes, Commit]:
    """Read every entry header of pack `p` sequentially; inflate only the commits (and resolve
    the rare commit stored as a delta)."""
    ix: PackIndex = reader.indexes[p]
    n = ix.count
    types: dict[int, int] = {}  # offset -> resolved type (1-4)
    pending: list[tuple[int, bytes]] = []  # REF_DELTA entries: (offset, base sha)
    delta_commits: list[int] = []
    commits: dict[bytes, Commit] = {}
    f = reader.file(p)
    buf = b""
    buf_start = 0
    so = ix.sorted_offsets
    for k in range(n):
        off = so[k]
        end = so[k + 1]
        want_end = min(end, off + 32)
        if off < buf_start or want_end > buf_start + len(buf):
            f.seek(off)
            buf = f.read(max(_WINDOW, want_end - off))
            buf_start = off
        hdr = parse_entry_header(buf, off, off - buf_start)
        t = hdr.type
        if t == OBJ_COMMIT:
            if end > buf_start + len(buf):
                f.seek(off)
                buf = f.read(max(_WINDOW, end - off))
                buf_start = off
            rel = off - buf_start
            body = zlib.decompress(buf[rel + hdr.data_start : rel + end - off])
            commits[ix.shas[ix.sorted_pos[k]]] = parse_commit(body)
        elif t == OFS_DELTA:
            # The base comes earlier in the pack, so its type is known unless it is itself
            # a REF_DELTA still pending.
            assert hdr.base_offset is not None
            t = types.get(hdr.base_offset, 0)
            if t == OBJ_COMMIT:
                delta_commits.append(off)
            elif not t:
                pending.append((off, b""))
                continue
        elif t == REF_DELTA:
            assert hdr.base_sha is not None
            pending.append((off, hdr.base_sha))
            continue
        types[off] = t
    # REF_DELTA bases may be anywhere (or, in a pack completed from a thin one, outside it),
    # and OFS deltas on top of them wait for them: iterate until nothing changes.
    while pending:
        left: list[tuple[int, bytes]] = []
        for off, base_sha in pending:
            if base_sha:
                boff = ix.find(base_sha)
                t = types.get(boff, 0) if boff is not None else _external_type(reader, base_sha)
            else:
                hdr = parse_entry_header(
                    reader.read_at(p, off, min(32, ix.entry_end(off) - off)), off
                )
                assert hdr.base_offset is not None
                t = types.get(hdr.base_offset, 0)
            if t:
                types[off] = t
                if t == OBJ_COMMIT:
                    delta_commits.append(off)
            else:
                left.append((off, base_sha))
        if len(left) == len(pending):
            break  # unresolvable bases: not commits as far as this graph is concerned
        pending = left
    for off in delta_commits:
        _, data = reader.resolve_at(p, off)
        commits[ix.sha_at(off)] = parse_commit(data)
    return commits


def _external_type(reader: PackReader, sha: bytes) -> int:
    obj = reader.get(sha)
    return 0 if obj is None else obj[0]


def load_graph(reader: PackReader) -> Graph:
    """The commit graph of all the reader's packs, from the cache when possible."""
    parts: list[CommitTable] = []
    for p, ix in enumerate(reader.indexes):

        def build(p: int = p) -> tuple[object, int]:
            table = CommitTable(_scan_pack_commits(reader, p))
            return table, table.cache_bytes()

        g = reader.cached(("commits", ix.key), build)
        assert isinstance(g, CommitTable)
        parts.append(g)
    return parts[0] if len(parts) == 1 else PackGraphs(parts)


class Generations(Mapping[bytes, int], Weighed):
    """Each commit's generation: 1 for a root, else one more than its highest parent (parents
    missing from the graph are left out). A commit's descendants all have higher numbers.

    Computed when first asked for (a walk down to the commits already numbered), not for the
    whole graph up front: after a push adds a pack, asking for the new tip's number reads the
    new commits only, not every commit of the repository again.

    `known` holds generations computed before (for other sets of packs of the same repository)
    and receives the new ones: a commit's generation depends only on its ancestors, which its
    id fixes, as long as they are all in the graph. A commit with an ancestor missing gets a
    number for this graph only, kept out of `known`. Two requests filling the same tables at
    once write the same numbers."""

    def __init__(self, graph: Graph, known: dict[bytes, int] | None = None) -> None:
        self._graph = graph
        self._known = {} if known is None else known
        self._local: dict[bytes, int] = {}

    def __getitem__(self, c: bytes) -> int:
        g = self._known.get(c)
        if g is None:
            g = self._local.get(c)
            if g is None:
                g = self._fill(c)
        return g

    def _fill(self, c: bytes) -> int:
        graph = GraphView(self._graph)
        gen, local = self._known, self._local
        if c not in graph:
            raise KeyError(c)
        stack = [c]
        while stack:
            x = stack[-1]
            if x in gen or x in local:
                stack.pop()
                continue
            top = 0
            waiting = partial = False
            for p in graph[x][1]:
                if p not in graph:
                    partial = True
                    continue
                g = gen.get(p)
                if g is None:
                    g = local.get(p)
                    if g is None:
                        stack.append(p)
                        waiting = True
                        continue
                    partial = True
                if g > top:
                    top = g
            if not waiting:
                (local if partial else gen)[x] = top + 1
                stack.pop()
        found = gen.get(c)
        return local[c] if found is None else found

    def __contains__(self, c: object) -> bool:
        return c in self._known or c in self._local or c in self._graph

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._graph)

    def __len__(self) -> int:
        return len(self._graph)

    def cache_bytes(self) -> int:
        """This graph's own numbers (`known` is counted where it is kept)."""
        return len(self._local) * (SHA + DICT_ITEM + INT)


def generations(graph: Graph, known: dict[bytes, int] | None = None) -> Generations:
    return Generations(graph, known)


def load_generations(
    reader: PackReader, graph: Graph, known: dict[bytes, int] | None = None
) -> Generations:
    """`Generations` of the reader's commit graph (`load_graph`), kept per set of packs."""

    def build() -> tuple[object, int]:
        gen = Generations(graph, known)
        return gen, gen.cache_bytes()

    gen = reader.cached(("generations", reader.key), build)
    assert isinstance(gen, Generations)
    return gen


# -- walks ---------------------------------------------------------------------------------


def mark_have(graph: Graph, have: bytes, they_have: set[bytes]) -> int | None:
    """Record a common commit and its parents (as git's upload-pack does); its date."""
    c = graph.get(have)
    if c is None:
        return None
    they_have.add(have)
    they_have.update(c[1])
    return c[2]


def can_all_reach(graph: Graph, wants: Iterable[bytes], they_have: set[bytes], oldest: int) -> bool:
    """Whether every wanted commit reaches a commit the client has, looking no further back
    than `oldest` (git's can_all_from_reach_with_flag, used to say "ready")."""
    reached: dict[bytes, bool] = {}
    for w in wants:
        if w not in graph:
            continue  # not a commit: nothing to decide from ancestry
        if not _reaches(graph, w, they_have, oldest, reached):
            return False
    return True


def _reaches(
    graph: Graph, start: bytes, targets: set[bytes], oldest: int, memo: dict[bytes, bool]
) -> bool:
    stack = [start]
    seen: set[bytes] = set()
    while stack:
        c = stack.pop()
        if c in targets or memo.get(c):
            for s in seen:
                memo[s] = True
            return True
        if c in seen or c in memo:
            continue
        seen.add(c)
        info = graph.get(c)
        if info is None or info[2] < oldest:
            continue
        stack.extend(info[1])
    for s in seen:
        memo[s] = False
    return False


def commits_to_send(
    graph: Graph,
    wants: Iterable[bytes],
    haves: Iterable[bytes],
    shallow: set[bytes],
    have_cut: set[bytes],
) -> tuple[list[bytes], set[bytes]]:
    """Commits reachable from `wants` but not from `haves`, and the boundary: the commits the
    client has that are parents of those sent.

    A date-ordered walk that marks ancestors of haves uninteresting and stops once every queued
    commit is uninteresting, like git's revision walk, so its cost follows the fetch rather
    than the history. Commits in `shallow` are walked as if they had no parents (the client's
    shallow boundary, or the new one of a deepening fetch); marking what the client has stops
    at `have_cut` (its shallow commits, whose parents it lacks). Clock skew can only make it send
    commits the client already has, never miss one."""
    state: dict[bytes, bool] = {}  # True: uninteresting
    queue: list[tuple[int, int, bytes]] = []
    queued: set[bytes] = set()
    popped: set[bytes] = set()
    counter = 0
    n_interesting = 0
    out: list[bytes] = []

    def push(c: bytes) -> None:
        nonlocal counter, n_interesting
        info = graph.get(c)
        if info is None or c in queued or c in popped:
            return
        counter += 1
        heapq.heappush(queue, (-info[2], counter, c))
        queued.add(c)
        if not state[c]:
            n_interesting += 1

    def mark_uninteresting(c: bytes) -> None:
        nonlocal n_interesting
        stack = [c]
        while stack:
            x = stack.pop()
            if state.get(x) is True:
                continue
            was_interesting = x in state
            state[x] = True
            if was_interesting and x in queued:
                n_interesting -= 1
            if x in popped and x not in have_cut:
                info = graph.get(x)
                if info is not None:
                    stack.extend(p for p in info[1] if p in state)

    for h in haves:
        if h in graph:
            mark_uninteresting(h)
            push(h)
    for w in wants:
        if w in graph and w not in state:
            state[w] = False
            push(w)

    while n_interesting > 0 and queue:
        _, _, c = heapq.heappop(queue)
        queued.discard(c)
        popped.add(c)
        info = graph[c]
        if state[c]:
            parents = () if c in have_cut else info[1]
            for p in parents:
                if state.get(p) is not True:
                    mark_uninteresting(p)
                push(p)
        else:
            n_interesting -= 1
            out.append(c)
            for p in () if c in shallow else info[1]:
                if p not in state:
                    state[p] = False
                push(p)

    result = [c for c in out if not state[c]]
    boundary: set[bytes] = set()
    for c in result:
        if c in shallow:
            continue
        for p in graph[c][1]:
            if state.get(p) is True:
                boundary.add(p)
    return result, boundary


def shallow_boundary(
    graph: Graph, wants: Iterable[bytes], depth: int
) -> tuple[set[bytes], set[bytes]]:
    """For `deepen <depth>`: (commits at exactly `depth` that have parents -- the new shallow
    boundary, and commits nearer than that -- git's NOT_SHALLOW). Breadth first, so each commit
    gets its smallest depth."""
    level: dict[bytes, int] = {}
    frontier = [w for w in wants if w in graph]
    for w in frontier:
        level[w] = 1
    boundary: set[bytes] = set()
    not_shallow: set[bytes] = set()
    d = 1
    while frontier:
        nxt: list[bytes] = []
        for c in frontier:
            parents = graph[c][1]
            if d >= depth:
                if parents:
                    boundary.add(c)
                continue
            not_shallow.add(c)
            for p in parents:
                if p not in level and p in graph:
                    level[p] = d + 1
                    nxt.append(p)
        frontier = nxt
        d += 1
    boundary -= not_shallow
    return boundary, not_shallow
