"""Pull requests follow their repository's branches, inside every ref transaction (a push, an
API commit, a merge), so what they record commits or rolls back with the ref update:

- a new tip of an open pull request's source branch is a new revision (`revisionId`,
  `sourceCommit`, `mergeBase`) with a `PULL_REQUEST_SOURCE_REFERENCE_UPDATED` event;
- once the source tip is in the destination's history (someone merged it and pushed), the pull
  request is closed as merged, as CodeCommit does (no `mergeOption`: no API merge made it);
- a merge through the API (`MergeIntent`, set by the thread making it) closes its pull request
  as merged with its option; if the pull request was closed, its source moved or its approval
  rules stopped being satisfied meanwhile (`MergeIntent.checks`), the ref update is refused
  and rolled back.

- a deleted source or destination branch closes the pull request (not merged), as the CodeCommit
  user guide says: "CodeCommit closes a pull request automatically if either the source or
  destination branch of the pull request is deleted".

Events are written through `record` (`add_event`, or the service's recorder that also tells
its listeners).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from emulator.codecommit_errors import error
from emulator.repos.code import CodeReader
from emulator.repos.merge import find_merge_commit, merge_base
from emulator.repos.model import RefUpdate, Repository
from emulator.repos.pack_reader import PackCache
from emulator.repos.pull_request_model import (
    CLOSED,
    MERGE_STATE_CHANGED,
    OPEN,
    SOURCE_UPDATED,
    STATUS_CHANGED,
    MergeState,
    Record,
    add_event,
    add_revision,
    now,
)
from emulator.repos.service import RepositoryService

# A condition of a merge (approval rules), checked with the transaction's connection on the
# pull request's key; raises CodeCommit's error to refuse the merge.
MergeCheck = Callable[[sqlite3.Connection, str], None]


@dataclass(frozen=True)
class MergeIntent:
    """A merge through the API under way on this thread: the ref listener runs `checks` and
    closes this pull request as merged in the transaction that moves its destination, so what
    the checks read cannot change between the check and the move."""

    key: str
    option: str
    source_commit: str
    checks: Sequence[MergeCheck] = ()


def follow_refs(
    conn: sqlite3.Connection,
    repos: RepositoryService,
    cache: PackCache,
    repo: Repository,
    applied: Sequence[RefUpdate],
    actor: str | None,
    intent: MergeIntent | None,
    record: Record = add_event,
) -> None:
    """Bring the repository's open pull requests up to these ref updates (see above). Raising
    here rolls the ref update back."""
    moved = {u.name.decode("utf-8", "surrogatepass") for u in applied}
    rows = conn.execute(
        "SELECT p.id, p.source_ref, p.destination_ref, v.source_commit"
        " FROM pull_requests p JOIN pull_request_revisions v ON v.id = p.revision_id"
        " WHERE p.repo_id = ? AND p.status = ?",
        (repo.id, OPEN),
    ).fetchall()
    affected = [r for r in rows if str(r[1]) in moved or str(r[2]) in moved]
    handled = False
    if affected:
        who = actor or f"arn:aws:iam::{repo.account}:root"
        with CodeReader(repos, repo, cache) as reader:
            for key, source_ref, destination_ref, last_source in affected:
                src = _ref_in(conn, repo, str(source_ref))
                dst = _ref_in(conn, repo, str(destination_ref))
                if src is None or dst is None:
                    _close_deleted(conn, record, str(key), who)
                    continue
                if intent is not None and intent.key == key:
                    if src != intent.source_commit:
                        raise error("TipOfSourceReferenceIsDifferentException")
                    for check in intent.checks:
                        check(conn, str(key))
                    merged = MergeState(True, who, dst, intent.option)
                    _close_merged(conn, record, repo, str(key), str(destination_ref), merged)
                    handled = True
                    continue
                base = merge_base(reader, src, dst)
                if src != last_source:
                    _new_revision(
                        conn, record, repo, str(key), who, str(last_source), src, dst, base
                    )
                if src == dst or base == src:
                    commit = find_merge_commit(reader, src, dst) or src
                    merged = MergeState(True, who, commit, None)
                    _close_merged(conn, record, repo, str(key), str(destination_ref), merged)
    if intent is not None and not handled:
        # The pull request was closed (or merged) while the merge was being made.
        owned = conn.execute(
            "SELECT 1 FROM pull_requests WHERE id = ? AND repo_id = ?", (intent.key, repo.id)
        ).fetchone()
        if owned is not None:
            raise error("PullRequestAlreadyClosedException")


def _new_revision(
    conn: sqlite3.Connection,
    record: Record,
    repo: Repository,
    key: str,
    actor: str,
    before: str,
    after: str,
    destination: str,
    base: str | None,
) -> None:
    when = now()
    revision = str(uuid.uuid4())
    found = base
    add_revision(conn, key, revision, after, destination, found, when)
    conn.execute(
        "UPDATE pull_requests SET revision_id = ?, last_activity = ? WHERE id = ?",
        (revision, when, key),
    )
    record(
        conn,
        key,
        SOURCE_UPDATED,
        actor,
        when,
        repository_name=repo.name,
        before_commit_id=before,
        after_commit_id=after,
        merge_base=found,
    )


def _close_merged(
    conn: sqlite3.Connection,
    record: Record,
    repo: Repository,
    key: str,
    destination_ref: str,
    merged: MergeState,
) -> None:
    when = now()
    conn.execute(
        "UPDATE pull_requests SET status = ?, merged = 1, merged_by = ?, merge_commit = ?,"
        " merge_option = ?, last_activity = ? WHERE id = ?",
        (CLOSED, merged.merged_by, merged.merge_commit, merged.merge_option, when, key),
    )
    assert merged.merged_by is not None
    metadata = {
        "is_merged": True,
        "merged_by": merged.merged_by,
        "merge_commit_id": merged.merge_commit,
        "merge_option": merged.merge_option,
    }
    record(
        conn,
        key,
        MERGE_STATE_CHANGED,
        merged.merged_by,
        when,
        repository_name=repo.name,
        destination_reference=destination_ref,
        merge_metadata={k: v for k, v in metadata.items() if v is not None},
    )
    record(conn, key, STATUS_CHANGED, merged.merged_by, when, pull_request_status=CLOSED)


def _close_deleted(conn: sqlite3.Connection, record: Record, key: str, actor: str) -> None:
    """Close a pull request whose source or destination branch was deleted."""
    when = now()
    conn.execute(
        "UPDATE pull_requests SET status = ?, last_activity = ? WHERE id = ?", (CLOSED, when, key)
    )
    record(conn, key, STATUS_CHANGED, actor, when, pull_request_status=CLOSED)


def _ref_in(conn: sqlite3.Connection, repo: Repository, name: str) -> str | None:
    row = conn.execute(
        "SELECT sha FROM refs WHERE repo_id = ? AND name = ?",
        (repo.id, name.encode("utf-8", "surrogatepass")),
    ).fetchone()
    return None if row is None else bytes(row[0]).decode()
