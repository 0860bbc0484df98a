"""Notification rules (AWS CodeStar Notifications) on CodeCommit repositories.

A rule names a repository, the event types it wants, its SNS targets, a `DetailType` and a
`Status`. When a branch or tag is created, updated or deleted, every ENABLED rule of that
repository whose event types include the matching `codecommit-repository-branches-and-tags-*`
type publishes one message per reference to each of its SNS topics (through the topic's
subscriptions, like any SNS message). The message is the one AWS sends (as captured from real
notifications):

    {"account", "detailType": "CodeCommit Repository State Change", "region",
     "source": "aws.codecommit", "time", "notificationRuleArn", "detail": {the EventBridge
     event's detail}, "resources": [repository ARN], "additionalAttributes": {}}

With `DetailType` FULL, `detail` also carries `notificationBody`, the human-readable sentence AWS
adds for FULL notifications (its wording follows AWS's pull-request notification bodies; ccemu
has no console link to offer).

Other events (pull requests, approvals and comments: `codecommit-repository-pull-request-*`,
`-approvals-*`, `-comments-on-*`) come as a whole EventBridge-style event with their event type
id (`EventService.publish`); `notification` wraps such an event for a rule the same way, its
detail as it is (it carries its own `notificationBody`, with BASIC and FULL alike).

Targets are an account's own list too (ListTargets, DeleteTarget): a target is added when a rule
first names it, and stays until DeleteTarget removes it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.errors import ClientError, client_error
from emulator.events.eventbridge import DETAIL_TYPE, state_change
from emulator.events.triggers import change_kind
from emulator.repos.model import RefUpdate, Repository
from emulator.state.db import Database

BASIC, FULL = "BASIC", "FULL"
ENABLED, DISABLED = "ENABLED", "DISABLED"
SNS = "SNS"
CHATBOT_TYPES = ("AWSChatbotSlack", "AWSChatbotMicrosoftTeams")
MAX_RULES = 1000  # per account and region, CodeStar Notifications' quota
MAX_TARGETS = 10
MAX_TAGS = 50


@dataclass(frozen=True)
class EventType:
    id: str
    service: str
    name: str
    resource_type: str


def _codecommit(suffix: str, name: str) -> EventType:
    return EventType(f"codecommit-repository-{suffix}", "CodeCommit", name, "Repository")


# CodeCommit's event types, with the ids and names AWS gives them (Developer Tools console user
# guide, "Events for notification rules on repositories").
EVENT_TYPES: tuple[EventType, ...] = (
    _codecommit("comments-on-commits", "Comments: On commits"),
    _codecommit("comments-on-pull-requests", "Comments: On pull requests"),
    _codecommit("approvals-status-changed", "Approvals: Status changed"),
    _codecommit("approvals-rule-override", "Approvals: Rule override"),
    _codecommit("pull-request-created", "Pull request: Created"),
    _codecommit("pull-request-source-updated", "Pull request: Source updated"),
    _codecommit("pull-request-status-changed", "Pull request: Status changed"),
    _codecommit("pull-request-merged", "Pull request: Merged"),
    _codecommit("branches-and-tags-created", "Branches and tags: Created"),
    _codecommit("branches-and-tags-deleted", "Branches and tags: Deleted"),
    _codecommit("branches-and-tags-updated", "Branches and tags: Updated"),
)
_EVENT_IDS = {e.id for e in EVENT_TYPES}
_FOR_CHANGE = {
    "createReference": "codecommit-repository-branches-and-tags-created",
    "updateReference": "codecommit-repository-branches-and-tags-updated",
    "deleteReference": "codecommit-repository-branches-and-tags-deleted",
}
_EVENT_WORD = {"referenceCreated": "Created", "referenceUpdated": "Updated"}


@dataclass(frozen=True)
class Target:
    address: str
    type: str = SNS


@dataclass(frozen=True)
class NotificationRule:
    arn: str
    id: str
    account: str
    region: str
    name: str
    resource: str
    event_type_ids: tuple[str, ...]
    targets: tuple[Target, ...]
    detail_type: str
    status: str
    created_by: str
    created: datetime
    modified: datetime
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TargetSummary:
    address: str
    type: str
    status: str


def validation(message: str) -> ClientError:
    return client_error("ValidationException", message)


def not_found(arn: str) -> ClientError:
    return client_error(
        "ResourceNotFoundException", f"Notification rule {arn[:300]} does not exist."
    )


def rule_arn(region: str, account: str, rule_id: str) -> str:
    return f"arn:aws:codestar-notifications:{region}:{account}:notificationrule/{rule_id}"


# -- the store --------------------------------------------------------------------------------

_COLUMNS = (
    "arn, id, account, region, name, resource, event_types, targets, detail_type, status,"
    " created_by, created, modified, tags"
)


def _rule(row: Sequence[Any]) -> NotificationRule:
    return NotificationRule(
        arn=str(row[0]),
        id=str(row[1]),
        account=str(row[2]),
        region=str(row[3]),
        name=str(row[4]),
        resource=str(row[5]),
        event_type_ids=tuple(json.loads(row[6])),
        targets=tuple(Target(t["address"], t["type"]) for t in json.loads(row[7])),
        detail_type=str(row[8]),
        status=str(row[9]),
        created_by=str(row[10]),
        created=datetime.fromtimestamp(row[11], UTC),
        modified=datetime.fromtimestamp(row[12], UTC),
        tags=json.loads(row[13]),
    )


def _targets_json(targets: Sequence[Target]) -> str:
    return json.dumps([{"address": t.address, "type": t.type} for t in targets])


class NotificationService:
    """Rules, targets and tags; `target_problem(address)` says why an SNS topic cannot be a
    target (it does not exist), or None."""

    def __init__(self, db: Database, target_problem: Callable[[str], str | None]) -> None:
        self.db = db
        self.target_problem = target_problem

    # -- validation -----------------------------------------------------------------------

    def _check_event_types(self, ids: Sequence[str]) -> tuple[str, ...]:
        if not ids:
            raise validation("At least one event type ID is required.")
        for event_id in ids:
            if event_id not in _EVENT_IDS:
                raise validation(
                    f"Event type {event_id[:200]!r} is not valid for a CodeCommit repository;"
                    " ListEventTypes lists the valid ones."
                )
        return tuple(dict.fromkeys(ids))

    def _check_targets(self, region: str, targets: Sequence[Target]) -> tuple[Target, ...]:
        if len(targets) > MAX_TARGETS:
            raise validation(f"A notification rule can have at most {MAX_TARGETS} targets.")
        for t in targets:
            self._check_target(region, t)
        return tuple({t.address: t for t in targets}.values())

    def _check_target(self, region: str, target: Target) -> None:
        if not target.type or not target.address:
            raise validation("A target needs both a TargetType and a TargetAddress.")
        if target.type in CHATBOT_TYPES:
            raise client_error(
                "ConfigurationException",
                "ccemu has no AWS Chatbot to deliver to; use an SNS topic as the target.",
            )
        if target.type != SNS:
            raise validation(
                f"Target type {target.type[:50]!r} is not valid: use SNS"
                f" (or {', '.join(CHATBOT_TYPES)})."
            )
        parts = target.address.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", parts[1], "sns"] or not parts[1]:
            raise validation(f"Target address {target.address[:320]} is not an SNS topic ARN.")
        if parts[3] != region:
            raise validation(
                f"The SNS topic {target.address[:320]} is not in the region of the rule ({region})."
            )
        problem = self.target_problem(target.address)
        if problem is not None:
            raise client_error(
                "ConfigurationException", f"Target {target.address[:320]} is not usable: {problem}."
            )

    @staticmethod
    def _check_tags(tags: Mapping[str, str]) -> None:
        if len(tags) > MAX_TAGS:
            raise client_error(
                "LimitExceededException", f"A resource can have at most {MAX_TAGS} tags."
            )
        if any(k.lower().startswith("aws:") for k in tags):
            raise validation("Tag keys starting with 'aws:' are reserved for AWS.")

    # -- rules ----------------------------------------------------------------------------

    def create(
        self,
        account: str,
        region: str,
        *,
        name: str,
        repository: Repository | None,
        resource: str,
        event_type_ids: Sequence[str],
        targets: Sequence[Target],
        detail_type: str,
        status: str,
        tags: Mapping[str, str],
        created_by: str,
        request_token: str | None,
    ) -> str:
        """CreateNotificationRule; returns the rule's ARN. A retried request (same
        ClientRequestToken, same parameters) returns the ARN of the rule it made."""
        if repository is None:
            raise validation(
                f"Resource {resource[:300]} is not valid: use the ARN of an existing CodeCommit"
                f" repository in {account} and {region}."
            )
        events = self._check_event_types(event_type_ids)
        checked = self._check_targets(region, targets)
        self._check_tags(tags)
        fingerprint = hashlib.sha256(
            json.dumps(
                [name, resource, events, _targets_json(checked), detail_type, status, dict(tags)],
                sort_keys=True,
            ).encode()
        ).hexdigest()
        now = time.time()
        with self.db.transaction() as conn:
            if request_token:
                row = conn.execute(
                    "SELECT arn, fingerprint FROM notification_rule_tokens"
                    " WHERE account = ? AND region = ? AND token = ?",
                    (account, region, request_token),
                ).fetchone()
                if row is not None:
                    if row[1] != fingerprint:
                        raise validation(
                            "The ClientRequestToken was already used with different parameters."
                        )
                    return str(row[0])
            if conn.execute(
                "SELECT 1 FROM notification_rules WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            ).fetchone():
                raise client_error(
                    "ResourceAlreadyExistsException",
                    f"A notification rule named {name!r} already exists in this account.",
                )
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM notification_rules WHERE account = ? AND region = ?",
                (account, region),
            ).fetchone()
            if count >= MAX_RULES:
                raise client_error(
                    "LimitExceededException",
                    f"An account can have at most {MAX_RULES} notification rules per region.",
                )
            # AWS's rule ids are 40 hexadecimal characters.
            rule_id = hashlib.sha1(uuid.uuid4().bytes, usedforsecurity=False).hexdigest()
            arn = rule_arn(region, account, rule_id)
            conn.execute(
                f"INSERT INTO notification_rules ({_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    arn,
                    rule_id,
                    account,
                    region,
                    name,
                    resource,
                    json.dumps(events),
                    _targets_json(checked),
                    detail_type,
                    status,
                    created_by,
                    now,
                    now,
                    json.dumps(dict(tags)),
                ),
            )
            if request_token:
                conn.execute(
                    "INSERT INTO notification_rule_tokens (account, region, token, arn,"
                    " fingerprint) VALUES (?, ?, ?, ?, ?)",
                    (account, region, request_token, arn, fingerprint),
                )
            self._remember_targets(conn, account, region, checked, now)
        return arn

    @staticmethod
    def _remember_targets(
        conn: sqlite3.Connection,
        account: str,
        region: str,
        targets: Sequence[Target],
        now: float,
    ) -> None:
        for t in targets:
            conn.execute(
                "INSERT OR IGNORE INTO notification_targets (account, region, address, type,"
                " created) VALUES (?, ?, ?, ?, ?)",
                (account, region, t.address, t.type, now),
            )

    def find(self, arn: str, conn: sqlite3.Connection | None = None) -> NotificationRule | None:
        row = (
            (conn or self.db.read())
            .execute(f"SELECT {_COLUMNS} FROM notification_rules WHERE arn = ?", (arn,))
            .fetchone()
        )
        return None if row is None else _rule(row)

    def get(self, arn: str, conn: sqlite3.Connection | None = None) -> NotificationRule:
        rule = self.find(arn, conn)
        if rule is None:
            raise not_found(arn)
        return rule

    def all(self, account: str, region: str) -> list[NotificationRule]:
        rows = self.db.read().execute(
            f"SELECT {_COLUMNS} FROM notification_rules WHERE account = ? AND region = ?"
            " ORDER BY created, arn",
            (account, region),
        )
        return [_rule(r) for r in rows]

    def update(
        self,
        arn: str,
        *,
        name: str | None = None,
        status: str | None = None,
        event_type_ids: Sequence[str] | None = None,
        targets: Sequence[Target] | None = None,
        detail_type: str | None = None,
    ) -> None:
        """UpdateNotificationRule: what is given replaces what the rule had."""
        with self.db.transaction() as conn:
            rule = self.get(arn, conn)
            events = (
                rule.event_type_ids
                if event_type_ids is None
                else self._check_event_types(event_type_ids)
            )
            new_targets = (
                rule.targets if targets is None else self._check_targets(rule.region, targets)
            )
            if name is not None and name != rule.name:
                clash = conn.execute(
                    "SELECT 1 FROM notification_rules WHERE account = ? AND region = ?"
                    " AND name = ?",
                    (rule.account, rule.region, name),
                ).fetchone()
                if clash:
                    raise validation(f"A notification rule named {name!r} already exists.")
            now = time.time()
            conn.execute(
                "UPDATE notification_rules SET name = ?, status = ?, event_types = ?,"
                " targets = ?, detail_type = ?, modified = ? WHERE arn = ?",
                (
                    name or rule.name,
                    status or rule.status,
                    json.dumps(events),
                    _targets_json(new_targets),
                    detail_type or rule.detail_type,
                    now,
                    arn,
                ),
            )
            self._remember_targets(conn, rule.account, rule.region, new_targets, now)

    def delete(self, arn: str) -> None:
        """DeleteNotificationRule; deleting a rule that is gone already succeeds, as AWS's does."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM notification_rules WHERE arn = ?", (arn,))

    def subscribe(self, arn: str, target: Target) -> None:
        with self.db.transaction() as conn:
            rule = self.get(arn, conn)
            self._check_target(rule.region, target)
            if any(t.address == target.address for t in rule.targets):
                return
            if len(rule.targets) >= MAX_TARGETS:
                raise validation(f"A notification rule can have at most {MAX_TARGETS} targets.")
            now = time.time()
            conn.execute(
                "UPDATE notification_rules SET targets = ?, modified = ? WHERE arn = ?",
                (_targets_json([*rule.targets, target]), now, arn),
            )
            self._remember_targets(conn, rule.account, rule.region, [target], now)

    def unsubscribe(self, arn: str, address: str) -> None:
        """Unsubscribe: the target no longer receives this rule's notifications (a target the
        rule does not have is no error)."""
        with self.db.transaction() as conn:
            rule = self.find(arn, conn)
            if rule is None:
                return
            kept = [t for t in rule.targets if t.address != address]
            conn.execute(
                "UPDATE notification_rules SET targets = ?, modified = ? WHERE arn = ?",
                (_targets_json(kept), time.time(), arn),
            )

    # -- targets --------------------------------------------------------------------------

    def targets(self, account: str, region: str) -> list[TargetSummary]:
        rows = self.db.read().execute(
            "SELECT address, type FROM notification_targets WHERE account = ? AND region = ?"
            " ORDER BY created, address",
            (account, region),
        )
        return [
            TargetSummary(
                str(r[0]),
                str(r[1]),
                "ACTIVE" if self.target_problem(str(r[0])) is None else "UNREACHABLE",
            )
            for r in rows
        ]

    def delete_target(self, account: str, region: str, address: str, force: bool) -> None:
        """DeleteTarget: refused while a rule still names the target, unless
        `ForceUnsubscribeAll`, which first removes it from every rule."""
        with self.db.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM notification_rules WHERE account = ? AND region = ?",
                (account, region),
            ).fetchall()
            using = [r for r in map(_rule, rows) if any(t.address == address for t in r.targets)]
            if using and not force:
                raise validation(
                    f"Target {address[:320]} is still associated with {len(using)} notification"
                    " rule(s); unsubscribe it first or set ForceUnsubscribeAll."
                )
            for rule in using:
                kept = [t for t in rule.targets if t.address != address]
                conn.execute(
                    "UPDATE notification_rules SET targets = ?, modified = ? WHERE arn = ?",
                    (_targets_json(kept), time.time(), rule.arn),
                )
            conn.execute(
                "DELETE FROM notification_targets WHERE account = ? AND region = ? AND address = ?",
                (account, region, address),
            )

    # -- tags -----------------------------------------------------------------------------

    def tag(self, arn: str, tags: Mapping[str, str]) -> dict[str, str]:
        with self.db.transaction() as conn:
            rule = self.get(arn, conn)
            merged = {**rule.tags, **tags}
            self._check_tags(merged)
            conn.execute(
                "UPDATE notification_rules SET tags = ? WHERE arn = ?", (json.dumps(merged), arn)
            )
        return merged

    def untag(self, arn: str, keys: Sequence[str]) -> None:
        with self.db.transaction() as conn:
            rule = self.get(arn, conn)
            kept = {k: v for k, v in rule.tags.items() if k not in keys}
            conn.execute(
                "UPDATE notification_rules SET tags = ? WHERE arn = ?", (json.dumps(kept), arn)
            )

    # -- firing ---------------------------------------------------------------------------

    def enabled_rules(self, conn: sqlite3.Connection, repo: Repository) -> list[NotificationRule]:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM notification_rules WHERE resource = ? AND account = ?"
            " AND status = ? ORDER BY created, arn",
            (repo.arn, repo.account, ENABLED),
        )
        return [_rule(r) for r in rows]


