"""Pull requests: created on a source and a destination branch of one repository, updated,
closed, merged through the merge engine of the code API, and kept in step with the repository.

CodeCommit's rules, as its API reference and service model state them:

- A pull request has one target (`MultipleRepositoriesInPullRequestException` otherwise): a
  source branch and a destination branch (the repository's default branch when none is given),
  both existing branches (`refs/heads/...`; a tag or other reference is
  `ReferenceTypeNotSupportedException`), and not the same branch.
- `clientRequestToken` makes a create idempotent: the same token with the same request gives the
  pull request the first call made; with another request it is
  `IdempotencyParameterMismatchException`.
- A repository holds at most 1,000 open pull requests.
- The status only goes from OPEN to CLOSED (`InvalidPullRequestStatusUpdateException`); the
  title and description of a closed pull request cannot change.
- Merging (fast-forward, squash, three-way) moves the destination branch and closes the pull
  request as merged, with who merged it, how and the resulting commit (`mergeMetadata`).

The pull request lives with the repository: `pull_request_follow` brings it up to every ref
transaction (a push, an API commit, a merge): new revisions of its source branch, and a merge
pushed by git. Every change writes its `DescribePullRequestEvents` event in its own transaction,
through `record`, which also hands it to `listeners` (the events service: notification rules and
EventBridge-style events) in that transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dulwich.refs import Ref, check_ref_format

from emulator.codecommit_errors import error
from emulator.repos.branch_merges import MergeCommit, merge_branches
from emulator.repos.code import HEADS, CodeReader
from emulator.repos.merge import merge_base
from emulator.repos.model import RefUpdate, Repository
from emulator.repos.pack_reader import PackCache
from emulator.repos.pull_request_follow import MergeCheck, MergeIntent, follow_refs
from emulator.repos.pull_request_model import (
    CLOSED,
    CREATED,
    OPEN,
    SCHEMA,
    STATUS_CHANGED,
    Event,
    MergeState,
    PullRequest,
    PullRequestChange,
    PullRequestListener,
    Record,
    Revision,
    add_event,
    add_revision,
    check_client_token,
    now,
)
from emulator.repos.service import RepositoryService
from emulator.state.db import Database

MAX_OPEN_PER_REPOSITORY = 1000
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")
_TAGS = "refs/tags/"

_PR_COLUMNS = (
    "p.id, p.number, p.account, p.region, p.repo_id, r.name, p.title, p.description, p.status,"
    " p.author, p.created, p.last_activity, p.client_token, p.source_ref, p.destination_ref,"
    " p.revision_id, v.source_commit, v.destination_commit, v.merge_base, p.merged,"
    " p.merged_by, p.merge_commit, p.merge_option"
)
_PR_SELECT = (
    f"SELECT {_PR_COLUMNS} FROM pull_requests p"
    " JOIN repositories r ON r.id = p.repo_id"
    " JOIN pull_request_revisions v ON v.id = p.revision_id"
)


def _date(value: object) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _row(row: Sequence[object]) -> PullRequest:
    (key, number, account, region, repo_id, repo_name, title, description, status, author) = row[
        :10
    ]
    created, activity, token, source_ref, destination_ref, revision_id = row[10:16]
    source_commit, destination_commit, base, merged, merged_by, merge_commit, option = row[16:]
    return PullRequest(
        key=str(key),
        number=int(number),  # type: ignore[call-overload]
        account=str(account),
        region=str(region),
        repo_id=str(repo_id),
        repository_name=str(repo_name),
        title=str(title),
        description=_opt(description),
        status=str(status),
        author=str(author),
        created=_date(created),
        last_activity=_date(activity),
        client_token=_opt(token),
        source_ref=str(source_ref),
        destination_ref=str(destination_ref),
        revision=Revision(
            str(revision_id), str(source_commit), str(destination_commit), _opt(base)
        ),
        merge=MergeState(bool(merged), _opt(merged_by), _opt(merge_commit), _opt(option)),
    )


def parse_pull_request_id(value: str | None) -> int:
    """The number a `pullRequestId` names, or CodeCommit's error for it."""
    if value is None or value == "":
        raise error("PullRequestIdRequiredException")
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise error("InvalidPullRequestIdException")
    return int(value)


