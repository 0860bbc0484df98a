"""Approval rules of pull requests: who must approve a pull request before it can be merged.

CodeCommit's rules, as its API reference, service model and user guide state them:

- A rule's content is JSON: `Version` `2018-11-08`, optional `DestinationReferences` (used by
  approval rule templates to pick the pull requests they apply to), and `Statements`, each of
  `Type` `Approvers` with `NumberOfApprovalsNeeded` and an optional `ApprovalPoolMembers` list
  (at most 50). Without a pool any approval counts; with one, only approvals of a member:
  - `CodeCommitApprovers:<account>:<name>` counts the IAM user `<name>` and the federated user
    `<name>` of that account; an assumed-role session counts only through a wildcard
    (`*Mary_Major` matches `assumed-role/CodeCommitReview/Mary_Major`);
  - any other member is a full ARN, wildcards (`*`, `?`) included, matched against the
    approver's ARN (an IAM user's, or an assumed role's session
    `arn:aws:sts::<account>:assumed-role/<role>/<session>`).
- `ruleContentSha256` is the SHA-256 of the content as given; an update may name the hash it
  expects (`InvalidRuleContentSha256Exception` when the rule changed meanwhile).
- At most 30 rules on a pull request; rule names are unique in it. Rules, approvals and
  overrides change only while the pull request is open.
- An approval belongs to a revision: when the source branch moves (a new revision), earlier
  approvals and an override stop counting. Approving or overriding names the current revision
  (`RevisionNotCurrentException`); the author cannot approve (`PullRequestCannotBeApprovedBy
  AuthorException`); a revision holds at most 200 approvals.
- The pull request is approved when every rule is satisfied; it can be merged when it is
  approved or its rules are overridden (`PullRequestApprovalRulesNotSatisfiedException`).

Every change writes its `DescribePullRequestEvents` event in its own transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.codecommit_errors import error
from emulator.repos.pull_request_model import OPEN, PullRequest, Record, add_event, now
from emulator.state.db import Database

VERSION = "2018-11-08"
MAX_RULES = 30
MAX_APPROVALS = 200
MAX_POOL = 50
MAX_DESTINATIONS = 100
APPROVE, REVOKE = "APPROVE", "REVOKE"
OVERRIDE = "OVERRIDE"

RULE_CREATED = "PULL_REQUEST_APPROVAL_RULE_CREATED"
RULE_UPDATED = "PULL_REQUEST_APPROVAL_RULE_UPDATED"
RULE_DELETED = "PULL_REQUEST_APPROVAL_RULE_DELETED"
RULE_OVERRIDDEN = "PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN"
STATE_CHANGED = "PULL_REQUEST_APPROVAL_STATE_CHANGED"

SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_rules (
    id TEXT PRIMARY KEY,
    pull_request TEXT NOT NULL REFERENCES pull_requests(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    modified_by TEXT NOT NULL,
    template_id TEXT,
    template_name TEXT,
    UNIQUE (pull_request, name)
);
CREATE TABLE IF NOT EXISTS approvals (
    revision TEXT NOT NULL REFERENCES pull_request_revisions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    approver TEXT NOT NULL,
    state TEXT NOT NULL,
    date REAL NOT NULL,
    PRIMARY KEY (revision, approver)
);
CREATE TABLE IF NOT EXISTS approval_overrides (
    revision TEXT PRIMARY KEY REFERENCES pull_request_revisions(id) ON DELETE CASCADE,
    overrider TEXT NOT NULL,
    date REAL NOT NULL
);
"""

# "Any combination of letters, numbers, periods, spaces, underscores, and dashes ... cannot end
# in .git and cannot contain any of the following characters" (CodeCommit quotas).
_NAME_FORBIDDEN = set("\\!?@#$%^&*()+={}[]|/><~`'\";:")
_APPROVERS = re.compile(r"CodeCommitApprovers:([^:]+):(.+)")
_REFERENCE = re.compile(r"refs/heads/\S+")


@dataclass(frozen=True)
class Statement:
    needed: int
    pool: tuple[str, ...] | None  # None: any approver counts