def wants(rule: NotificationRule, event_type_id: str) -> bool:
    return event_type_id in rule.event_type_ids


def notification(rule: NotificationRule, event: Mapping[str, Any]) -> dict[str, object]:
    """The notification a rule sends for an EventBridge-style event (see the module doc)."""
    return {
        "account": event["account"],
        "detailType": event["detail-type"],
        "region": event["region"],
        "source": event["source"],
        "time": event["time"],
        "notificationRuleArn": rule.arn,
        "detail": dict(event["detail"]),
        "resources": list(event["resources"]),
        "additionalAttributes": {},
    }


def matches(rule: NotificationRule, update: RefUpdate) -> bool:
    return _FOR_CHANGE[change_kind(update)] in rule.event_type_ids


def message(
    rule: NotificationRule, repo: Repository, update: RefUpdate, actor: str, when: datetime
) -> dict[str, object] | None:
    """The notification of one branch or tag change (None for other refs)."""
    event = state_change(repo, update, actor, when)
    if event is None:
        return None
    detail = dict(event["detail"])  # type: ignore[call-overload]
    if rule.detail_type == FULL:
        word = _EVENT_WORD.get(str(detail["event"]), "Deleted")
        commit = detail.get("commitId") or detail.get("oldCommitId")
        detail["notificationBody"] = (
            "A repository event occurred in the following AWS CodeCommit repository:"
            f" {repo.name}. User: {actor}. Event: {word}. Reference type:"
            f" {detail['referenceType']}. Reference name: {detail['referenceName']}."
            f" Commit ID: {commit}."
        )
    return {
        "account": repo.account,
        "detailType": DETAIL_TYPE,
        "region": repo.region,
        "source": "aws.codecommit",
        "time": event["time"],
        "notificationRuleArn": rule.arn,
        "detail": detail,
        "resources": [repo.arn],
        "additionalAttributes": {},
    }
