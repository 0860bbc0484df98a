"""Pull requests as ccemu stores them: the domain objects and the tables they live in.

A pull request lives with its repository (its rows go when the repository goes) and is known
to clients by a number, unique in its account and region (`pullRequestId`, a string of digits
as AWS gives it). Inside ccemu every row that hangs off a pull request names its internal key
(`pull_requests.id`): revisions (one per source tip the pull request has seen), events
(`DescribePullRequestEvents`, written in the transaction of the change they record) and,
later, approval rules, approvals and comments, which name a pull request and a revision.

Every event goes to the pull request's listeners too (`PullRequestListener`, registered on
`PullRequestService.listeners`), inside the transaction that writes it: that is how the events
service turns them into notifications and EventBridge-style events that commit or roll back with
the change. A writer that has a listener list records through `PullRequestService.record`
(or the `Record` it hands out) rather than `add_event`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from emulator.codecommit_errors import error
from emulator.repos.model import Repository

OPEN, CLOSED = "OPEN", "CLOSED"

CREATED = "PULL_REQUEST_CREATED"
STATUS_CHANGED = "PULL_REQUEST_STATUS_CHANGED"
SOURCE_UPDATED = "PULL_REQUEST_SOURCE_REFERENCE_UPDATED"
MERGE_STATE_CHANGED = "PULL_REQUEST_MERGE_STATE_CHANGED"

SCHEMA = """
CREATE TABLE IF NOT EXISTS pull_request_numbers (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (account, region)
);
CREATE TABLE IF NOT EXISTS pull_requests (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    number INTEGER NOT NULL,
    repo_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL,
    author TEXT NOT NULL,
    created REAL NOT NULL,
    last_activity REAL NOT NULL,
    client_token TEXT,
    request_digest TEXT,
    source_ref TEXT NOT NULL,
    destination_ref TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    merged INTEGER NOT NULL DEFAULT 0,
    merged_by TEXT,
    merge_commit TEXT,
    merge_option TEXT,
    UNIQUE (account, region, number)
);
CREATE INDEX IF NOT EXISTS pull_requests_repo ON pull_requests (repo_id, status, number);
-- ListPullRequests pages newest first by number, with or without its filters.
CREATE INDEX IF NOT EXISTS pull_requests_repo_number ON pull_requests (repo_id, number);
CREATE INDEX IF NOT EXISTS pull_requests_repo_author ON pull_requests (repo_id, author, number);
CREATE UNIQUE INDEX IF NOT EXISTS pull_requests_token
    ON pull_requests (account, region, client_token) WHERE client_token IS NOT NULL;
CREATE TABLE IF NOT EXISTS pull_request_revisions (
    id TEXT PRIMARY KEY,
    pull_request TEXT NOT NULL REFERENCES pull_requests(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    source_commit TEXT NOT NULL,
    destination_commit TEXT NOT NULL,
    merge_base TEXT,
    created REAL NOT NULL,
    UNIQUE (pull_request, seq)
);
CREATE TABLE IF NOT EXISTS pull_request_events (
    pull_request TEXT NOT NULL REFERENCES pull_requests(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    date REAL NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (pull_request, seq)
);
"""


@dataclass(frozen=True)
class MergeState:
    merged: bool = False
    merged_by: str | None = None
    merge_commit: str | None = None
    merge_option: str | None = None  # None when a push merged it


@dataclass(frozen=True)
class Revision:
    id: str
    source_commit: str
    destination_commit: str
    merge_base: str | None


@dataclass(frozen=True)
class PullRequest:
    key: str  # internal: what revisions, events (and later approvals, comments) hang off
    number: int  # the pullRequestId clients see
    account: str
    region: str
    repo_id: str
    repository_name: str
    title: str
    description: str | None
    status: str
    author: str
    created: datetime
    last_activity: datetime
    client_token: str | None
    source_ref: str
    destination_ref: str
    revision: Revision
    merge: MergeState = field(default_factory=MergeState)

    @property
    def id(self) -> str:
        return str(self.number)


@dataclass(frozen=True)
class Event:
    pull_request_id: str
    kind: str
    actor: str
    date: datetime
    # The event's own facts, named as the model's metadata members of its kind (snake_case).
    metadata: Mapping[str, object]


@dataclass(frozen=True)
class PullRequestChange:
    """One event of a pull request as its listeners see it, in the transaction that wrote it."""

    kind: str  # a PullRequestEventType
    pull_request: PullRequest  # as it stands with this event written
    repository: Repository
    actor: str
    date: datetime
    metadata: Mapping[str, object]  # as `Event.metadata`


# Called inside the transaction of the change; raising rolls the change back.
PullRequestListener = Callable[[sqlite3.Connection, PullRequestChange], None]
# `add_event`'s signature: what writes an event (and tells the listeners).
Record = Callable[..., None]


# -- rows -----------------------------------------------------------------------------------------


def check_client_token(token: str | None) -> str | None:
    """A `clientRequestToken` as given: none is fine (the SDKs make one), an empty one is not."""
    if token == "":
        raise error("ClientRequestTokenRequiredException")
    return token


def now() -> float:
    return datetime.now(UTC).timestamp()


def add_revision(
    conn: sqlite3.Connection,
    key: str,
    revision: str,
    source: str,
    destination: str,
    base: str | None,
    now: float,
) -> None:
    (seq,) = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM pull_request_revisions WHERE pull_request = ?",
        (key,),
    ).fetchone()
    conn.execute(
        "INSERT INTO pull_request_revisions"
        " (id, pull_request, seq, source_commit, destination_commit, merge_base, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (revision, key, seq, source, destination, base, now),
    )


def add_event(
    conn: sqlite3.Connection, key: str, kind: str, actor: str, now: float, **metadata: object
) -> None:
    (seq,) = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM pull_request_events WHERE pull_request = ?",
        (key,),
    ).fetchone()
    conn.execute(
        "INSERT INTO pull_request_events (pull_request, seq, kind, actor, date, metadata)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (key, seq, kind, actor, now, json.dumps({k: v for k, v in metadata.items() if v})),
    )