@dataclass(frozen=True)
class RuleContent:
    destinations: tuple[str, ...] | None
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class ApprovalRule:
    id: str
    name: str
    content: str
    sha256: str
    created: datetime
    modified: datetime
    modified_by: str
    template_id: str | None = None
    template_name: str | None = None


@dataclass(frozen=True)
class Approval:
    approver: str
    state: str


@dataclass(frozen=True)
class Evaluation:
    approved: bool
    overridden: bool
    satisfied: tuple[str, ...]
    not_satisfied: tuple[str, ...]


# -- content ----------------------------------------------------------------------------------


def validate_rule_name(name: str | None, required: str, invalid: str) -> str:
    if name is None or name == "":
        raise error(required)
    if (
        len(name) > 100
        or name.endswith(".git")
        or not name.strip()
        or any(c in _NAME_FORBIDDEN or not c.isprintable() for c in name)
    ):
        raise error(invalid)
    return name


def parse_content(text: str | None, required: str, invalid: str) -> RuleContent:
    """The rule a content document states, or `invalid` for anything else."""
    if text is None or text == "":
        raise error(required)
    try:
        doc = json.loads(text)
    except ValueError:
        raise error(invalid) from None
    if not isinstance(doc, dict) or set(doc) - {"Version", "DestinationReferences", "Statements"}:
        raise error(invalid)
    if doc.get("Version") != VERSION:
        raise error(invalid)
    destinations = doc.get("DestinationReferences")
    if destinations is not None and (
        not isinstance(destinations, list)
        or not 0 < len(destinations) <= MAX_DESTINATIONS
        or not all(isinstance(d, str) and _REFERENCE.fullmatch(d) for d in destinations)
    ):
        raise error(invalid)
    raw = doc.get("Statements")
    if not isinstance(raw, list) or not raw:
        raise error(invalid)
    statements = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {
            "Type",
            "NumberOfApprovalsNeeded",
            "ApprovalPoolMembers",
        }:
            raise error(invalid)
        needed = item.get("NumberOfApprovalsNeeded")
        if item.get("Type") != "Approvers" or type(needed) is not int:
            raise error(invalid)
        if not 1 <= needed <= MAX_APPROVALS:
            raise error(invalid)
        pool = item.get("ApprovalPoolMembers")
        if pool is not None and (
            not isinstance(pool, list)
            or not 0 < len(pool) <= MAX_POOL
            or not all(isinstance(m, str) and _member_ok(m) for m in pool)
        ):
            raise error(invalid)
        statements.append(Statement(needed, None if pool is None else tuple(pool)))
    return RuleContent(None if destinations is None else tuple(destinations), tuple(statements))


def _member_ok(member: str) -> bool:
    if member.startswith("CodeCommitApprovers:"):
        return _APPROVERS.fullmatch(member) is not None
    return member.startswith("arn:") and len(member.split(":", 5)) == 6


