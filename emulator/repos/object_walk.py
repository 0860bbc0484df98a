"""Which trees and blobs a fetch sends: those reachable from the new commits that the client's
boundary commits do not already have.

A "sparse" walk in the manner of git's pack.useSparse: each new tree is compared with the trees
at the same path in the boundary commits, and a subtree whose id the boundary has (or that was
already queued) is pruned whole. An object the client has only under another path may be sent
again; that costs bytes, never correctness. Everything read from the boundary is remembered as
"client has", which is also what allows thin-pack deltas against it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from emulator.repos.commit_graph import Graph
from emulator.repos.pack_reader import (
    OBJ_BLOB,
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


class ObjectWalk:
    def __init__(self, reader: PackReader, graph: Graph, max_objects: int) -> None:
        self.reader = reader
        self.graph = graph
        self.max_objects = max_objects
        self.client_has: set[bytes] = set()
        self.sending: set[bytes] = set()
        self.order: list[bytes] = []
        self._base_trees: dict[bytes, list[tuple[bytes, bytes, bytes]]] = {}

    def _add(self, sha: bytes) -> None:
        self.sending.add(sha)
        self.order.append(sha)
        if len(self.order) > self.max_objects:
            raise PackFormatError("too many objects for one fetch")

    def _tree(self, sha: bytes) -> bytes:
        obj = self.reader.get(sha)
        if obj is None or obj[0] != OBJ_TREE:
            raise PackFormatError(f"tree {sha.hex()} is missing")
        return obj[1]

    def _base_entries(self, sha: bytes) -> list[tuple[bytes, bytes, bytes]]:
        entries = self._base_trees.get(sha)
        if entries is None:
            obj = self.reader.get(sha)
            entries = list(iter_tree(obj[1])) if obj is not None and obj[0] == OBJ_TREE else []
            self._base_trees[sha] = entries
            self.client_has.update(e[2] for e in entries)
        return entries

    def add_boundary(self, commits: Iterable[bytes]) -> list[bytes]:
        roots = []
        for c in commits:
            info = self.graph.get(c)
            if info is not None:
                self.client_has.add(c)
                self.client_has.add(info[0])
                roots.append(info[0])
        return roots

    def add_commits(self, commits: Iterable[bytes], boundary_roots: list[bytes]) -> None:
        commits = list(commits)
        for c in commits:
            if c not in self.sending:
                self._add(c)
        for c in commits:
            self.add_tree(self.graph[c][0], boundary_roots)

    def add_tree(self, root: bytes, bases: list[bytes]) -> None:
        stack = [(root, bases)]
        while stack:
            sha, base_shas = stack.pop()
            if sha in self.sending or sha in self.client_has:
                continue
            self._add(sha)
            base_dirs: dict[bytes, list[bytes]] = {}
            for b in base_shas:
                for mode, name, bsha in self._base_entries(b):
                    if is_tree_mode(mode):
                        base_dirs.setdefault(name, []).append(bsha)
            for mode, name, esha in iter_tree(self._tree(sha)):
                if esha in self.sending or esha in self.client_has:
                    continue
                if is_tree_mode(mode):
                    stack.append((esha, base_dirs.get(name, [])))
                elif not is_gitlink_mode(mode):
                    self._add(esha)

    def add_object(self, sha: bytes) -> bytes | None:
        """A wanted object that may be a tag (sent, and peeled): returns the commit to walk
        from, if the chain ends at one; trees and blobs are added here."""
        cur = sha
        for _ in range(100):
            if cur in self.graph:
                return cur
            obj = self.reader.get(cur)
            if obj is None:
                raise PackFormatError(f"object {cur.hex()} is missing")
            typ, data = obj
            if typ == OBJ_TAG:
                if cur not in self.sending and cur not in self.client_has:
                    self._add(cur)
                cur = tag_target(data)
            elif typ == OBJ_TREE:
                self.add_tree(cur, [])
                return None
            elif typ == OBJ_BLOB:
                if cur not in self.sending and cur not in self.client_has:
                    self._add(cur)
                return None
            elif typ == OBJ_COMMIT:
                return cur  # a commit missing from the graph would be a graph bug
        raise PackFormatError("tag chain too long")

    def include_tags(self, tags: Iterable[tuple[bytes, list[bytes]]]) -> None:
        """git's include-tag: send annotated tags whose chain reaches an object being sent.
        Each item is (tag sha, the objects along its chain)."""
        for o in tags_reaching(self.reader, self.graph, tags, self.sending, self.client_has):
            self._add(o)


def tags_reaching(
    reader: PackReader,
    graph: Graph,
    tags: Iterable[tuple[bytes, list[bytes]]],
    sending: Collection[bytes],
    client_has: Collection[bytes] = (),
) -> list[bytes]:
    """The annotated tag objects to add to a pack of `sending` (git's include-tag): those of each
    tag whose chain reaches an object being sent, unless sent or held already."""
    added: list[bytes] = []
    seen: set[bytes] = set()
    for tag, chain in tags:
        if tag in sending or tag in client_has or tag in seen:
            continue
        if any(o in sending for o in chain):
            for o in [tag, *chain]:
                if o in sending or o in client_has or o in graph or o in seen:
                    continue
                if reader.type_of(o) == OBJ_TAG:  # headers only: `o` may be a large blob
                    added.append(o)
                    seen.add(o)
    return added
