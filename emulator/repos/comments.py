"""Comments on compared commits and on pull requests, their replies, edits, deletions and
reactions, with CodeCommit's rules as its API reference and service model state them:

- A comment is on two commits of the repository (`beforeCommitId` may be left out only when
  the after commit is a root commit), which must differ; a pull request comment names the pull
  request's repository (`RepositoryNotAssociatedWithPullRequestException` otherwise).
- A `location` names a file (`filePath`) on one side of the comparison (`relativeFileVersion`
  BEFORE or AFTER) and optionally a line of it (`filePosition`); the file must be there on that
  side and the line must exist. The blobs of the file on both sides are kept with the comment
  (`beforeBlobId`, `afterBlobId`).
- Content is required and at most 10,240 characters.
- `clientRequestToken` makes a post idempotent: the same token with the same request gives the
  comment the first call made; with another request it is
  `IdempotencyParameterMismatchException`.
- Only a comment's author may update it (`CommentNotCreatedByCallerException`); a deleted
  comment keeps its place in its thread (`deleted: true`) without content and can no longer be
  changed (`CommentDeletedException`).
- Each user has at most one reaction per comment; a new one replaces it.

`DescribePullRequestEvents` has no comment event type, so a comment records none there; it
moves the pull request's `lastActivityDate`. Whoever must hear of a new, replying or edited
comment (the events service) registers in `listeners`, called inside the transaction that
stores it with the comment as stored and what happened (`POSTED`, `REPLIED`, `EDITED`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from emulator.codecommit_errors import error
from emulator.errors import ClientError
from emulator.repos.code import CodeReader, check_object_id, is_blob, parse_path
from emulator.repos.comment_model import (
    AFTER,
    BEFORE,
    EDITED,
    MAX_CONTENT,
    POSTED,
    REPLIED,
    SCHEMA,
    Comment,
    Comparison,
    Location,
    ReactionUsers,
)
from emulator.repos.model import Repository
from emulator.repos.pack_reader import OBJ_COMMIT, PackCache
from emulator.repos.pull_request_model import PullRequest, check_client_token, now
from emulator.repos.reactions import REACTIONS, parse_reaction
from emulator.repos.service import RepositoryService
from emulator.state.db import Database

# (the transaction, the comment as stored, POSTED / REPLIED / EDITED)
CommentListener = Callable[[sqlite3.Connection, Comment, str], None]

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ORDER = {r.short_code: i for i, r in enumerate(REACTIONS)}

_SELECT = (
    "SELECT c.seq, c.id, c.account, c.region, c.repo_id, r.name, p.number, c.before_commit,"
    " c.after_commit, c.before_blob, c.after_blob, c.file_path, c.file_position,"
    " c.relative_version, c.content, c.in_reply_to, c.author, c.created, c.modified,"
    " c.deleted, c.client_token"
    " FROM comments c JOIN repositories r ON r.id = c.repo_id"
    " LEFT JOIN pull_requests p ON p.id = c.pull_request"
)


def _date(value: object) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _row(row: Sequence[Any]) -> Comment:
    (seq, cid, account, region, repo_id, repo_name, number, before, after) = row[:9]
    before_blob, after_blob, path, position, version, content, reply_to = row[9:16]
    author, created, modified, deleted, token = row[16:]
    location = None if path is None else Location(str(path), position, str(version))
    return Comment(
        id=str(cid),
        seq=int(seq),
        account=str(account),
        region=str(region),
        repo_id=str(repo_id),
        on=Comparison(
            str(repo_name),
            None if number is None else str(number),
            _opt(before),
            str(after),
            _opt(before_blob),
            _opt(after_blob),
            location,
        ),
        content=_opt(content),
        in_reply_to=_opt(reply_to),
        author=str(author),
        created=_date(created),
        modified=_date(modified),
        deleted=bool(deleted),
        client_token=_opt(token),
    )


def check_content(content: str | None) -> str:
    if content is None or content == "":
        raise error("CommentContentRequiredException")
    if len(content) > MAX_CONTENT:
        raise error("CommentContentSizeLimitExceededException")
    return content


def check_comment_id(comment_id: str | None) -> str:
    if comment_id is None or comment_id == "":
        raise error("CommentIdRequiredException")
    if not _ID.fullmatch(comment_id):
        raise error("InvalidCommentIdException")
    return comment_id


def _lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


class CommentService:
    def __init__(self, db: Database, repos: RepositoryService, cache: PackCache) -> None:
        self.db = db
        self.repos = repos
        self.cache = cache
        db.ensure_schema(SCHEMA)
        self.listeners: list[CommentListener] = []

    # -- reading --------------------------------------------------------------------------

    def find(
        self, account: str, region: str, comment_id: str | None, caller: str | None = None
    ) -> Comment:
        cid = check_comment_id(comment_id)
        row = (
            self.db.read()
            .execute(
                f"{_SELECT} WHERE c.id = ? AND c.account = ? AND c.region = ?",
                (cid, account, region),
            )
            .fetchone()
        )
        if row is None:
            raise error("CommentDoesNotExistException")
        return self._with_reactions([_row(row)], caller)[0]

    def for_pull_request(
        self,
        pr: PullRequest,
        commits: tuple[str, str] | None,
        after_seq: int,
        size: int,
        caller: str,
    ) -> tuple[list[Comment], bool]:
        """One page of a pull request's comments in the order they were posted (those on
        `commits`, (before, after), when given), and whether more follow."""
        sql = f"{_SELECT} WHERE c.pull_request = ? AND c.seq > ?"
        args: list[object] = [pr.key, after_seq]
        if commits is not None:
            sql += " AND c.before_commit = ? AND c.after_commit = ?"
            args += list(commits)
        return self._page(sql, args, size, caller)

    def for_compared_commit(
        self,
        repo: Repository,
        before: str | None,
        after: str,
        after_seq: int,
        size: int,
        caller: str,
    ) -> tuple[list[Comment], bool]:
        """One page of the comments on a comparison of commits (outside pull requests)."""
        sql = (
            f"{_SELECT} WHERE c.repo_id = ? AND c.after_commit = ? AND c.pull_request IS NULL"
            " AND c.seq > ?"
        )
        args: list[object] = [repo.id, after, after_seq]
        if before is not None:
            sql += " AND c.before_commit = ?"
            args.append(before)
        return self._page(sql, args, size, caller)

    def _page(
        self, sql: str, args: list[object], size: int, caller: str
    ) -> tuple[list[Comment], bool]:
        rows = self.db.read().execute(sql + " ORDER BY c.seq LIMIT ?", [*args, size + 1]).fetchall()
        comments = [_row(r) for r in rows[:size]]
        return self._with_reactions(comments, caller), len(rows) > size

    def _with_reactions(self, comments: list[Comment], caller: str | None) -> list[Comment]:
        if not comments:
            return comments
        ids = [c.id for c in comments]
        marks = ",".join("?" * len(ids))
        counts: dict[str, dict[str, int]] = {}
        mine: dict[str, list[str]] = {}
        rows = self.db.read().execute(
            "SELECT comment, reaction, COUNT(*), SUM(user_arn = ?) FROM comment_reactions"
            f" WHERE comment IN ({marks}) GROUP BY comment, reaction",
            [caller, *ids],
        )
        for cid, reaction, count, own in rows:
            counts.setdefault(cid, {})[reaction] = int(count)
            if own:
                mine.setdefault(cid, []).append(reaction)
        out = []
        for c in comments:
            found = counts.get(c.id, {})
            ordered = dict(sorted(found.items(), key=lambda kv: _ORDER.get(kv[0], 99)))
            out.append(
                Comment(
                    **{
                        **c.__dict__,
                        "reaction_counts": ordered,
                        "caller_reactions": tuple(mine.get(c.id, ())),
                    }
                )
            )
        return out

    # -- posting --------------------------------------------------------------------------

    def post(
        self,
        repo: Repository,
        *,
        pull_request: PullRequest | None,
        before: str | None,
        after: str | None,
        location: Mapping[str, Any] | None,
        content: str | None,
        client_token: str | None,
        author: str,
    ) -> Comment:
        """A comment on the comparison of `before` and `after` (in `pull_request` if given)."""
        if pull_request is not None and pull_request.repo_id != repo.id:
            raise error("RepositoryNotAssociatedWithPullRequestException")
        body = check_content(content)
        after_id = check_object_id(after, "CommitIdRequiredException", "InvalidCommitIdException")
        before_id = None
        if before is not None or pull_request is not None:
            before_id = check_object_id(
                before, "CommitIdRequiredException", "InvalidCommitIdException"
            )
        if before_id == after_id:
            raise error("BeforeCommitIdAndAfterCommitIdAreSameException")
        with CodeReader(self.repos, repo, self.cache) as reader:
            for sha in (before_id, after_id):
                if sha is not None:
                    self._commit(reader, sha)
            if before_id is None and reader.commit(after_id).parents:
                # Only an initial commit may be commented on without a before commit.
                raise error("CommitIdRequiredException")
            place: Location | None = None
            blobs: tuple[str | None, str | None] = (None, None)
            if location is not None:
                place, blobs = _place(reader, before_id, after_id, location)
        kind = "pull-request" if pull_request is not None else "compared-commit"
        request: list[Any] = [kind, repo.id, pull_request and pull_request.key, before_id]
        request += [after_id, place and place.__dict__, body]
        fields = {
            "repo_id": repo.id,
            "pull_request": None if pull_request is None else pull_request.key,
            "before_commit": before_id,
            "after_commit": after_id,
            "before_blob": blobs[0],
            "after_blob": blobs[1],
            "file_path": None if place is None else place.file_path,
            "file_position": None if place is None else place.file_position,
            "relative_version": None if place is None else place.relative_version,
        }
        return self._insert(
            repo.account, repo.region, fields, body, None, client_token, author, request
        )

    def reply(
        self, parent: Comment, content: str | None, client_token: str | None, author: str
    ) -> Comment:
        """A reply, in its parent's thread (its comparison and place)."""
        body = check_content(content)
        row = (
            self.db.read()
            .execute(
                "SELECT repo_id, pull_request, before_commit, after_commit, before_blob,"
                " after_blob, file_path, file_position, relative_version FROM comments"
                " WHERE id = ?",
                (parent.id,),
            )
            .fetchone()
        )
        if row is None:
            raise error("CommentDoesNotExistException")
        names = (
            "repo_id pull_request before_commit after_commit before_blob after_blob file_path"
            " file_position relative_version"
        ).split()
        fields = dict(zip(names, row, strict=True))
        request = ["reply", parent.id, body]
        return self._insert(
            parent.account, parent.region, fields, body, parent.id, client_token, author, request
        )

    def _insert(
        self,
        account: str,
        region: str,
        fields: dict[str, Any],
        body: str,
        in_reply_to: str | None,
        client_token: str | None,
        author: str,
        request: list[Any],
    ) -> Comment:
        check_client_token(client_token)
        digest = hashlib.sha256(json.dumps(request).encode()).hexdigest()
        if client_token is not None:
            earlier = self._by_token(account, region, client_token)
            if earlier is not None:
                return self._replay(account, region, earlier, digest, author)
        cid, when = str(uuid.uuid4()), now()
        row = {
            **fields,
            "id": cid,
            "account": account,
            "region": region,
            "in_reply_to": in_reply_to,
            "content": body,
            "author": author,
            "created": when,
            "modified": when,
            "client_token": client_token,
            "request_digest": digest,
        }
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    f"INSERT INTO comments ({', '.join(row)}) VALUES ({','.join('?' * len(row))})",
                    list(row.values()),
                )
                if fields["pull_request"] is not None:
                    conn.execute(
                        "UPDATE pull_requests SET last_activity = ? WHERE id = ?",
                        (when, fields["pull_request"]),
                    )
                stored = _row(conn.execute(f"{_SELECT} WHERE c.id = ?", (cid,)).fetchone())
                what = POSTED if in_reply_to is None else REPLIED
                for listener in self.listeners:
                    listener(conn, stored, what)
        except sqlite3.IntegrityError:
            # The same token, used by a concurrent post that committed first.
            earlier = (
                None if client_token is None else self._by_token(account, region, client_token)
            )
            if earlier is None:
                raise
            return self._replay(account, region, earlier, digest, author)
        return stored

    def _by_token(self, account: str, region: str, token: str) -> tuple[str, str] | None:
        row = (
            self.db.read()
            .execute(
                "SELECT id, request_digest FROM comments"
                " WHERE account = ? AND region = ? AND client_token = ?",
                (account, region, token),
            )
            .fetchone()
        )
        return None if row is None else (str(row[0]), str(row[1]))

    def _replay(
        self, account: str, region: str, earlier: tuple[str, str], digest: str, caller: str
    ) -> Comment:
        if earlier[1] != digest:
            raise error("IdempotencyParameterMismatchException")
        return self.find(account, region, earlier[0], caller)

    @staticmethod
    def _commit(reader: CodeReader, sha: str) -> None:
        found = reader.peel(sha)
        if found is None:
            raise error("CommitDoesNotExistException")
        if found[1] != sha or found[0] != OBJ_COMMIT:  # a tag's id names no commit here
            raise error("InvalidCommitIdException")

    # -- changing -------------------------------------------------------------------------

    def update(self, comment: Comment, content: str | None, caller: str) -> Comment:
        body = check_content(content)
        if comment.deleted:
            raise error("CommentDeletedException")
        if comment.author != caller:
            raise error("CommentNotCreatedByCallerException")
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE comments SET content = ?, modified = ? WHERE id = ? AND deleted = 0",
                (body, now(), comment.id),
            )
            if cur.rowcount != 1:
                raise error("CommentDeletedException")
            if self.listeners:
                stored = _row(conn.execute(f"{_SELECT} WHERE c.id = ?", (comment.id,)).fetchone())
                for listener in self.listeners:
                    listener(conn, stored, EDITED)
        return self.find(comment.account, comment.region, comment.id, caller)

    def delete_content(self, comment: Comment, caller: str) -> Comment:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE comments SET content = NULL, deleted = 1, modified = ?"
                " WHERE id = ? AND deleted = 0",
                (now(), comment.id),
            )
            if cur.rowcount != 1:
                raise error("CommentDeletedException")
        return self.find(comment.account, comment.region, comment.id, caller)

    def put_reaction(self, comment: Comment, value: str | None, caller: str) -> None:
        reaction = parse_reaction(value)
        if comment.deleted:
            raise error("CommentDeletedException")
        with self.db.transaction() as conn:
            if reaction is None:
                conn.execute(
                    "DELETE FROM comment_reactions WHERE comment = ? AND user_arn = ?",
                    (comment.id, caller),
                )
                return
            conn.execute(
                "INSERT INTO comment_reactions (comment, user_arn, reaction, created)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (comment, user_arn)"
                " DO UPDATE SET reaction = excluded.reaction, created = excluded.created",
                (comment.id, caller, reaction.short_code, now()),
            )

    def reactions(self, comment: Comment, user: str | None) -> list[tuple[str, str]]:
        """(short code, user) of each reaction to a comment, grouped by reaction in the order
        of CodeCommit's reactions, users in the order they reacted."""
        if comment.deleted:
            raise error("CommentDeletedException")
        sql = "SELECT reaction, user_arn FROM comment_reactions WHERE comment = ?"
        args: list[object] = [comment.id]
        if user is not None:
            sql += " AND user_arn = ?"
            args.append(user)
        rows = self.db.read().execute(sql + " ORDER BY created, user_arn", args).fetchall()
        pairs = [(str(r), str(u)) for r, u in rows]
        return sorted(pairs, key=lambda p: _ORDER.get(p[0], 99))


