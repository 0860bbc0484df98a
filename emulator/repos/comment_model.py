"""Comments as ccemu stores them: the domain objects and their tables.

A comment is posted on the comparison of two commits of one repository (`beforeCommitId`,
`afterCommitId`), optionally inside a pull request, optionally at a place in a file
(`location`: file path, line, and which side of the comparison). A reply belongs to its
comment's thread: it is stored with the thread's comparison and place, so listing groups it
with the comment it answers, as CodeCommit groups them. Rows go with their repository and
pull request (foreign keys), and each comment keeps a sequence number, the order listings
follow and page on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

BEFORE, AFTER = "BEFORE", "AFTER"
# What happened to a comment, as the comment service's listeners are told.
POSTED, REPLIED, EDITED = "posted", "replied", "edited"
MAX_CONTENT = 10_240  # characters (CommentContentSizeLimitExceededException)

SCHEMA = """
CREATE TABLE IF NOT EXISTS comments (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    repo_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    pull_request TEXT REFERENCES pull_requests(id) ON DELETE CASCADE,
    before_commit TEXT,
    after_commit TEXT NOT NULL,
    before_blob TEXT,
    after_blob TEXT,
    file_path TEXT,
    file_position INTEGER,
    relative_version TEXT,
    in_reply_to TEXT,
    content TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    author TEXT NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    client_token TEXT,
    request_digest TEXT
);
CREATE INDEX IF NOT EXISTS comments_pull_request ON comments (pull_request, seq)
    WHERE pull_request IS NOT NULL;
CREATE INDEX IF NOT EXISTS comments_compared ON comments (repo_id, after_commit, seq);
CREATE UNIQUE INDEX IF NOT EXISTS comments_token
    ON comments (account, region, client_token) WHERE client_token IS NOT NULL;
CREATE TABLE IF NOT EXISTS comment_reactions (
    comment TEXT NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    user_arn TEXT NOT NULL,
    reaction TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (comment, user_arn)
);
CREATE INDEX IF NOT EXISTS comment_reactions_by_value ON comment_reactions (comment, reaction);
"""


@dataclass(frozen=True)
class Location:
    file_path: str
    file_position: int | None
    relative_version: str


@dataclass(frozen=True)
class Comparison:
    """What a comment is on: the key CodeCommit groups comments by."""

    repository_name: str
    pull_request_id: str | None
    before_commit: str | None
    after_commit: str
    before_blob: str | None
    after_blob: str | None
    location: Location | None


@dataclass(frozen=True)
class Comment:
    id: str
    seq: int
    account: str
    region: str
    repo_id: str
    on: Comparison
    content: str | None  # None once deleted
    in_reply_to: str | None
    author: str
    created: datetime
    modified: datetime
    deleted: bool
    client_token: str | None
    # short code -> users, and the caller's own short codes, filled in for a caller
    reaction_counts: Mapping[str, int] = field(default_factory=dict)
    caller_reactions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReactionUsers:
    short_code: str
    users: tuple[str, ...]