class PullRequestService:
    def __init__(self, db: Database, repos: RepositoryService, cache: PackCache) -> None:
        self.db = db
        self.repos = repos
        self.cache = cache
        db.ensure_schema(SCHEMA)
        self._intent = threading.local()
        # Told of every pull request event, inside the transaction that writes it.
        self.listeners: list[PullRequestListener] = []

        # What a merge must pass (approval rules), each raising CodeCommit's error: once before
        # the merge is computed, and again inside the transaction that moves the branch.
        self.merge_checks: list[MergeCheck] = []
        # What a new pull request gets in its creating transaction (rules from templates).
        self.create_hooks: list[
            Callable[[sqlite3.Connection, str, Repository, str, str], None]
        ] = []

    # -- events ---------------------------------------------------------------------------

    def record(
        self,
        conn: sqlite3.Connection,
        repo: Repository,
        key: str,
        kind: str,
        actor: str,
        when: float,
        **metadata: object,
    ) -> None:
        """Write a pull request event (`add_event`) and hand it, with the pull request as it
        now stands, to every listener, all in the caller's transaction."""
        add_event(conn, key, kind, actor, when, **metadata)
        if not self.listeners:
            return
        pr = _row(conn.execute(f"{_PR_SELECT} WHERE p.id = ?", (key,)).fetchone())
        change = PullRequestChange(kind, pr, repo, actor, _date(when), metadata)
        for listener in self.listeners:
            listener(conn, change)

    def recorder(self, repo: Repository) -> Record:
        """`record` for one repository, with `add_event`'s signature."""

        def record(
            conn: sqlite3.Connection,
            key: str,
            kind: str,
            actor: str,
            when: float,
            **metadata: object,
        ) -> None:
            self.record(conn, repo, key, kind, actor, when, **metadata)

        return record

    # -- reading --------------------------------------------------------------------------

    def find(self, account: str, region: str, pull_request_id: str | None) -> PullRequest:
        number = parse_pull_request_id(pull_request_id)
        row = (
            self.db.read()
            .execute(
                f"{_PR_SELECT} WHERE p.account = ? AND p.region = ? AND p.number = ?",
                (account, region, number),
            )
            .fetchone()
        )
        if row is None:
            raise error("PullRequestDoesNotExistException")
        return _row(row)

    def list_ids(
        self,
        repo: Repository,
        author: str | None = None,
        status: str | None = None,
        *,
        below: int | None = None,
        limit: int | None = None,
    ) -> list[int]:
        """The numbers of a repository's pull requests, newest first: those below `below`
        (the last number of the page before), at most `limit`. Read from an index in that
        order, so a page costs what it holds, not what the repository holds."""
        sql = "SELECT number FROM pull_requests WHERE repo_id = ?"
        args: list[object] = [repo.id]
        if author is not None:
            sql += " AND author = ?"
            args.append(author)
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if below is not None:
            sql += " AND number < ?"
            args.append(below)
        sql += " ORDER BY number DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [int(r[0]) for r in self.db.read().execute(sql, args).fetchall()]

    def events(
        self,
        pr: PullRequest,
        kind: str | None = None,
        actor: str | None = None,
        *,
        after: int = 0,
        limit: int | None = None,
    ) -> list[tuple[int, Event]]:
        """The pull request's events in order, each with its sequence number: those after
        `after`, at most `limit` (read by the primary key, so a page costs what it holds)."""
        sql = (
            "SELECT seq, kind, actor, date, metadata FROM pull_request_events"
            " WHERE pull_request = ? AND seq > ?"
        )
        args: list[object] = [pr.key, after]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        if actor is not None:
            sql += " AND actor = ?"
            args.append(actor)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = self.db.read().execute(sql, args).fetchall()
        return [
            (int(q), Event(pr.id, str(k), str(a), _date(d), json.loads(str(m))))
            for q, k, a, d, m in rows
        ]

    # -- creating -------------------------------------------------------------------------

    def create(
        self,
        repo: Repository,
        *,
        title: str | None,
        description: str | None,
        source: str | None,
        destination: str | None,
        client_token: str | None,
        author: str,
    ) -> PullRequest:
        if title is None or not title.strip():
            raise error("TitleRequiredException")
        check_client_token(client_token)
        source_ref = self._branch_ref(repo, source)
        if destination is None or destination == "":
            current = self.repos.get_by_id(repo.id) or repo
            if current.default_branch is None:
                raise error("ReferenceNameRequiredException")
            destination = current.default_branch
        destination_ref = self._branch_ref(repo, destination)
        if source_ref == destination_ref:
            raise error("SourceAndDestinationAreSameException")
        request = [repo.id, title, description, source_ref, destination_ref]
        digest = hashlib.sha256(json.dumps(request).encode()).hexdigest()
        if client_token is not None:
            earlier = self._by_token(repo.account, repo.region, client_token)
            if earlier is not None:
                return self._replay(earlier, digest)
        source_tip, destination_tip = self._tips(repo, source_ref, destination_ref)
        with CodeReader(self.repos, repo, self.cache) as reader:
            base = merge_base(reader, source_tip, destination_tip)
        when = now()
        key, revision = str(uuid.uuid4()), str(uuid.uuid4())
        try:
            with self.db.transaction() as conn:
                (open_count,) = conn.execute(
                    "SELECT COUNT(*) FROM pull_requests WHERE repo_id = ? AND status = ?",
                    (repo.id, OPEN),
                ).fetchone()
                if open_count >= MAX_OPEN_PER_REPOSITORY:
                    raise error("MaximumOpenPullRequestsExceededException")
                number = self._next_number(conn, repo.account, repo.region)
                conn.execute(
                    "INSERT INTO pull_requests (id, account, region, number, repo_id, title,"
                    " description, status, author, created, last_activity, client_token,"
                    " request_digest, source_ref, destination_ref, revision_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        repo.account,
                        repo.region,
                        number,
                        repo.id,
                        title,
                        description,
                        OPEN,
                        author,
                        when,
                        when,
                        client_token,
                        digest,
                        source_ref,
                        destination_ref,
                        revision,
                    ),
                )
                add_revision(conn, key, revision, source_tip, destination_tip, base, when)
                self.record(
                    conn,
                    repo,
                    key,
                    CREATED,
                    author,
                    when,
                    repository_name=repo.name,
                    source_commit_id=source_tip,
                    destination_commit_id=destination_tip,
                    merge_base=base,
                )
                for hook in self.create_hooks:
                    hook(conn, key, repo, destination_ref, author)
        except sqlite3.IntegrityError:
            # The same token, used by a concurrent create that committed first.
            if client_token is None:
                raise
            earlier = self._by_token(repo.account, repo.region, client_token)
            if earlier is None:
                raise
            return self._replay(earlier, digest)
        return self.find(repo.account, repo.region, str(number))

    def _replay(self, earlier: tuple[str, str, str], digest: str) -> PullRequest:
        account, region, number = earlier[0].split("\0")
        if earlier[1] != digest:
            raise error("IdempotencyParameterMismatchException")
        return self.find(account, region, number)

    def _by_token(self, account: str, region: str, token: str) -> tuple[str, str, str] | None:
        row = (
            self.db.read()
            .execute(
                "SELECT number, request_digest FROM pull_requests"
                " WHERE account = ? AND region = ? AND client_token = ?",
                (account, region, token),
            )
            .fetchone()
        )
        if row is None:
            return None
        return f"{account}\0{region}\0{row[0]}", str(row[1]), token

    def _branch_ref(self, repo: Repository, name: str | None) -> str:
        """The full name of the branch a reference names (`main` or `refs/heads/main`)."""
        if name is None or name == "":
            raise error("ReferenceNameRequiredException")
        full = name if name.startswith("refs/") else HEADS + name
        encoded = full.encode("utf-8", "surrogatepass")
        if b"\x7f" in encoded or not check_ref_format(Ref(encoded)):
            raise error("InvalidReferenceNameException")
        if not full.startswith(HEADS):
            if self.repos.ref(repo, encoded) is not None:
                raise error("ReferenceTypeNotSupportedException")
            raise error("ReferenceDoesNotExistException")
        if self.repos.ref(repo, encoded) is None:
            tag = (_TAGS + name).encode("utf-8", "surrogatepass")
            if not name.startswith("refs/") and self.repos.ref(repo, tag) is not None:
                raise error("ReferenceTypeNotSupportedException")
            raise error("ReferenceDoesNotExistException")
        return full

    def _tips(self, repo: Repository, source_ref: str, destination_ref: str) -> tuple[str, str]:
        tips = []
        for ref in (source_ref, destination_ref):
            sha = self.repos.ref(repo, ref.encode("utf-8", "surrogatepass"))
            if sha is None:
                raise error("ReferenceDoesNotExistException")
            tips.append(sha.decode())
        return tips[0], tips[1]

    @staticmethod
    def _next_number(conn: sqlite3.Connection, account: str, region: str) -> int:
        conn.execute(
            "INSERT INTO pull_request_numbers (account, region, last) VALUES (?, ?, 1)"
            " ON CONFLICT (account, region) DO UPDATE SET last = last + 1",
            (account, region),
        )
        (number,) = conn.execute(
            "SELECT last FROM pull_request_numbers WHERE account = ? AND region = ?",
            (account, region),
        ).fetchone()
        return int(number)

    # -- updating -------------------------------------------------------------------------

    def update_title(self, pr: PullRequest, title: str | None, actor: str) -> PullRequest:
        if title is None or not title.strip():
            raise error("TitleRequiredException")
        return self._update_open(pr, "title", title)

    def update_description(
        self, pr: PullRequest, description: str | None, actor: str
    ) -> PullRequest:
        return self._update_open(pr, "description", description or "")

    def _update_open(self, pr: PullRequest, column: str, value: str) -> PullRequest:
        with self.db.transaction() as conn:
            cur = conn.execute(
                f"UPDATE pull_requests SET {column} = ?, last_activity = ?"
                " WHERE id = ? AND status = ?",
                (value, now(), pr.key, OPEN),
            )
            if cur.rowcount != 1:
                raise error("PullRequestAlreadyClosedException")
        return self.find(pr.account, pr.region, pr.id)

    def update_status(self, pr: PullRequest, status: str | None, actor: str) -> PullRequest:
        if status is None or status == "":
            raise error("PullRequestStatusRequiredException")
        if status not in (OPEN, CLOSED):
            raise error("InvalidPullRequestStatusException")
        repo = self.repos.get_by_id(pr.repo_id)
        if repo is None:  # deleted since the pull request was read: it went with it
            raise error("PullRequestDoesNotExistException")
        with self.db.transaction() as conn:
            # The only valid update is from OPEN to CLOSED.
            when = now()
            cur = conn.execute(
                "UPDATE pull_requests SET status = ?, last_activity = ?"
                " WHERE id = ? AND status = ? AND ? = ?",
                (status, when, pr.key, OPEN, status, CLOSED),
            )
            if cur.rowcount != 1:
                raise error("InvalidPullRequestStatusUpdateException")
            self.record(conn, repo, pr.key, STATUS_CHANGED, actor, when, pull_request_status=status)
        return self.find(pr.account, pr.region, pr.id)

    # -- merging --------------------------------------------------------------------------

    def merge(
        self,
        pr: PullRequest,
        repo: Repository,
        option: str,
        *,
        actor: str,
        source_commit: str | None = None,
        level: str | None = None,
        strategy: str | None = None,
        resolution: Mapping[str, Any] | None = None,
        author: MergeCommit | None = None,
    ) -> PullRequest:
        """Merge the pull request's source into its destination by `option` and close it as
        merged, in the transaction that moves the destination branch."""
        if source_commit is not None and not _FULL_SHA.fullmatch(source_commit):
            raise error("InvalidCommitIdException")
        if pr.repo_id != repo.id:
            raise error("RepositoryNotAssociatedWithPullRequestException")
        if pr.status != OPEN:
            raise error("PullRequestAlreadyClosedException")
        source_tip, _ = self._tips(repo, pr.source_ref, pr.destination_ref)
        if source_commit is not None and source_commit.lower() != source_tip:
            raise error("TipOfSourceReferenceIsDifferentException")
        # Refuse early what is refused now; the checks that count run again in the ref
        # transaction (`follow_refs`), where nothing can change until the branch has moved.
        for check in self.merge_checks:
            check(self.db.read(), pr.key)
        branch = pr.destination_ref[len(HEADS) :]
        self._intent.value = MergeIntent(pr.key, option, source_tip, tuple(self.merge_checks))
        try:
            merge_branches(
                self.repos,
                repo,
                self.cache,
                source_tip,
                pr.destination_ref,
                option,
                actor=actor,
                target_branch=branch,
                level=level,
                strategy=strategy,
                resolution=resolution,
                author=author or MergeCommit(None, None, None),
            )
        finally:
            self._intent.value = None
        return self.find(pr.account, pr.region, pr.id)

    # -- the repository's refs move -------------------------------------------------------

    def on_ref_change(
        self,
        conn: sqlite3.Connection,
        repo: Repository,
        applied: Sequence[RefUpdate],
        actor: str | None,
    ) -> None:
        """Inside the ref transaction: see `pull_request_follow.follow_refs`."""
        intent: MergeIntent | None = getattr(self._intent, "value", None)
        follow_refs(conn, self.repos, self.cache, repo, applied, actor, intent, self.recorder(repo))
