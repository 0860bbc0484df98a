"""Shallow history: where a shallow fetch cuts history, and which pushes from a shallow clone are
refused. Both mirror git (shallow.c, upload-pack.c, builtin/receive-pack.c) on a commit graph
(sha -> tree, parents, commit time; SHAs binary).

Fetch (upload-pack):
- `depth_boundary`: `deepen <n>` (git's get_shallow_commits): commits at depth n from the wants
  (the wants are depth 1) are the new shallow commits, roots included; nearer commits are
  NOT_SHALLOW. With `deepen-relative` (`git fetch --deepen <n>`) the client's current boundary
  is deepened by n instead (`relative_boundary`).
- `rev_list_boundary`: `deepen-since` / `deepen-not` (git's get_shallow_commits_by_rev_list):
  the kept commits are `git rev-list --max-age=<since> <wants> --not <excluded refs>`; a kept
  commit with a parent that is not kept is shallow.

Push (receive-pack): a shallow clone sends `shallow <id>` for its boundary commits. With
`receive.shallowUpdate` false (git's default, the only mode here) a ref whose new history
reaches one of them is refused with "shallow update not allowed" unless that commit is already
part of the repository's history (an ancestor of an existing ref): otherwise the repository
would have to become shallow to take it (git's update_shallow_info, post_assign_shallow).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

Commit = tuple[bytes, tuple[bytes, ...], int]
Graph = Mapping[bytes, Commit]
Parents = Callable[[bytes], tuple[bytes, ...] | None]

SHALLOW_UPDATE_REFUSED = "shallow update not allowed"


class NoCommitsSelected(Exception):
    """`deepen-since` / `deepen-not` left nothing to send (git: "no commits selected for shallow
    requests")."""


# -- fetch -----------------------------------------------------------------------------------


def _depths(graph: Graph, wants: Iterable[bytes], limit: int) -> dict[bytes, int]:
    """Each commit's smallest depth from the wants (a want is 1), up to `limit`: git's
    depth-first walk keeps the smallest depth it finds for each commit, which is the breadth-
    first level."""
    level: dict[bytes, int] = {}
    frontier = [w for w in dict.fromkeys(wants) if w in graph]
    for w in frontier:
        level[w] = 1
    d = 1
    while frontier and d < limit:
        nxt: list[bytes] = []
        for c in frontier:
            for p in graph[c][1]:
                if p not in level and p in graph:
                    level[p] = d + 1
                    nxt.append(p)
        frontier = nxt
        d += 1
    return level


def depth_boundary(
    graph: Graph, wants: Iterable[bytes], depth: int
) -> tuple[set[bytes], set[bytes]]:
    """(shallow, not_shallow) for `deepen <depth>`: the commits at exactly `depth` (roots too:
    git lists a root at the cut as shallow) and the commits nearer than that."""
    level = _depths(graph, wants, depth)
    shallow = {c for c, d in level.items() if d >= depth}
    return shallow, set(level) - shallow


def relative_boundary(
    graph: Graph, tips: Iterable[bytes], client_shallow: Collection[bytes], depth: int
) -> tuple[set[bytes], set[bytes]]:
    """(shallow, not_shallow) for `deepen <depth>` with `deepen-relative` (`git fetch
    --deepen`): each of the client's shallow commits that our refs (`tips`) reach is deepened
    by `depth` more commits, as git's upload-pack has done since 2.11 (deepen() with
    get_reachable_list and depth + 1; git 2.54 started counting from the wants instead)."""
    targets = {c for c in client_shallow if c in graph}
    reachable: set[bytes] = set()
    seen: set[bytes] = set()
    stack = [t for t in tips if t in graph]
    while stack and len(reachable) < len(targets):
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if c in targets:
            reachable.add(c)
        stack.extend(p for p in graph[c][1] if p in graph and p not in seen)
    return depth_boundary(graph, sorted(reachable), depth + 1)


def rev_list_boundary(
    graph: Graph, wants: Iterable[bytes], since: int, excluded: Iterable[bytes]
) -> tuple[set[bytes], set[bytes]]:
    """(shallow, not_shallow) for `deepen-since <since>` (0: none) and `deepen-not` (the
    commits of the excluded refs): kept = reachable from the wants, not from `excluded`, not
    older than `since` (the walk stops at an older commit, as rev-list's --max-age does)."""
    hidden: set[bytes] = set()
    stack = [c for c in excluded if c in graph]
    while stack:
        c = stack.pop()
        if c in hidden:
            continue
        hidden.add(c)
        stack.extend(p for p in graph[c][1] if p in graph and p not in hidden)
    kept: set[bytes] = set()
    stack = [w for w in wants if w in graph]
    while stack:
        c = stack.pop()
        if c in kept or c in hidden:
            continue
        info = graph[c]
        if since and info[2] < since:
            continue
        kept.add(c)
        stack.extend(p for p in info[1] if p in graph)
    if not kept:
        raise NoCommitsSelected("no commits selected for shallow requests")
    shallow = {c for c in kept if any(p not in kept for p in graph[c][1])}
    return shallow, kept - shallow


# -- push ------------------------------------------------------------------------------------


def refs_needing_shallow(
    parents: Parents,
    new_tips: Mapping[bytes, bytes],
    client_shallow: Collection[bytes],
    old_tips: Collection[bytes],
) -> set[bytes]:
    """The refs (keys of `new_tips`: ref -> new commit) whose new history reaches one of the
    client's shallow commits that is not an ancestor of an existing ref (`old_tips`, commits).

    `parents(c)` gives a commit's parents (received or stored), None for an unknown commit.
    Like git's paint_down, each walk stops at the shallow commits (their parents are not
    there) and at existing history; ancestors of the old tips are found only when needed."""
    if not client_shallow or not new_tips:
        return set()
    cut = set(old_tips)
    for t in old_tips:  # git marks the ref tips and their parents uninteresting up front
        cut.update(parents(t) or ())
    old_history: set[bytes] | None = None
    refused: set[bytes] = set()
    for ref, tip in new_tips.items():
        seen: set[bytes] = set()
        stack = [tip]
        reached: set[bytes] = set()
        while stack:
            c = stack.pop()
            if c in seen or c in cut:
                continue
            seen.add(c)
            if c in client_shallow:
                reached.add(c)
                continue
            stack.extend(parents(c) or ())
        if not reached:
            continue
        if old_history is None:
            old_history = _ancestors(parents, old_tips)
        if reached - old_history:
            refused.add(ref)
    return refused


def _ancestors(parents: Parents, tips: Iterable[bytes]) -> set[bytes]:
    seen: set[bytes] = set()
    stack = list(tips)
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        stack.extend(p for p in parents(c) or () if p not in seen)
    return seen
