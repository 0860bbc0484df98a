"""`GraphView` and `Generations` over a repository's commit tables: what a walk decodes once
stays decoded for the next request, and generation numbers are computed only for what is asked."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping

from emulator.repos.commit_graph import (
    Commit,
    CommitTable,
    Generations,
    GraphView,
    PackGraphs,
)


class _Counting(Mapping[bytes, Commit]):
    """A graph that counts the commits read from it."""

    def __init__(self, graph: Mapping[bytes, Commit]) -> None:
        self.graph = graph
        self.reads = 0

    def get(self, key: bytes, default: object = None) -> object:  # type: ignore[override]
        self.reads += 1
        return self.graph.get(key, default)

    def __getitem__(self, key: bytes) -> Commit:
        self.reads += 1
        return self.graph[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.graph)

    def __len__(self) -> int:
        return len(self.graph)


def _chain(n: int, rng: random.Random) -> tuple[list[bytes], dict[bytes, Commit]]:
    ids = [rng.randbytes(20) for _ in range(n)]
    commits = {
        c: (rng.randbytes(20), (ids[i - 1],) if i else (), 1000 + i) for i, c in enumerate(ids)
    }
    return ids, commits


def test_history_asked_again_from_a_new_tip_decodes_only_the_new_commits() -> None:
    rng = random.Random(3)
    ids, commits = _chain(300, rng)
    old = PackGraphs([CommitTable(commits)])
    table: dict[bytes, Commit] = {}
    first = GraphView(_Counting(old), table)
    for c in ids:
        assert first[c] == commits[c]
    # a push adds one commit on top, in a new pack: a new set of packs, the same table
    tip = rng.randbytes(20)
    new_commit: Commit = (rng.randbytes(20), (ids[-1],), 5000)
    counted = _Counting(PackGraphs([CommitTable(commits), CommitTable({tip: new_commit})]))
    again = GraphView(counted, table)
    assert again[tip] == new_commit
    for c in reversed(ids):
        assert again[c] == commits[c]
    assert counted.reads == 1  # the new commit only
    assert GraphView(counted).get(rng.randbytes(20)) is None  # unknown ids stay unknown


def test_generations_of_a_new_tip_number_only_the_new_commits() -> None:
    rng = random.Random(4)
    ids, commits = _chain(200, rng)
    known: dict[bytes, int] = {}
    gen = Generations(CommitTable(commits), known)
    assert gen[ids[-1]] == 200 and gen[ids[0]] == 1
    assert len(known) == 200
    tip = rng.randbytes(20)
    merged = PackGraphs(
        [CommitTable(commits), CommitTable({tip: (rng.randbytes(20), (ids[-1], ids[5]), 9)})]
    )
    counted = _Counting(merged)
    assert Generations(counted, known)[tip] == 201
    assert counted.reads <= 4  # the tip and a look at its parents, not 200 commits
    # a commit whose parent is in no pack gets a number for this graph only
    orphan = rng.randbytes(20)
    partial = PackGraphs([CommitTable({orphan: (rng.randbytes(20), (rng.randbytes(20),), 1)})])
    assert Generations(partial, known)[orphan] == 1 and orphan not in known
