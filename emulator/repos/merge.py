"""Merging two commits as CodeCommit's merge operations do: the merge base, fast-forward
detection, and a three-way merge of trees that yields the merged tree (its new objects, not
stored) and, per file, the conflicts CodeCommit reports.

The merge is git's where CodeCommit says nothing else: the base is `git merge-base`'s, paths are
merged as `git merge-tree --write-tree` merges them (without rename detection), and file
contents line by line as `git merge` does (`emulator.repos.line_merge`, xdiff's zealous merge).
The destination is git's "ours" and the source "theirs".

Where CodeCommit's rules differ from git's (the service model's documentation of
`conflictDetailLevel` and `conflictResolutionStrategy`):

- FILE_LEVEL (the default) makes any file changed on both sides a conflict, even when git would
  merge its lines cleanly; LINE_LEVEL makes only overlapping line changes conflicts, as git does.
- NONE leaves conflicts for the caller; ACCEPT_SOURCE and ACCEPT_DESTINATION resolve every
  conflict by taking that side: a whole file (or entry) at FILE_LEVEL and for conflicts of
  modes, object types and deletions, only the conflicting hunks at LINE_LEVEL (git's
  `-X theirs` / `-X ours`). AUTOMERGE merges the lines of a file both sides changed even at
  FILE_LEVEL; whatever still conflicts (overlapping lines, binary files, modes, types,
  modify/delete) is left for the caller, and ccemu never writes conflict markers into a file.
- git keeps both versions of a file/folder conflict (`path~branch`) and a modify/delete conflict
  in the index; CodeCommit reports them as conflicts (`objectTypeConflict`, `mergeOperations`)
  to be resolved by a strategy or by hand.
- Of several merge bases (criss-cross histories) git's recursive merge builds a virtual base;
  ccemu, like the single `baseCommitId` CodeCommit reports, merges from the newest one. With no
  common ancestor the base is empty, where git refuses unrelated histories.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from dulwich.objects import Blob, ObjectID, ShaFile, Tree

from emulator.repos import line_merge
from emulator.repos.code import (
    MODE_TREE,
    CodeReader,
    is_gitlink,
    is_symlink,
    is_tree,
    join_path,
)
from emulator.repos.commit_graph import Graph, load_graph
from emulator.repos.pack_reader import OBJ_BLOB

FILE_LEVEL, LINE_LEVEL = "FILE_LEVEL", "LINE_LEVEL"
NONE, ACCEPT_SOURCE, ACCEPT_DESTINATION, AUTOMERGE = (
    "NONE",
    "ACCEPT_SOURCE",
    "ACCEPT_DESTINATION",
    "AUTOMERGE",
)
DETAIL_LEVELS = (FILE_LEVEL, LINE_LEVEL)
STRATEGIES = (NONE, ACCEPT_SOURCE, ACCEPT_DESTINATION, AUTOMERGE)
# git's buffer_is_binary: a NUL in the first 8000 bytes.
_BINARY_PROBE = 8000

Entry = tuple[int, str]  # (mode, hex id) of a tree entry
Path = tuple[bytes, ...]


# -- merge base ---------------------------------------------------------------------------------


def merge_bases(graph: Graph, one: bytes, two: bytes) -> list[bytes]:
    """The best common ancestors of two commits, newest first (git's paint_down_to_common,
    then remove_redundant)."""
    if one == two:
        return [one]
    p1, p2, stale = 1, 2, 4
    flags: dict[bytes, int] = {one: p1, two: p2}
    heap: list[tuple[int, int, bytes]] = [(-graph[one][2], 0, one), (-graph[two][2], 1, two)]
    counter = 2
    found: list[bytes] = []
    while any(not flags[c] & stale for _, _, c in heap):
        _, _, c = heapq.heappop(heap)
        f = flags[c] & (p1 | p2 | stale)
        if f == p1 | p2:
            if c not in found:
                found.append(c)
            f |= stale
        for p in graph[c][1]:
            if p not in graph:
                continue  # beyond a shallow boundary
            if flags.get(p, 0) & f == f:
                continue
            flags[p] = flags.get(p, 0) | f
            heapq.heappush(heap, (-graph[p][2], counter, p))
            counter += 1
    if len(found) > 1:
        found = [c for c in found if not any(o != c and _reaches(graph, o, c) for o in found)]
    found.sort(key=lambda c: -graph[c][2])
    return found


def _reaches(graph: Graph, start: bytes, target: bytes) -> bool:
    seen = {start}
    todo = [start]
    while todo:
        c = todo.pop()
        if c == target:
            return True
        for p in graph[c][1]:
            if p in graph and p not in seen:
                seen.add(p)
                todo.append(p)
    return False


def merge_base(reader: CodeReader, source: str, destination: str) -> str | None:
    """`git merge-base destination source` (the newest best common ancestor), or None for
    unrelated histories."""
    graph = load_graph(reader.reader)
    bases = merge_bases(graph, bytes.fromhex(destination), bytes.fromhex(source))
    return bases[0].hex() if bases else None


def find_merge_commit(reader: CodeReader, source: str, destination: str) -> str | None:
    """The newest commit in the destination's history that merged the source (has it as a
    parent other than the first), as a three-way merge of the source creates one."""
    graph = load_graph(reader.reader)
    src = bytes.fromhex(source)
    start = bytes.fromhex(destination)
    heap = [(-graph[start][2], 0, start)]
    seen = {start}
    counter = 1
    while heap:
        _, _, c = heapq.heappop(heap)
        parents = graph[c][1]
        if src in parents[1:]:
            return c.hex()
        for p in parents:
            if p in graph and p not in seen:
                seen.add(p)
                heapq.heappush(heap, (-graph[p][2], counter, p))
                counter += 1
    return None


# -- the three-way merge ------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One side's version of a conflicting path."""

    mode: int
    sha: str
    object_type: str  # FILE, DIRECTORY, GIT_LINK, SYMBOLIC_LINK
    size: int | None = None  # blobs only
    binary: bool | None = None  # blobs only


