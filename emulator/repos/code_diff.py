"""Differences between two commits and the history of one file, as CodeCommit's GetDifferences
and ListFileCommitHistory report them, computed the way git does (`git diff --raw --no-renames`,
`git log --parents -- <path>`)."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from emulator.codecommit_errors import error
from emulator.repos.code import (
    CodeReader,
    CommitInfo,
    is_tree,
    join_path,
    parse_path,
)
from emulator.repos.commit_graph import Graph, GraphView, load_generations, load_graph
from emulator.repos.pack_cache import POINTER, Weighed
from emulator.repos.pack_reader import iter_tree

BinEntry = tuple[int, bytes]  # (mode, binary id) of a tree entry


@dataclass(frozen=True)
class BlobSide:
    blob_id: str
    path: str
    mode: int


@dataclass(frozen=True)
class Difference:
    """One changed path: `A` (only `after`), `D` (only `before`) or `M` (both)."""

    change_type: str
    before: BlobSide | None
    after: BlobSide | None


def differences(
    reader: CodeReader,
    before_spec: str | None,
    after_spec: str | None,
    before_path: str | None,
    after_path: str | None,
) -> Sequence[Difference]:
    """The changes from `before_spec` to `after_spec`, in git's path order. Without a before
    commit, every path of the after commit is an addition (`git show --root`). `before_path`
    and `after_path` limit the comparison to a file or folder; given both, they may differ
    (a renamed folder), and a path given alone applies to both commits. Renames are not
    detected: a moved file is a deletion and an addition, unless the two paths say where.

    The answer is kept in the emulator's `PackCache` (under the repository, the two commits
    and the paths): the next page of the same comparison computes nothing."""
    after_id = reader.resolve(after_spec, required=True)
    before_id = None if not before_spec else reader.resolve(before_spec, required=True)
    limited = bool(before_path) or bool(after_path)
    before_parts = parse_path(before_path or after_path or "", folder=True)
    after_parts = parse_path(after_path or before_path or "", folder=True)

    def build() -> tuple[object, int]:
        before = None
        if before_id is not None:
            before = reader.lookup_bin(reader.tree_of(before_id), before_parts)
        after = reader.lookup_bin(reader.tree_of(after_id), after_parts)
        if limited and before is None and after is None:
            raise error("PathDoesNotExistException")
        out: list[Difference] = []
        _compare(reader, before, after, before_parts, after_parts, out)
        return tuple(out), sum(_difference_bytes(d) for d in out)

    # The two commits fix the answer: a push to another branch leaves it standing.
    key = ("differences", reader.repo.id, before_id, after_id)
    found = reader.reader.cached((*key, before_parts, after_parts), build)
    assert isinstance(found, tuple)
    return found


def _difference_bytes(d: Difference) -> int:
    """Estimated memory of a cached `Difference`: the objects and their strings."""
    paths = sum(len(s.path) + len(s.blob_id) for s in (d.before, d.after) if s is not None)
    return 400 + 2 * paths


def _side(entry: BinEntry, parts: tuple[bytes, ...]) -> BlobSide:
    return BlobSide(entry[1].hex(), join_path(parts), entry[0])


def _entries(reader: CodeReader, tree: bytes) -> dict[bytes, tuple[bytes, BinEntry]]:
    """A tree's entries by git's sort key (a tree sorts as if its name ended in "/")."""
    out = {}
    for mode_text, name, sha in iter_tree(reader.raw_tree(tree)):
        mode = int(mode_text, 8)
        out[name + b"/" if is_tree(mode) else name] = (name, (mode, sha))
    return out


def _compare(
    reader: CodeReader,
    old: BinEntry | None,
    new: BinEntry | None,
    old_parts: tuple[bytes, ...],
    new_parts: tuple[bytes, ...],
    out: list[Difference],
) -> None:
    if old == new:
        return
    old_tree = old is not None and is_tree(old[0])
    new_tree = new is not None and is_tree(new[0])
    old_leaf = None if old is None or old_tree else old
    new_leaf = None if new is None or new_tree else new
    if old_leaf is not None and new_leaf is not None:
        out.append(Difference("M", _side(old_leaf, old_parts), _side(new_leaf, new_parts)))
    elif old_leaf is not None:
        out.append(Difference("D", _side(old_leaf, old_parts), None))
    elif new_leaf is not None:
        out.append(Difference("A", None, _side(new_leaf, new_parts)))
    if not (old_tree or new_tree):
        return
    olds = _entries(reader, old[1]) if old is not None and old_tree else {}
    news = _entries(reader, new[1]) if new is not None and new_tree else {}
    for key in sorted(olds.keys() | news.keys()):
        o = olds.get(key)
        n = news.get(key)
        if o is not None and n is not None and o[1] == n[1]:
            continue  # the same blob or subtree: nothing below it changed
        _compare(
            reader,
            None if o is None else o[1],
            None if n is None else n[1],
            (*old_parts, o[0]) if o is not None else old_parts,
            (*new_parts, n[0]) if n is not None else new_parts,
            out,
        )


# -- file history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FileVersion:
    commit: CommitInfo
    blob_id: str | None  # None in a commit that deleted the file
    path: str
    children: tuple[str, ...]  # newer versions whose history continues from this one


class FileHistory(Weighed):
    """The commits that changed one path, newest first, as `git log -- <path>` lists them
    (default history simplification: a commit that leaves the path as one of its parents had
    it is left out, and a merge is followed only through the first such parent), with each
    version's children in the simplified graph (`git log --parents -- <path>`).

    The walk is git's (newest commit date first) and goes only as far as the pages asked for
    need: a page is complete once one more version than it holds has been found (or the
    history has ended), and once every commit still to walk is older in generation than the
    page's oldest version, so that none of them can be a child of a version on the page. The
    walk's state is kept in the emulator's `PackCache` under the repository, the start commit
    and the path, so the next page resumes where this one stopped. Use
    `file_history` to get one."""

    def __init__(self, graph: Graph, generations: Mapping[bytes, int], start: bytes) -> None:
        self.lock = threading.Lock()
        self.graph = graph
        self.generations = generations
        self.entries: dict[bytes, BinEntry | None] = {}  # root tree -> the path's entry
        self.shown: list[bytes] = []
        self.blobs: dict[bytes, BinEntry | None] = {}
        self.simplified: dict[bytes, tuple[bytes, ...]] = {}  # walked commit -> followed parents
        self.nearest: dict[bytes, bytes | None] = {}  # settled parent rewrites
        # shown commit -> the shown commits its followed parents rewrite to, once all settled
        self.targets: dict[bytes, tuple[bytes, ...]] = {}
        # git's revision walk without --topo-order: newest commit date first, ties in the
        # order the commits were queued (commit_list_insert_by_date).
        self.counter = 0
        self.heap: list[tuple[int, int, bytes]] = [(-graph[start][2], 0, start)]
        self.queued = {start}

    def cache_bytes(self) -> int:
        """Estimated memory of the walk's own tables (the graph and generations are shared
        and cached on their own): each item is a dict or set slot, a SHA and a small value."""
        items = len(self.entries) + len(self.blobs) + len(self.simplified) + len(self.nearest)
        items += len(self.targets) + len(self.queued)
        return items * 150 + len(self.shown) * POINTER + len(self.heap) * 100

    def _entry(self, reader: CodeReader, parts: tuple[bytes, ...], tree: bytes) -> BinEntry | None:
        entries = self.entries
        if tree in entries:
            return entries[tree]
        found = entries[tree] = reader.lookup_bin(tree, parts)
        return found

    def _step(self, reader: CodeReader, parts: tuple[bytes, ...]) -> tuple[bytes, list[bytes]]:
        """Walk one commit: (it, the parents it queued)."""
        graph = self.graph
        _, _, sha = heapq.heappop(self.heap)
        tree, parent_ids, _ = graph[sha]
        # One lookup per parent: a parent the graph lacks (beyond a shallow boundary) is left out.
        found = [(p, graph.get(p)) for p in parent_ids]
        known = [(p, c) for p, c in found if c is not None]
        parents = tuple(p for p, _ in known)
        mine = self._entry(reader, parts, tree)
        if not parents:
            same = mine is None
            follow: tuple[bytes, ...] = ()
        else:
            follow = ()
            for p, c in known:
                if self._entry(reader, parts, c[0]) == mine:
                    follow = (p,)
                    break
            same = bool(follow)
            if not same:
                follow = parents
        self.simplified[sha] = follow
        if not same:
            self.shown.append(sha)
            self.blobs[sha] = mine
        pushed = []
        for p in follow:
            if p not in self.queued:
                self.queued.add(p)
                self.counter += 1
                heapq.heappush(self.heap, (-graph[p][2], self.counter, p))
                pushed.append(p)
        return sha, pushed

    def page(
        self, reader: CodeReader, parts: tuple[bytes, ...], start: int, size: int
    ) -> tuple[list[bytes], dict[bytes, list[bytes]], bool]:
        """The versions `start` to `start + size` (binary ids), their children, and whether
        more versions follow."""
        with self.lock:
            end = start + size
            while self.heap and len(self.shown) <= end:
                self._step(reader, parts)
            shas = self.shown[start:end]
            if shas and self.heap:
                gen = self.generations
                oldest = min(gen[c] for c in shas)
                above = sum(1 for _, _, c in self.heap if gen[c] > oldest)
                while above and self.heap:
                    popped, pushed = self._step(reader, parts)
                    above -= gen[popped] > oldest
                    above += sum(1 for c in pushed if gen[c] > oldest)
            return shas, self._children(set(shas)), len(self.shown) > end

    def _rewrite(self, c: bytes) -> tuple[bytes | None, bool]:
        """The nearest shown commit down the followed parents from `c` (git's rewrite_parents),
        None if there is none; and whether that is settled (False: the walk has not got far
        enough to know yet)."""
        path: list[bytes] = []
        nearest = self.nearest
        settled = True
        found: bytes | None = None
        shown = self.blobs
        while True:
            if c in nearest:
                found = nearest[c]
                break
            if c in shown:
                found = c
                break
            nxt = self.simplified.get(c)
            if nxt is None:
                settled = False  # not walked yet
                break
            path.append(c)
            if not nxt:
                break
            c = nxt[0]
        if settled:
            for p in path:
                nearest[p] = found
        return found, settled

    def _parents_shown(self, sha: bytes) -> tuple[bytes | None, ...]:
        """The shown commits `sha`'s followed parents rewrite to (None: not known yet, or
        none); remembered once every one of them is settled."""
        known = self.targets.get(sha)
        if known is not None:
            return known
        found = []
        all_settled = True
        for p in dict.fromkeys(self.simplified[sha]):
            target, settled = self._rewrite(p)
            all_settled = all_settled and settled
            if target is not None:
                found.append(target)
        result = tuple(found)
        if all_settled:
            self.targets[sha] = result
        return result

    def _children(self, targets: set[bytes]) -> dict[bytes, list[bytes]]:
        children: dict[bytes, list[bytes]] = {}
        for sha in self.shown:
            for target in self._parents_shown(sha):
                if target in targets:
                    kids = children.setdefault(target, [])
                    if sha not in kids:
                        kids.append(sha)
        return children


@dataclass(frozen=True)
class HistoryPage:
    path: str
    versions: list[FileVersion]
    more: bool


def file_history(
    reader: CodeReader, commit_id: str, parts: tuple[bytes, ...], start: int, size: int
) -> HistoryPage:
    """Versions `start` to `start + size` of the history of the path `parts` from commit
    `commit_id` (see `FileHistory`)."""
    head = bytes.fromhex(commit_id)
    graph = load_graph(reader.reader)
    generations = load_generations(reader.reader, graph, reader.memo.known_generations())

    def build() -> tuple[object, int]:
        walk = FileHistory(graph, generations, head)
        return walk, walk.cache_bytes()

    # The start commit fixes the history (its ancestors are in every later set of packs).
    key = ("file-history", reader.repo.id, head, parts)
    walk = reader.reader.cached(key, build)
    assert isinstance(walk, FileHistory)
    # This request's view of the graph decodes each commit once, into the repository's table
    # of decoded commits; the kept walk holds the graph itself.
    walk.graph = GraphView(graph, reader.memo.decoded_commits())
    try:
        shas, children, more = walk.page(reader, parts, start, size)
    finally:
        walk.graph = graph
    reader.reader.cache.reweigh(key, walk.cache_bytes())  # the walk went further
    shown_path = join_path(parts)
    versions = []
    for sha in shas:
        entry = walk.blobs[sha]
        versions.append(
            FileVersion(
                commit=reader.commit(sha.hex()),
                blob_id=None if entry is None else entry[1].hex(),
                path=shown_path,
                children=tuple(c.hex() for c in children.get(sha, ())),
            )
        )
    return HistoryPage(shown_path, versions, more)
