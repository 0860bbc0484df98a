"""The repository service: metadata, tags and refs (compare-and-swap), and each repository's
files. Branch-level operations live in `emulator.repos.branches`."""

from __future__ import annotations

import builtins
import contextlib
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from emulator.codecommit_errors import error
from emulator.kms.segmented import SegmentCipher
from emulator.repos.encrypted_files import DataKeyProvider, EncryptedRepoFiles, cipher_from_env
from emulator.repos.files import PACK_DIR, SCRATCH_DIR, TEMP_PREFIX, LocalRepoFiles, RepoFiles
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.repos.names import validate_repository_name
from emulator.repos.object_store import RepoObjectStore
from emulator.repos.pack_cache import DEFAULT_CACHE_BYTES, PackCache
from emulator.repos.repack import delete_retired
from emulator.repos.repo_lock import RepoLock
from emulator.repos.resolved_budget import DEFAULT_RESOLVED_BYTES, ResolvedBudget
from emulator.state.db import Database

_COLUMNS = "id, account, region, name, description, default_branch, kms_key_id, created, modified"
_SELECT = f"SELECT {_COLUMNS} FROM repositories"


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _row_to_repo(row: Sequence[object]) -> Repository:
    rid, account, region, name, description, default_branch, kms, created, modified = row
    return Repository(
        id=str(rid),
        account=str(account),
        region=str(region),
        name=str(name),
        description=None if description is None else str(description),
        default_branch=None if default_branch is None else str(default_branch),
        kms_key_id=None if kms is None else str(kms),
        created=datetime.fromtimestamp(float(created), UTC),  # type: ignore[arg-type]
        modified=datetime.fromtimestamp(float(modified), UTC),  # type: ignore[arg-type]
    )


RefListener = Callable[[sqlite3.Connection, Repository, Sequence[RefUpdate], str | None], None]

STALE_REF = "failed to update ref: it changed during the push"
ATOMIC_FAILED = "atomic push failed"


class _AtomicAbort(Exception):
    """Rolls back an atomic ref transaction in which some update failed."""


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def repository_not_found(name: str) -> Exception:
    return error("RepositoryDoesNotExistException", name=name)