@dataclass(frozen=True)
class HunkSide:
    start: int  # first line, counted from 0
    end: int  # the line after the last
    content: bytes


@dataclass(frozen=True)
class Hunk:
    is_conflict: bool
    base: HunkSide | None
    source: HunkSide
    destination: HunkSide


@dataclass
class FileMerge:
    """What the merge found at one path changed on both sides."""

    path: str
    base: Version | None
    source: Version | None
    destination: Version | None
    content_conflict: bool = False
    mode_conflict: bool = False
    type_conflict: bool = False
    delete_conflict: bool = False
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def conflicting(self) -> bool:
        return (
            self.content_conflict
            or self.mode_conflict
            or self.type_conflict
            or (self.delete_conflict)
        )

    @property
    def number_of_conflicts(self) -> int:
        """Conflicting hunks (one, for a file that conflicts as a whole) and each conflict of
        metadata (mode, object type, deletion)."""
        content = 0
        if self.content_conflict:
            content = max(1, sum(1 for h in self.hunks if h.is_conflict))
        return content + self.mode_conflict + self.type_conflict + self.delete_conflict

    def operation(self, side: Version | None) -> str:
        if self.base is None:
            return "A"
        return "D" if side is None else "M"


@dataclass
class MergeResult:
    source_id: str
    destination_id: str
    base_id: str | None
    fast_forward: bool  # the destination is an ancestor of the source
    conflicts: list[FileMerge]  # unresolved, in path order
    tree_id: str | None  # the merged tree; None while conflicts remain
    objects: list[ShaFile]  # the merged tree's new objects (blobs, then trees), not stored

    @property
    def mergeable(self) -> bool:
        return not self.conflicts


def _object_type(mode: int) -> str:
    if is_tree(mode):
        return "DIRECTORY"
    if is_gitlink(mode):
        return "GIT_LINK"
    if is_symlink(mode):
        return "SYMBOLIC_LINK"
    return "FILE"


def _leaf_kind(mode: int) -> int:
    """Regular files (either mode) merge with each other; links and submodules do not."""
    if is_gitlink(mode):
        return 2
    if is_symlink(mode):
        return 1
    return 0