def _glob(pattern: str, value: str) -> bool:
    """IAM-style wildcards: `*` any run of characters, `?` one; case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def member_matches(member: str, approver: str) -> bool:
    """Whether an approval pool member names the principal whose ARN is `approver`."""
    found = _APPROVERS.fullmatch(member)
    if found is None:
        return _glob(member, approver)
    account, name = found.groups()
    parts = approver.split(":", 5)
    if len(parts) != 6 or not _glob(account, parts[4]):
        return False
    kind, _, resource = parts[5].partition("/")
    if kind == "user":
        # A user's ARN may carry a path: its name is the last segment.
        return _glob(name, resource.rsplit("/", 1)[-1])
    if kind in ("federated-user", "assumed-role"):
        # A session counts only through a wildcard: "<role>/<session>" is never a plain name.
        return _glob(name, resource)
    return False


def statement_satisfied(statement: Statement, approvers: list[str]) -> bool:
    if statement.pool is None:
        count = len(approvers)
    else:
        pool = statement.pool
        count = sum(1 for a in approvers if any(member_matches(m, a) for m in pool))
    return count >= statement.needed


def content_sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


# -- the service ------------------------------------------------------------------------------

_RULE_COLUMNS = (
    "id, name, content, sha256, created, modified, modified_by, template_id, template_name"
)


def _rule(row: tuple[object, ...]) -> ApprovalRule:
    key, name, content, sha, created, modified, by, template_id, template_name = row
    return ApprovalRule(
        id=str(key),
        name=str(name),
        content=str(content),
        sha256=str(sha),
        created=datetime.fromtimestamp(float(created), UTC),  # type: ignore[arg-type]
        modified=datetime.fromtimestamp(float(modified), UTC),  # type: ignore[arg-type]
        modified_by=str(by),
        template_id=None if template_id is None else str(template_id),
        template_name=None if template_name is None else str(template_name),
    )


class ApprovalRuleService:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        # How an approval event of a pull request is written: `add_event`'s signature; the
        # core sets it to the pull request service's recorder, which also hands the event to
        # notification rules and webhooks in the same transaction.
        self.events_for: Callable[[PullRequest], Record] = lambda pr: add_event

    # -- rules ----------------------------------------------------------------------------

    def rules(self, pr: PullRequest) -> list[ApprovalRule]:
        rows = (
            self.db.read()
            .execute(
                f"SELECT {_RULE_COLUMNS} FROM approval_rules WHERE pull_request = ? ORDER BY seq",
                (pr.key,),
            )
            .fetchall()
        )
        return [_rule(r) for r in rows]

    def _rule_named(self, conn: sqlite3.Connection, key: str, name: str) -> ApprovalRule:
        row = conn.execute(
            f"SELECT {_RULE_COLUMNS} FROM approval_rules WHERE pull_request = ? AND name = ?",
            (key, name),
        ).fetchone()
        if row is None:
            raise error("ApprovalRuleDoesNotExistException")
        return _rule(row)

    def create_rule(
        self, pr: PullRequest, name: str | None, content: str | None, actor: str
    ) -> ApprovalRule:
        name = validate_rule_name(
            name, "ApprovalRuleNameRequiredException", "InvalidApprovalRuleNameException"
        )
        parse_content(
            content, "ApprovalRuleContentRequiredException", "InvalidApprovalRuleContentException"
        )
        assert content is not None
        with self.db.transaction() as conn:
            self._require_open(conn, pr)
            rule = self.insert_rule(conn, pr.key, name, content, actor)
            if rule is None:
                raise error("ApprovalRuleNameAlreadyExistsException")
        return rule

    def insert_rule(
        self,
        conn: sqlite3.Connection,
        pr_key: str,
        name: str,
        content: str,
        actor: str,
        template: tuple[str, str] | None = None,
    ) -> ApprovalRule | None:
        """Add a rule to the pull request, with its event; None when the name is taken."""
        (count, last) = conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM approval_rules WHERE pull_request = ?",
            (pr_key,),
        ).fetchone()
        if count >= MAX_RULES:
            raise error("NumberOfRulesExceededException")
        taken = conn.execute(
            "SELECT 1 FROM approval_rules WHERE pull_request = ? AND name = ?", (pr_key, name)
        ).fetchone()
        if taken is not None:
            return None
        when = now()
        key = str(uuid.uuid4())
        template_id, template_name = template or (None, None)
        conn.execute(
            f"INSERT INTO approval_rules (pull_request, seq, {_RULE_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pr_key,
                int(last) + 1,
                key,
                name,
                content,
                content_sha256(content),
                when,
                when,
                actor,
                template_id,
                template_name,
            ),
        )
        self._event(conn, pr_key, RULE_CREATED, actor, when, key, name, content)
        return self._rule_named(conn, pr_key, name)

    def update_rule(
        self,
        pr: PullRequest,
        name: str | None,
        expected_sha256: str | None,
        content: str | None,
        actor: str,
    ) -> ApprovalRule:
        name = validate_rule_name(
            name, "ApprovalRuleNameRequiredException", "InvalidApprovalRuleNameException"
        )
        parse_content(
            content, "ApprovalRuleContentRequiredException", "InvalidApprovalRuleContentException"
        )
        assert content is not None
        with self.db.transaction() as conn:
            self._require_open(conn, pr)
            rule = self._rule_named(conn, pr.key, name)
            if rule.template_id is not None:
                raise error("CannotModifyApprovalRuleFromTemplateException")
            if expected_sha256 is not None and expected_sha256 != rule.sha256:
                raise error("InvalidRuleContentSha256Exception")
            when = now()
            conn.execute(
                "UPDATE approval_rules SET content = ?, sha256 = ?, modified = ?,"
                " modified_by = ? WHERE id = ?",
                (content, content_sha256(content), when, actor, rule.id),
            )
            self._event(conn, pr.key, RULE_UPDATED, actor, when, rule.id, name, content)
            return self._rule_named(conn, pr.key, name)

    def delete_rule(self, pr: PullRequest, name: str | None, actor: str) -> str:
        """The id of the deleted rule; "" when there was none (AWS answers 200 then)."""
        name = validate_rule_name(
            name, "ApprovalRuleNameRequiredException", "InvalidApprovalRuleNameException"
        )
        with self.db.transaction() as conn:
            self._require_open(conn, pr)
            row = conn.execute(
                f"SELECT {_RULE_COLUMNS} FROM approval_rules WHERE pull_request = ? AND name = ?",
                (pr.key, name),
            ).fetchone()
            if row is None:
                return ""
            rule = _rule(row)
            if rule.template_id is not None:
                raise error("CannotDeleteApprovalRuleFromTemplateException")
            conn.execute("DELETE FROM approval_rules WHERE id = ?", (rule.id,))
            self._event(conn, pr.key, RULE_DELETED, actor, now(), rule.id, name, rule.content)
        return rule.id

    # -- approvals ------------------------------------------------------------------------

    def set_approval(self, pr: PullRequest, revision: str | None, state: str, actor: str) -> None:
        with self.db.transaction() as conn:
            self._current(conn, pr, revision)
            assert revision is not None
            if actor == pr.author:
                raise error("PullRequestCannotBeApprovedByAuthorException")
            row = conn.execute(
                "SELECT state FROM approvals WHERE revision = ? AND approver = ?",
                (revision, actor),
            ).fetchone()
            before = REVOKE if row is None else str(row[0])
            if before == state:
                return  # nothing changes, nothing to record
            if state == APPROVE:
                (approved,) = conn.execute(
                    "SELECT COUNT(*) FROM approvals WHERE revision = ? AND state = ?",
                    (revision, APPROVE),
                ).fetchone()
                if approved >= MAX_APPROVALS:
                    raise error("MaximumNumberOfApprovalsExceededException")
            when = now()
            conn.execute(
                "INSERT INTO approvals (revision, seq, approver, state, date)"
                " VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM approvals"
                " WHERE revision = ?), ?, ?, ?)"
                " ON CONFLICT (revision, approver) DO UPDATE SET state = excluded.state,"
                " date = excluded.date",
                (revision, revision, actor, state, when),
            )
            self.events_for(pr)(
                conn,
                pr.key,
                STATE_CHANGED,
                actor,
                when,
                revision_id=revision,
                approval_status=state,
            )

    def approvals(self, pr: PullRequest, revision: str | None) -> list[Approval]:
        conn = self.db.read()
        self._revision_of(conn, pr, revision)
        rows = conn.execute(
            "SELECT approver, state FROM approvals WHERE revision = ? ORDER BY seq", (revision,)
        ).fetchall()
        return [Approval(str(a), str(s)) for a, s in rows]

    def evaluate(self, pr: PullRequest, revision: str | None) -> Evaluation:
        conn = self.db.read()
        self._current(conn, pr, revision, closed_ok=True)
        assert revision is not None
        return self._evaluate(conn, pr.key, revision)

    def _evaluate(self, conn: sqlite3.Connection, pr_key: str, revision: str) -> Evaluation:
        approvers = [
            str(a)
            for (a,) in conn.execute(
                "SELECT approver FROM approvals WHERE revision = ? AND state = ? ORDER BY seq",
                (revision, APPROVE),
            )
        ]
        satisfied: list[str] = []
        not_satisfied: list[str] = []
        for name, content in conn.execute(
            "SELECT name, content FROM approval_rules WHERE pull_request = ? ORDER BY seq",
            (pr_key,),
        ):
            rule = parse_content(
                str(content),
                "ApprovalRuleContentRequiredException",
                "InvalidApprovalRuleContentException",
            )
            ok = all(statement_satisfied(s, approvers) for s in rule.statements)
            (satisfied if ok else not_satisfied).append(str(name))
        overridden = (
            conn.execute(
                "SELECT 1 FROM approval_overrides WHERE revision = ?", (revision,)
            ).fetchone()
            is not None
        )
        return Evaluation(not not_satisfied, overridden, tuple(satisfied), tuple(not_satisfied))

    def require_mergeable(self, conn: sqlite3.Connection, pr_key: str) -> None:
        """A merge of the pull request waits for its rules: satisfied or overridden, on the
        current revision, as `conn` sees them. The merge calls this inside the transaction
        that moves the destination branch, so an approval revoked, a rule added or an override
        withdrawn before that transaction commits is seen."""
        row = conn.execute(
            "SELECT revision_id FROM pull_requests WHERE id = ?", (pr_key,)
        ).fetchone()
        if row is None:
            raise error("PullRequestDoesNotExistException")
        evaluation = self._evaluate(conn, pr_key, str(row[0]))
        if not (evaluation.approved or evaluation.overridden):
            raise error("PullRequestApprovalRulesNotSatisfiedException")

    # -- overrides ------------------------------------------------------------------------

    def set_override(self, pr: PullRequest, revision: str | None, status: str, actor: str) -> None:
        with self.db.transaction() as conn:
            self._current(conn, pr, revision)
            assert revision is not None
            row = conn.execute(
                "SELECT 1 FROM approval_overrides WHERE revision = ?", (revision,)
            ).fetchone()
            when = now()
            if status == OVERRIDE:
                if row is not None:
                    raise error("OverrideAlreadySetException")
                conn.execute(
                    "INSERT INTO approval_overrides (revision, overrider, date) VALUES (?, ?, ?)",
                    (revision, actor, when),
                )
            else:
                if row is None:
                    return  # "REVOKE status is not stored": nothing to revoke
                conn.execute("DELETE FROM approval_overrides WHERE revision = ?", (revision,))
            self.events_for(pr)(
                conn,
                pr.key,
                RULE_OVERRIDDEN,
                actor,
                when,
                revision_id=revision,
                override_status=status,
            )

    def override_state(self, pr: PullRequest, revision: str | None) -> str | None:
        """Who overrode the rules on this revision, if anyone."""
        conn = self.db.read()
        self._revision_of(conn, pr, revision)
        row = conn.execute(
            "SELECT overrider FROM approval_overrides WHERE revision = ?", (revision,)
        ).fetchone()
        return None if row is None else str(row[0])

    # -- checks ---------------------------------------------------------------------------

    @staticmethod
    def _require_open(conn: sqlite3.Connection, pr: PullRequest) -> str:
        row = conn.execute(
            "SELECT status, revision_id FROM pull_requests WHERE id = ?", (pr.key,)
        ).fetchone()
        if row is None:
            raise error("PullRequestDoesNotExistException")
        if row[0] != OPEN:
            raise error("PullRequestAlreadyClosedException")
        return str(row[1])

    @staticmethod
    def _revision_of(conn: sqlite3.Connection, pr: PullRequest, revision: str | None) -> None:
        if revision is None or revision == "":
            raise error("RevisionIdRequiredException")
        row = conn.execute(
            "SELECT 1 FROM pull_request_revisions WHERE id = ? AND pull_request = ?",
            (revision, pr.key),
        ).fetchone()
        if row is None:
            raise error("InvalidRevisionIdException")

    def _current(
        self,
        conn: sqlite3.Connection,
        pr: PullRequest,
        revision: str | None,
        closed_ok: bool = False,
    ) -> None:
        self._revision_of(conn, pr, revision)
        row = conn.execute(
            "SELECT status, revision_id FROM pull_requests WHERE id = ?", (pr.key,)
        ).fetchone()
        if row is None:
            raise error("PullRequestDoesNotExistException")
        if row[1] != revision:
            raise error("RevisionNotCurrentException")
        if row[0] != OPEN and not closed_ok:
            raise error("PullRequestAlreadyClosedException")

    @staticmethod
    def _event(
        conn: sqlite3.Connection,
        pr_key: str,
        kind: str,
        actor: str,
        when: float,
        key: str,
        name: str,
        content: str,
    ) -> None:
        add_event(
            conn,
            pr_key,
            kind,
            actor,
            when,
            approval_rule_name=name,
            approval_rule_id=key,
            approval_rule_content=content,
        )