def group_reactions(pairs: Sequence[tuple[str, str]]) -> list[ReactionUsers]:
    groups: dict[str, list[str]] = {}
    for code, user in pairs:
        groups.setdefault(code, []).append(user)
    return [ReactionUsers(code, tuple(users)) for code, users in groups.items()]


def _place(
    reader: CodeReader, before: str | None, after: str, location: Mapping[str, Any]
) -> tuple[Location, tuple[str | None, str | None]]:
    """The location a comment names, checked against both sides of the comparison, and the
    file's blob on each side where it is there."""
    path = location.get("filePath")
    if path is None or path == "":
        raise error("PathRequiredException")
    parts = parse_path(path)
    version = location.get("relativeFileVersion")
    if version not in (BEFORE, AFTER):
        raise error("InvalidRelativeFileVersionEnumException")
    blobs: dict[str, str] = {}
    for side, commit in ((BEFORE, before), (AFTER, after)):
        if commit is None:
            continue
        found = reader.lookup(reader.commit_tree(commit), parts)
        if found is None:
            continue
        if not is_blob(found[0]):
            raise error("InvalidFileLocationException")  # a folder or a submodule
        blobs[side] = found[1]
    if not blobs:
        raise error("PathDoesNotExistException")
    if version not in blobs:
        # The file is only on the other side of the comparison.
        raise error("InvalidRelativeFileVersionEnumException")
    position = location.get("filePosition")
    if position is not None:
        try:
            lines = _lines(reader.blob(blobs[version]))
        except ClientError:
            lines = None  # a file too large to read through the API: any line is taken
        if position < 1 or (lines is not None and position > lines):
            raise error("InvalidFilePositionException")
    place = Location(parts_path(path), position, version)
    return place, (blobs.get(BEFORE), blobs.get(AFTER))


def parts_path(path: str) -> str:
    """The file path as given, without a leading slash (the API accepts both forms)."""
    return path.lstrip("/")