class _Merger:
    def __init__(
        self,
        reader: CodeReader,
        level: str,
        strategy: str,
        resolutions: Mapping[str, Entry | None],
    ) -> None:
        self.reader = reader
        self.level = level
        self.strategy = strategy
        self.resolutions = resolutions
        self.conflicts: list[FileMerge] = []
        self.objects: dict[str, ShaFile] = {}
        self._blobs: dict[str, bytes] = {}

    def blob(self, sha: str) -> bytes:
        if sha not in self._blobs:
            obj = self.reader.get(sha)
            assert obj is not None and obj[0] == OBJ_BLOB, sha
            self._blobs[sha] = obj[1]
        return self._blobs[sha]

    def version(self, entry: Entry | None) -> Version | None:
        if entry is None:
            return None
        mode, sha = entry
        kind = _object_type(mode)
        if kind in ("FILE", "SYMBOLIC_LINK"):
            data = self.blob(sha)
            return Version(mode, sha, kind, len(data), b"\0" in data[:_BINARY_PROBE])
        return Version(mode, sha, kind)

    # -- trees -------------------------------------------------------------------------------

    def tree(self, parts: Path, b: str | None, s: str | None, d: str | None) -> str | None:
        """The merged tree of three trees (None: absent or empty)."""
        if s == d:
            return s
        if b == s:
            return d
        if b == d:
            return s
        be, se, de = (
            {} if sha is None else {e.name: (e.mode, e.sha) for e in self.reader.tree(sha)}
            for sha in (b, s, d)
        )
        out: dict[bytes, Entry] = {}
        for name in sorted(be.keys() | se.keys() | de.keys()):
            merged = self.path((*parts, name), be.get(name), se.get(name), de.get(name))
            if merged is not None:
                out[name] = merged
        if not out:
            return None
        t = Tree()
        for name, (mode, sha) in out.items():
            t.add(name, mode, ObjectID(sha.encode()))
        tid = t.id.decode()
        if tid not in (b, s, d):
            self.objects.setdefault(tid, t)
        return tid

    def path(self, parts: Path, b: Entry | None, s: Entry | None, d: Entry | None) -> Entry | None:
        if s == d:
            return s
        if b == s:
            return d
        if b == d:
            return s

        def tree_part(e: Entry | None) -> str | None:
            return e[1] if e is not None and is_tree(e[0]) else None

        def leaf_part(e: Entry | None) -> Entry | None:
            return e if e is not None and not is_tree(e[0]) else None

        sub = None
        if tree_part(s) is not None or tree_part(d) is not None:
            sub = self.tree(parts, tree_part(b), tree_part(s), tree_part(d))
        leaf = self.leaf(parts, leaf_part(b), leaf_part(s), leaf_part(d))
        if sub is not None and leaf is not None:
            # A file (or link, or submodule) on one side where the other has a folder.
            fm = FileMerge(join_path(parts), self.version(b), self.version(s), self.version(d))
            fm.type_conflict = True
            return self.settle(fm, s, d, d)
        return (MODE_TREE, sub) if sub is not None else leaf

    # -- files -------------------------------------------------------------------------------

    def leaf(self, parts: Path, b: Entry | None, s: Entry | None, d: Entry | None) -> Entry | None:
        if s == d:
            return s
        if b == s:
            return d
        if b == d:
            return s
        fm = FileMerge(join_path(parts), self.version(b), self.version(s), self.version(d))
        if s is None or d is None:
            fm.delete_conflict = True
            return self.settle(fm, s, d, d)
        if _leaf_kind(s[0]) != _leaf_kind(d[0]):
            fm.type_conflict = True
            return self.settle(fm, s, d, d)
        base = b if b is not None and _leaf_kind(b[0]) == _leaf_kind(s[0]) else None
        # Modes merge as a three-way choice of their own.
        bm = None if base is None else base[0]
        if s[0] == d[0] or bm == d[0]:
            mode = s[0]
        elif bm == s[0]:
            mode = d[0]
        else:
            fm.mode_conflict = True
            mode = d[0]
        bs = None if base is None else base[1]
        content: str | None
        if s[1] == d[1] or bs == d[1]:
            content = s[1]
        elif bs == s[1]:
            content = d[1]
        else:
            content = self.content(fm, bs, s[1], d[1])
        if not fm.conflicting:
            assert content is not None
            return (mode, content)
        if self.strategy in (ACCEPT_SOURCE, ACCEPT_DESTINATION):
            if fm.mode_conflict:
                mode = s[0] if self.strategy == ACCEPT_SOURCE else d[0]
            if fm.content_conflict and content is None:
                content = s[1] if self.strategy == ACCEPT_SOURCE else d[1]
            assert content is not None
            return (mode, content)
        return self.settle(fm, s, d, (mode, content or d[1]))

    def content(self, fm: FileMerge, base: str | None, s: str, d: str) -> str | None:
        """The merged content of a file both sides changed: a blob id, or None when it
        conflicts and the strategy does not settle it line by line."""
        assert fm.source is not None and fm.destination is not None
        if fm.source.object_type != "FILE" or fm.source.binary or fm.destination.binary:
            fm.content_conflict = True
            return None
        if fm.base is not None and fm.base.binary:
            fm.content_conflict = True
            return None
        b_lines = [] if base is None else line_merge.lines_of(self.blob(base))
        s_lines = line_merge.lines_of(self.blob(s))
        d_lines = line_merge.lines_of(self.blob(d))
        regions = line_merge.merge(b_lines, d_lines, s_lines)
        fm.hunks = [_hunk(r, b_lines, s_lines, d_lines) for r in regions]
        line_conflict = any(r.kind == line_merge.CONFLICT for r in regions)
        by_lines = self.level == LINE_LEVEL or self.strategy == AUTOMERGE
        if by_lines and not line_conflict:
            return self.new_blob(b"".join(line_merge.render(d_lines, s_lines, regions)))
        fm.content_conflict = True
        if by_lines and self.strategy in (ACCEPT_SOURCE, ACCEPT_DESTINATION):
            favor = line_merge.THEIRS if self.strategy == ACCEPT_SOURCE else line_merge.OURS
            return self.new_blob(b"".join(line_merge.render(d_lines, s_lines, regions, favor)))
        return None

    def new_blob(self, data: bytes) -> str:
        blob = Blob.from_string(data)
        sha = blob.id.decode()
        self._blobs[sha] = data
        if self.reader.header(sha) is None:
            self.objects.setdefault(sha, blob)
        return sha

    def settle(
        self, fm: FileMerge, s: Entry | None, d: Entry | None, placeholder: Entry | None
    ) -> Entry | None:
        """A conflict the strategy settles by taking a side, or one left to the caller (who may
        have resolved it already: `resolutions`)."""
        if self.strategy == ACCEPT_SOURCE:
            return s
        if self.strategy == ACCEPT_DESTINATION:
            return d
        if fm.path in self.resolutions:
            return self.resolutions[fm.path]
        self.conflicts.append(fm)
        return placeholder


