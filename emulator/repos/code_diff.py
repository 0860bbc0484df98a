"""Differences between two commits and the history of one file, as CodeCommit's GetDifferences
and ListFileCommitHistory report them, computed the way git does (`git diff --raw --no-renames`,
`git log --parents -- <path>`)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from emulator.codecommit_errors import error
from emulator.repos.code import (
    CodeReader,
    CommitInfo,
    TreeEntry,
    is_tree,
    join_path,
    parse_path,
)
from emulator.repos.commit_graph import load_graph

Entry = tuple[int, str]  # (mode, id) of a tree entry


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
) -> list[Difference]:
    """The changes from `before_spec` to `after_spec`, in git's path order. Without a before
    commit, every path of the after commit is an addition (`git show --root`). `before_path`
    and `after_path` limit the comparison to a file or folder; given both, they may differ
    (a renamed folder), and a path given alone applies to both commits. Renames are not
    detected: a moved file is a deletion and an addition, unless the two paths say where."""
    after_id = reader.resolve(after_spec, required=True)
    before_id = None if not before_spec else reader.resolve(before_spec, required=True)
    limited = bool(before_path) or bool(after_path)
    before_parts = parse_path(before_path or after_path or "", folder=True)
    after_parts = parse_path(after_path or before_path or "", folder=True)
    before = None
    if before_id is not None:
        before = reader.lookup(reader.commit_tree(before_id), before_parts)
    after = reader.lookup(reader.commit_tree(after_id), after_parts)
    if limited and before is None and after is None:
        raise error("PathDoesNotExistException")
    out: list[Difference] = []
    _compare(reader, before, after, before_parts, after_parts, out)
    return out


def _sort_key(entry: TreeEntry) -> bytes:
    # git's tree order: a tree sorts as if its name ended in "/".
    return entry.name + b"/" if is_tree(entry.mode) else entry.name


def _side(entry: Entry, parts: tuple[bytes, ...]) -> BlobSide:
    return BlobSide(entry[1], join_path(parts), entry[0])


def _compare(
    reader: CodeReader,
    old: Entry | None,
    new: Entry | None,
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
    old_entries = reader.tree(old[1]) if old is not None and old_tree else []
    new_entries = reader.tree(new[1]) if new is not None and new_tree else []
    olds = {_sort_key(e): e for e in old_entries}
    news = {_sort_key(e): e for e in new_entries}
    for key in sorted(olds.keys() | news.keys()):
        o = olds.get(key)
        n = news.get(key)
        _compare(
            reader,
            None if o is None else (o.mode, o.sha),
            None if n is None else (n.mode, n.sha),
            (*old_parts, o.name) if o is not None else old_parts,
            (*new_parts, n.name) if n is not None else new_parts,
            out,
        )


# -- file history ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FileVersion:
    commit: CommitInfo
    blob_id: str | None  # None in a commit that deleted the file
    path: str
    children: tuple[str, ...]  # newer versions whose history continues from this one


class FileHistory:
    """The commits that changed one path, newest first, as `git log -- <path>` lists them
    (default history simplification: a commit that leaves the path as one of its parents had
    it is left out, and a merge is followed only through the first such parent), with each
    version's children in the simplified graph (`git log --parents -- <path>`)."""

    def __init__(self, reader: CodeReader, spec: str | None, path: str | None) -> None:
        self.reader = reader
        self.parts = parse_path(path)
        self.path = join_path(self.parts)
        self.start = reader.resolve(spec)
        self._entries: dict[bytes, Entry | None] = {}
        self.shown: list[bytes] = []
        self.blobs: dict[bytes, Entry | None] = {}
        self.children: dict[bytes, list[bytes]] = {}
        self._walk()

    def _entry(self, tree: bytes) -> Entry | None:
        if tree not in self._entries:
            self._entries[tree] = self.reader.lookup(tree.hex(), self.parts)
        return self._entries[tree]

    def _walk(self) -> None:
        graph = load_graph(self.reader.reader)
        start = bytes.fromhex(self.start)
        simplified: dict[bytes, tuple[bytes, ...]] = {}
        shown: set[bytes] = set()
        # git's revision walk without --topo-order: newest commit date first, ties in the
        # order the commits were queued (commit_list_insert_by_date).
        counter = 0
        heap: list[tuple[int, int, bytes]] = [(-graph[start][2], counter, start)]
        queued = {start}
        while heap:
            _, _, sha = heapq.heappop(heap)
            tree, parents, _ = graph[sha]
            parents = tuple(p for p in parents if p in graph)
            mine = self._entry(tree)
            if not parents:
                same = mine is None
                follow: tuple[bytes, ...] = ()
            else:
                treesame = [p for p in parents if self._entry(graph[p][0]) == mine]
                same = bool(treesame)
                follow = (treesame[0],) if treesame else parents
            simplified[sha] = follow
            if not same:
                shown.add(sha)
                self.shown.append(sha)
                self.blobs[sha] = mine
            for p in follow:
                if p not in queued:
                    queued.add(p)
                    counter += 1
                    heapq.heappush(heap, (-graph[p][2], counter, p))
        # Each shown commit's parents rewritten to the nearest shown ancestors (git's
        # rewrite_parents): its children in the file's history are the inverse.
        nearest: dict[bytes, bytes | None] = {}

        def rewrite(c: bytes) -> bytes | None:
            path: list[bytes] = []
            found: bytes | None = None
            while True:
                if c in nearest:
                    found = nearest[c]
                    break
                if c in shown:
                    found = c
                    break
                path.append(c)
                nxt = simplified.get(c, ())
                if not nxt:
                    break
                c = nxt[0]
            for p in path:
                nearest[p] = found
            return found

        for sha in self.shown:
            for p in dict.fromkeys(simplified[sha]):
                target = rewrite(p)
                if target is not None and sha not in self.children.setdefault(target, []):
                    self.children[target].append(sha)

    def versions(self, shas: Sequence[bytes]) -> list[FileVersion]:
        out = []
        for sha in shas:
            entry = self.blobs[sha]
            out.append(
                FileVersion(
                    commit=self.reader.commit(sha.hex()),
                    blob_id=None if entry is None else entry[1],
                    path=self.path,
                    children=tuple(c.hex() for c in self.children.get(sha, ())),
                )
            )
        return out
