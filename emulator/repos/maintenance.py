"""Background maintenance of each repository's packs: the collector and the merge.

Pushes only ever add packs; nothing on the request path deletes one. When a repository's refs
change (or a push stores a pack), its maintenance is scheduled `delay` seconds later (so a burst
of pushes costs one pass), and one worker thread:

1. deletes packs retired longer than `RETIRED_GRACE` ago (readers that listed them are done);
2. walks what the refs reach (`reachability`), reading the refs before listing the packs, so
   every object a ref in the snapshot needs is in a listed pack; a walk afresh goes through the
   default branch first and keeps what it reaches for the clones of that branch (`closures`);
3. if the packs hold objects no ref reaches (a deleted branch, a force-pushed-away commit, a
   pack whose push lost its ref race), writes one pack of exactly the reachable objects; else,
   when there are many packs, merges them (`repack.packs_to_merge`);
4. takes the repository's lock exclusively (`RepoLock`: no push is between its connectivity
   check and its ref update), checks the refs still equal the snapshot, and only then retires
   the packs it replaced. If the refs moved, it retires nothing and tries again later.

Keeping the packs equal to the reachable set is also what lets a clone send them as they are
(`reachability.clone_objects`). The walk's answer is left in the shared `PackCache`, so the next
clone does not walk again.

`run_pending` runs every scheduled repository now, in the caller's thread, and returns when
the packs are settled (tests and `POST /_ccemu/maintenance` use it; there is nothing to sleep
on). `close` stops the worker promptly: a walk or a merge in progress is abandoned (its scratch
files are removed, nothing is retired).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from enum import Enum

from emulator.memory import MemoryReturn
from emulator.repos.closures import repo_closures
from emulator.repos.commit_graph import load_graph
from emulator.repos.files import PACK_DIR
from emulator.repos.model import Repository
from emulator.repos.pack_layout import entry_bases
from emulator.repos.pack_reader import PackCache, PackFormatError, PackReader
from emulator.repos.pack_send import duplicate_positions
from emulator.repos.reachability import (
    WalkInterrupted,
    reachable_objects,
    remember_exact,
    remember_reachable,
    stored_exactly,
    tips_of,
)
from emulator.repos.repack import (
    RETIRED_GRACE,
    delete_retired,
    merge_packs,
    packs_to_merge,
    retire,
)
from emulator.repos.service import RepositoryService
from emulator.repos.sha_table import ShaTable

log = logging.getLogger(__name__)

LOCK_WAIT = 30.0  # seconds the collector waits for pushes to leave their window


class Outcome(Enum):
    SETTLED = "settled"  # nothing left to do until the refs change again
    RETRY = "retry"  # the refs moved or pushes held the lock: run again later
    RETIRED = "retired"  # packs were retired: run again after the grace to delete them


def _default_tip(
    repos: RepositoryService, repo: Repository, refs: dict[bytes, bytes]
) -> bytes | None:
    """The commit id of the repository's default branch in `refs`, if there is one."""
    current = repos.get_by_id(repo.id)
    branch = current.default_branch if current is not None else None
    value = refs.get(b"refs/heads/" + branch.encode()) if branch else None
    ids = tips_of([value]) if value is not None else frozenset()
    return next(iter(ids), None)


def maintain(
    repos: RepositoryService,
    repo: Repository,
    cache: PackCache,
    should_stop: threading.Event | None = None,
) -> Outcome:
    """One maintenance pass over `repo` (see the module docstring). Callers serialize passes
    over the same repository (`RepositoryService.maintenance_mutex`)."""
    stop = should_stop.is_set if should_stop is not None else None
    lock = repos.repo_lock(repo)
    files = repos.files(repo)
    if lock.acquire_exclusive(LOCK_WAIT):
        try:
            delete_retired(files, older_than=RETIRED_GRACE)
        finally:
            lock.release_exclusive()
    refs = repos.refs(repo)  # before listing the packs: see step 2
    tips = tips_of(refs.values())
    names = repos.object_store(repo).pack_names()
    if not names:
        return Outcome.SETTLED
    with PackReader(files, names, cache) as reader:
        default = _default_tip(repos, repo, refs)
        closures = repo_closures(reader)
        first = None
        if default is not None:
            tip = default

            def keep_default(members: ShaTable) -> None:
                closures.seed((tip,), members)

            first = (tip, keep_default)
        try:
            reachable = reachable_objects(reader, load_graph(reader), tips, stop, first)
        except PackFormatError as exc:
            # Something a ref needs is unreadable: keep everything, and say so.
            log.error("maintenance of %s skipped: %s", repo.id, exc)
            return Outcome.SETTLED
        # The default branch's closure, kept by this walk or a clone's, or grown from the one
        # kept before a push (a short walk of what the push added): it and what sending it in
        # pack order needs are worked out here, not by the next clone of that branch.
        kept = None
        if default is not None and default in (graph := load_graph(reader)):
            try:
                kept = closures.grown(reader, graph, (default,), stop)
            except PackFormatError as exc:
                log.error("maintenance of %s: %s", repo.id, exc)
        if kept is not None:
            for p, ix in enumerate(reader.indexes):
                kept.in_pack(ix)
                entry_bases(reader, p)
        exact = stored_exactly(reader, reachable)
        remember_exact(reader, tips, exact)
        # A pack whose every object an earlier (larger) pack holds too: left by a pass that
        # wrote its pack and then found the refs moved.
        redundant = [
            ix.name
            for ix, dups in zip(reader.indexes, duplicate_positions(reader), strict=True)
            if len(dups) == ix.count
        ]
    if exact:
        merge = packs_to_merge([(n, files.size(f"{PACK_DIR}/{n}.pack")) for n in names])
        if not merge and not redundant:
            return Outcome.SETTLED
        if not merge:
            return _retire(repos, repo, refs, redundant, cache)
        keep: Collection[bytes] | None = None
    else:
        merge, keep = names, reachable
    new = (
        merge_packs(files, merge, cache, files.scratch_dir(), keep, stop)
        if keep is None or keep
        else None  # no ref reaches anything: nothing to write
    )
    if not lock.acquire_exclusive(LOCK_WAIT):
        return Outcome.RETRY  # the new pack stays (a harmless duplicate) until the next pass
    try:
        if repos.get_by_id(repo.id) is None:
            files.destroy()  # deleted during the pass: what the pass wrote goes too
            return Outcome.SETTLED
        if repos.refs(repo) != refs:
            return Outcome.RETRY
        retired = [n for n in merge if n != new]
        retire(files, retired, files.scratch_dir())
        cache.forget_packs(repo.id, retired)
        left = repos.object_store(repo).pack_names()
    finally:
        lock.release_exclusive()
    expected = sorted({*names, *([new] if new else [])} - (set(merge) - {new or ""}))
    if left == expected and left:
        with PackReader(files, left, cache) as reader:
            remember_exact(reader, tips, True)  # what was kept is exactly what is reachable
            remember_reachable(reader, tips, reachable)
    return Outcome.RETIRED