class RepositoryService:
    def __init__(
        self,
        db: Database,
        root: Path,
        max_repositories: int = 10_000,
        data_keys: DataKeyProvider | None = None,
        cipher: SegmentCipher | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        cache_idle_bytes: int | None = None,
        resolved_cache_bytes: int = DEFAULT_RESOLVED_BYTES,
    ) -> None:
        """With `data_keys`, every pack and index is encrypted at rest (`encrypted_files`).
        The cipher is AES-GCM; only a benchmark measuring what encryption costs replaces it
        (see `cipher_from_env`)."""
        self.db = db
        self.root = root
        self.max_repositories = max_repositories
        root.mkdir(parents=True, exist_ok=True)
        self.data_keys = data_keys
        self.cipher = cipher if cipher is not None else cipher_from_env(root)
        # Parsed pack indexes and commit graphs, shared by every reader and writer of these
        # repositories (a pack's index is parsed once, not once per request).
        # The readers' resolved objects are counted in one account created with it.
        self.pack_cache = PackCache(
            cache_bytes, cache_idle_bytes, ResolvedBudget(resolved_cache_bytes)
        )
        # Called inside the ref transaction with (conn, repo, applied updates, actor ARN).
        self.ref_listeners: builtins.list[RefListener] = []
        self._locks_guard = threading.Lock()
        self._merge_locks: dict[str, threading.Lock] = {}
        self._repo_locks: dict[str, RepoLock] = {}
        # Called (outside any transaction) when a repository may need maintenance.
        self.maintenance_listeners: builtins.list[Callable[[Repository], None]] = []
        # Called once a repository is deleted (its files gone): what was kept for it goes.
        self.delete_listeners: builtins.list[Callable[[Repository], None]] = []

    # -- repositories ---------------------------------------------------------------------

    def create(
        self,
        account: str,
        region: str,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        kms_key_id: str | None = None,
    ) -> Repository:
        validate_repository_name(name)
        rid = str(uuid.uuid4())
        now = _now()
        with self.db.transaction() as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM repositories WHERE account = ? AND region = ?",
                (account, region),
            ).fetchone()
            if count >= self.max_repositories:
                raise error("RepositoryLimitExceededException")
            try:
                conn.execute(
                    f"INSERT INTO repositories ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rid, account, region, name, description, None, kms_key_id, now, now),
                )
            except sqlite3.IntegrityError:
                raise error("RepositoryNameExistsException", name=name) from None
            for key, value in (tags or {}).items():
                conn.execute(
                    "INSERT INTO repository_tags (repo_id, key, value) VALUES (?, ?, ?)",
                    (rid, key, value),
                )
        (self.root / rid).mkdir(parents=True, exist_ok=True)
        return self.get(account, region, name)

    def find(self, account: str, region: str, name: str) -> Repository | None:
        row = (
            self.db.read()
            .execute(
                f"{_SELECT} WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            )
            .fetchone()
        )
        return None if row is None else _row_to_repo(row)

    def get(self, account: str, region: str, name: str) -> Repository:
        validate_repository_name(name)
        repo = self.find(account, region, name)
        if repo is None:
            raise repository_not_found(name)
        return repo

    def regions_of(self, account: str, name: str) -> builtins.list[str]:
        """The regions in which `account` has a repository called `name`."""
        rows = (
            self.db.read()
            .execute(
                "SELECT region FROM repositories WHERE account = ? AND name = ? ORDER BY region",
                (account, name),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def ids(self) -> builtins.list[str]:
        """Every repository's id, in all accounts and regions."""
        rows = self.db.read().execute("SELECT id FROM repositories ORDER BY id").fetchall()
        return [str(r[0]) for r in rows]

    def get_by_id(self, repo_id: str, conn: sqlite3.Connection | None = None) -> Repository | None:
        row = (conn or self.db.read()).execute(f"{_SELECT} WHERE id = ?", (repo_id,)).fetchone()
        return None if row is None else _row_to_repo(row)

    def list(self, account: str, region: str) -> list[Repository]:
        rows = (
            self.db.read()
            .execute(
                f"{_SELECT} WHERE account = ? AND region = ?",
                (account, region),
            )
            .fetchall()
        )
        return [_row_to_repo(r) for r in rows]

    def delete(self, account: str, region: str, name: str) -> Repository | None:
        """Delete a repository; a missing one is not an error (CodeCommit returns no id)."""
        validate_repository_name(name)
        with self.db.transaction() as conn:
            row = conn.execute(
                f"{_SELECT} WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            ).fetchone()
            if row is None:
                return None
            repo = _row_to_repo(row)
            conn.execute("DELETE FROM repositories WHERE id = ?", (repo.id,))
        self.files(repo).destroy()
        self.forget(repo)
        return repo

    def forget(self, repo: Repository) -> None:
        """Drop what memory holds for a deleted repository: its cache entries (a pack another
        repository also uses stays), its locks, and whatever the listeners keep."""
        self.pack_cache.forget_owner(repo.id)
        with self._locks_guard:
            # A pass or push still holding one keeps its own reference; nothing new finds
            # the repository.
            self._merge_locks.pop(repo.id, None)
            self._repo_locks.pop(repo.id, None)
        for listener in self.delete_listeners:
            listener(repo)

    def rename(self, account: str, region: str, old: str, new: str) -> Repository:
        validate_repository_name(old)
        validate_repository_name(new)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "SELECT id FROM repositories WHERE account = ? AND region = ? AND name = ?",
                (account, region, old),
            ).fetchone()
            if cur is None:
                raise repository_not_found(old)
            if old != new:
                try:
                    conn.execute(
                        "UPDATE repositories SET name = ?, modified = ? WHERE id = ?",
                        (new, _now(), cur[0]),
                    )
                except sqlite3.IntegrityError:
                    raise error("RepositoryNameExistsException", name=new) from None
        return self.get(account, region, new)

    def update(self, repo: Repository, **fields: str | None) -> Repository:
        allowed = {"description", "default_branch", "kms_key_id"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot update {sorted(fields)}")
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self.db.transaction() as conn:
            conn.execute(
                f"UPDATE repositories SET {assignments}, modified = ? WHERE id = ?",
                (*fields.values(), _now(), repo.id),
            )
        updated = self.get_by_id(repo.id)
        if updated is None:
            raise repository_not_found(repo.name)
        return updated

    # -- tags -----------------------------------------------------------------------------

    def tags(self, repo: Repository) -> dict[str, str]:
        rows = (
            self.db.read()
            .execute(
                "SELECT key, value FROM repository_tags WHERE repo_id = ? ORDER BY key", (repo.id,)
            )
            .fetchall()
        )
        return {str(k): str(v) for k, v in rows}

    def set_tags(self, repo: Repository, tags: Mapping[str, str], max_tags: int = 50) -> None:
        with self.db.transaction() as conn:
            for key, value in tags.items():
                conn.execute(
                    "INSERT INTO repository_tags (repo_id, key, value) VALUES (?, ?, ?)"
                    " ON CONFLICT (repo_id, key) DO UPDATE SET value = excluded.value",
                    (repo.id, key, value),
                )
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM repository_tags WHERE repo_id = ?", (repo.id,)
            ).fetchone()
            if count > max_tags:
                raise error("TooManyTagsException")

    def remove_tags(self, repo: Repository, keys: Iterable[str]) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "DELETE FROM repository_tags WHERE repo_id = ? AND key = ?",
                [(repo.id, k) for k in keys],
            )

    # -- refs -----------------------------------------------------------------------------

    def refs(self, repo: Repository) -> dict[bytes, bytes]:
        """All refs: full name -> hex SHA (both bytes)."""
        rows = (
            self.db.read()
            .execute("SELECT name, sha FROM refs WHERE repo_id = ? ORDER BY name", (repo.id,))
            .fetchall()
        )
        return {bytes(n): bytes(s) for n, s in rows}

    def refs_named(self, repo: Repository, names: Sequence[bytes]) -> dict[bytes, bytes]:
        """Those of `names` that exist: full name -> hex SHA (an indexed lookup each, where
        `refs` reads them all)."""
        marks = ",".join("?" * len(names))
        rows = (
            self.db.read()
            .execute(
                f"SELECT name, sha FROM refs WHERE repo_id = ? AND name IN ({marks})",
                (repo.id, *names),
            )
            .fetchall()
        )
        return {bytes(n): bytes(s) for n, s in rows}

    def ref(self, repo: Repository, name: bytes) -> bytes | None:
        row = (
            self.db.read()
            .execute("SELECT sha FROM refs WHERE repo_id = ? AND name = ?", (repo.id, name))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def update_refs(
        self,
        repo: Repository,
        updates: Sequence[RefUpdate],
        *,
        atomic: bool,
        actor: str | None = None,
    ) -> builtins.list[str | None]:
        """Apply ref updates by compare-and-swap in one transaction.

        Returns one entry per update: None if applied, else the reason it was not. With
        `atomic`, either every update applies or none does. Sets the default branch on the
        first branch pushed to a repository that has none, as CodeCommit does. Every
        `ref_listeners` entry sees the applied updates inside the same transaction (with
        `actor`, the ARN of who made them), so what it writes commits or rolls back with them.
        """
        results: builtins.list[str | None] = []
        try:
            self._update_refs(repo, updates, atomic, results, actor)
        except _AtomicAbort:
            return [r if r is not None else ATOMIC_FAILED for r in results]
        return results

    def _update_refs(
        self,
        repo: Repository,
        updates: Sequence[RefUpdate],
        atomic: bool,
        results: builtins.list[str | None],
        actor: str | None,
    ) -> None:
        with self.db.transaction() as conn:
            exists = conn.execute(
                "SELECT default_branch FROM repositories WHERE id = ?", (repo.id,)
            ).fetchone()
            if exists is None:
                raise repository_not_found(repo.name)
            applied: builtins.list[RefUpdate] = []
            for upd in updates:
                row = conn.execute(
                    "SELECT sha FROM refs WHERE repo_id = ? AND name = ?", (repo.id, upd.name)
                ).fetchone()
                current = ZERO_SHA if row is None else bytes(row[0])
                if current != upd.old:
                    results.append(STALE_REF)
                    continue
                results.append(None)
                applied.append(upd)
            if atomic and any(r is not None for r in results):
                raise _AtomicAbort
            for upd in applied:
                if upd.new == ZERO_SHA:
                    conn.execute(
                        "DELETE FROM refs WHERE repo_id = ? AND name = ?", (repo.id, upd.name)
                    )
                else:
                    conn.execute(
                        "INSERT INTO refs (repo_id, name, sha) VALUES (?, ?, ?)"
                        " ON CONFLICT (repo_id, name) DO UPDATE SET sha = excluded.sha",
                        (repo.id, upd.name, upd.new),
                    )
            if applied:
                default_branch = exists[0]
                if default_branch is None:
                    default_branch = _first_default_branch(applied)
                conn.execute(
                    "UPDATE repositories SET default_branch = ?, modified = ? WHERE id = ?",
                    (default_branch, _now(), repo.id),
                )
                for listener in self.ref_listeners:
                    listener(conn, repo, applied, actor)

    # -- files ----------------------------------------------------------------------------

    def discard_quarantine(self) -> int:
        """Remove every scratch file a crash can leave, and packs retired by the collector.
        Called at start-up, before any request, so nothing removed here is in use: a push's
        quarantine and a merge's output (`incoming/`), files being moved into the pack dir
        (`.tmp-*`), a pack whose index was never published (never visible), an index without
        its pack, retired packs, and the directory of a repository whose deletion was cut
        short. Packs published by a push that never moved its ref are unreachable: the
        collector, scheduled for every repository at start-up, removes them."""
        removed = 0
        known = set(self.ids())
        for repo_dir in sorted(self.root.iterdir()):
            if not repo_dir.is_dir():
                continue
            if repo_dir.name not in known and _is_uuid(repo_dir.name):
                shutil.rmtree(repo_dir, ignore_errors=True)
                removed += 1
                continue
            scratch = repo_dir / SCRATCH_DIR
            if scratch.is_dir():
                shutil.rmtree(scratch, ignore_errors=True)
                removed += 1
            files = LocalRepoFiles(repo_dir)
            removed += delete_retired(files, older_than=0)
            entries = set(files.list(PACK_DIR))
            for entry in sorted(entries):
                stem, dot, ext = entry.rpartition(".")
                orphan = (ext == "pack" and f"{stem}.idx" not in entries) or (
                    ext == "idx" and f"{stem}.pack" not in entries
                )
                if entry.startswith(TEMP_PREFIX) or (dot and orphan):
                    files.delete(f"{PACK_DIR}/{entry}")
                    removed += 1
        return removed

    # -- locking and maintenance ----------------------------------------------------------

    def repo_lock(self, repo: Repository) -> RepoLock:
        """The repository's collector lock (see `repo_lock`)."""
        with self._locks_guard:
            return self._repo_locks.setdefault(repo.id, RepoLock())

    def ref_window(self, repo: Repository) -> contextlib.AbstractContextManager[None]:
        """Held by a writer from the check that the objects a new ref value needs are stored
        until the ref update: the collector does not remove packs meanwhile."""
        return self.repo_lock(repo).shared()

    def maintenance_mutex(self, repo: Repository) -> threading.Lock:
        """Serializes maintenance passes over one repository."""
        with self._locks_guard:
            return self._merge_locks.setdefault(repo.id, threading.Lock())

    def request_maintenance(self, repo: Repository) -> None:
        """A push stored a pack or moved refs: the background collector should look."""
        for listener in self.maintenance_listeners:
            listener(repo)

    def files(self, repo: Repository) -> RepoFiles:
        local = LocalRepoFiles(self.root / repo.id)
        if self.data_keys is None:
            return local
        return EncryptedRepoFiles(local, repo, self.data_keys, self.cipher)

    def object_store(self, repo: Repository) -> RepoObjectStore:
        return RepoObjectStore(self.files(repo))


def _first_default_branch(applied: Sequence[RefUpdate]) -> str | None:
    """The default branch of a repository that had none, from the branches its first push
    creates: `main`, else `master`, else the first one pushed (a `git push --mirror` sends
    its refs sorted, which would make an arbitrary branch the default)."""
    created = [
        upd.name[len(b"refs/heads/") :].decode()
        for upd in applied
        if upd.name.startswith(b"refs/heads/") and upd.new != ZERO_SHA
    ]
    for preferred in ("main", "master"):
        if preferred in created:
            return preferred
    return created[0] if created else None
