"""The lock that keeps a repository's collector from racing its writers.

A push may rely on any stored object, even one that no ref reaches (a branch deleted between
the client's ref advertisement and its push: the client leaves out what it thinks the server
has). So between the check that every object a new tip needs is stored and the ref update that
makes those objects reachable, the packs the check saw must stay. Writers (pushes, API ref
updates that name existing objects) hold this lock shared over that window; the collector holds
it exclusively while it proves a pack unreachable and retires it. Writers never wait for each
other, and a collector that finds writers inside their window waits for them or tries later:
there is no writer preference, so a slow push can delay collection but never other pushes.

git itself accepts this race (git-gc(1), "NOTES": a concurrent push may lose objects under
`--prune=now`); ccemu collects right after pushes, so it closes it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RepoLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._exclusive)
            self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                self._shared -= 1
                if not self._shared:
                    self._cond.notify_all()

    def acquire_exclusive(self, timeout: float) -> bool:
        with self._cond:
            if not self._cond.wait_for(
                lambda: not self._exclusive and not self._shared, timeout=timeout
            ):
                return False
            self._exclusive = True
            return True

    def release_exclusive(self) -> None:
        with self._cond:
            self._exclusive = False
            self._cond.notify_all()