def _retire(
    repos: RepositoryService,
    repo: Repository,
    refs: dict[bytes, bytes],
    names: list[str],
    cache: PackCache,
) -> Outcome:
    lock = repos.repo_lock(repo)
    if not lock.acquire_exclusive(LOCK_WAIT):
        return Outcome.RETRY
    try:
        if repos.refs(repo) != refs:
            return Outcome.RETRY
        files = repos.files(repo)
        retire(files, names, files.scratch_dir())
        cache.forget_packs(repo.id, names)
    finally:
        lock.release_exclusive()
    return Outcome.RETIRED


class Maintenance:
    """Schedules and runs `maintain` per repository on one background thread."""

    def __init__(
        self,
        repos: RepositoryService,
        cache: PackCache,
        delay: float,
        memory: MemoryReturn | None = None,
    ) -> None:
        self.repos = repos
        self.cache = cache
        self.delay = delay
        # Idle-time work of this thread: giving freed heap back once requests stop.
        self.memory = memory
        self._cond = threading.Condition()
        self._due: dict[str, float] = {}
        self._running: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def schedule(self, repo_id: str, after: float | None = None) -> None:
        """Run maintenance of `repo_id` in `after` seconds (the configured delay by default:
        a burst of pushes then costs one pass)."""
        when = time.monotonic() + (self.delay if after is None else after)
        with self._cond:
            current = self._due.get(repo_id)
            if current is None or when < current:  # never postponed: pushes may never stop
                self._due[repo_id] = when
            self._cond.notify_all()

    def pending(self) -> list[str]:
        with self._cond:
            return sorted(self._due)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="ccemu-maintenance", daemon=True
            )
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_pending(self, rounds: int = 5) -> int:
        """Run every scheduled repository's maintenance now, in this thread; returns how many
        passes ran. A pass that finds the refs moved is repeated (up to `rounds` times)."""
        with self._cond:
            # A pass the worker is running may have started before the latest change: run
            # it again here (the mutex waits for the worker's pass to end).
            todo = sorted({*self._due, *self._running})
            self._due.clear()
        ran = 0
        for rid in todo:
            for _ in range(rounds):
                ran += 1
                if self._run(rid) is not Outcome.RETRY:
                    break
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                now = time.monotonic()
                ready = [rid for rid, when in self._due.items() if when <= now]
                if not ready:
                    wait = min(self._due.values(), default=now + 3600.0) - now
                    trim = None if self.memory is None else self.memory.due_in()
                    if trim is not None and trim <= 0 and self.memory is not None:
                        self._cond.release()  # trimming takes a moment: schedule() must not wait
                        try:
                            self.memory.trim_if_due()
                        finally:
                            self._cond.acquire()
                        continue
                    if trim is not None:
                        # Activity may go on meanwhile: look again then, not sooner.
                        wait = min(wait, trim + 0.05)
                    elif self.memory is not None and self.memory.active:
                        # Nothing to give back yet; work that starts later does not wake this
                        # thread, so look again after one idle period.
                        wait = min(wait, self.memory.idle)
                    self._cond.wait(max(0.01, wait))
                    continue
                rid = min(ready, key=self._due.__getitem__)
                del self._due[rid]
                self._running.add(rid)
            try:
                self._run(rid)
            finally:
                with self._cond:
                    self._running.discard(rid)

    def _run(self, repo_id: str) -> Outcome:
        if self._stop.is_set():
            return Outcome.SETTLED
        try:
            repo = self.repos.get_by_id(repo_id)
            if repo is None:
                return Outcome.SETTLED  # deleted meanwhile
            with self.repos.maintenance_mutex(repo):
                outcome = maintain(self.repos, repo, self.cache, self._stop)
        except WalkInterrupted:
            return Outcome.SETTLED  # shutting down; the next start collects
        except Exception:
            # A pass retires packs only last, once their reachable objects are in a new one:
            # whatever failed, every reachable object is still in a visible pack.
            log.exception("maintenance of repository %s failed", repo_id)
            return Outcome.SETTLED
        if outcome is Outcome.RETRY:
            self.schedule(repo_id)
        elif outcome is Outcome.RETIRED:
            self.schedule(repo_id, after=RETIRED_GRACE)
        return outcome