def _hunk(r: line_merge.Region, base: list[bytes], source: list[bytes], dest: list[bytes]) -> Hunk:
    def side(lines: list[bytes], start: int, n: int) -> HunkSide:
        return HunkSide(start, start + n, b"".join(lines[start : start + n]))

    return Hunk(
        is_conflict=r.kind == line_merge.CONFLICT,
        base=side(base, r.i0, r.n0) if base else None,
        source=side(source, r.i2, r.n2),
        destination=side(dest, r.i1, r.n1),
    )


def merge_commits(
    reader: CodeReader,
    source_id: str,
    destination_id: str,
    level: str = FILE_LEVEL,
    strategy: str = NONE,
    resolutions: Mapping[str, Entry | None] | None = None,
) -> MergeResult:
    """Merge the source commit into the destination commit (both full ids). `resolutions`
    settles conflicts at the paths it names (an entry, or None to delete), as
    `conflictResolution` will."""
    base_id = merge_base(reader, source_id, destination_id)
    fast_forward = base_id == destination_id
    s_tree = reader.commit_tree(source_id)
    d_tree = reader.commit_tree(destination_id)
    if fast_forward:
        return MergeResult(source_id, destination_id, base_id, True, [], s_tree, [])
    b_tree = None if base_id is None else reader.commit_tree(base_id)
    m = _Merger(reader, level, strategy, resolutions or {})
    tree_id = m.tree((), b_tree, s_tree, d_tree)
    if tree_id is None:
        empty = Tree()
        tree_id = empty.id.decode()
        if reader.header(tree_id) is None:
            m.objects[tree_id] = empty
    if m.conflicts:
        return MergeResult(source_id, destination_id, base_id, False, m.conflicts, None, [])
    blobs = [o for o in m.objects.values() if isinstance(o, Blob)]
    trees = [o for o in m.objects.values() if not isinstance(o, Blob)]
    return MergeResult(source_id, destination_id, base_id, False, [], tree_id, blobs + trees)


def describe_path(reader: CodeReader, result: MergeResult, parts: Path) -> FileMerge | None:
    """What the merge makes of one path: its conflict, or for a path that does not conflict
    its versions and the hunks of changes (None: a file in none of the three commits)."""
    path = join_path(parts)
    for fm in result.conflicts:
        if fm.path == path:
            return fm
    found = []
    for commit in (result.base_id, result.source_id, result.destination_id):
        e = None if commit is None else reader.lookup(reader.commit_tree(commit), parts)
        found.append(None if e is None or is_tree(e[0]) else e)
    b, s, d = found
    if s is None and d is None and b is None:
        return None
    m = _Merger(reader, LINE_LEVEL, NONE, {})
    fm = FileMerge(path, m.version(b), m.version(s), m.version(d))
    if (
        s is not None
        and d is not None
        and s[1] != d[1]
        and b is not None
        and b[1] not in (s[1], d[1])
    ):
        if _leaf_kind(s[0]) == _leaf_kind(d[0]):
            m.content(fm, b[1], s[1], d[1])  # for its hunks only: it merged cleanly
            fm.content_conflict = False
    return fm


__all__ = [
    "DETAIL_LEVELS",
    "STRATEGIES",
    "FileMerge",
    "Hunk",
    "MergeResult",
    "describe_path",
    "find_merge_commit",
    "merge_base",
    "merge_commits",
]
