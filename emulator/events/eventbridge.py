"""EventBridge-style events: "CodeCommit Repository State Change" for every ref change, POSTed
to webhook URLs configured on ccemu (`--event-webhook`, or registered at run time), the way a
local pipeline runner would receive what an EventBridge rule forwards.

The event follows AWS's documented examples (CodeCommit user guide, "Monitoring CodeCommit events
in Amazon EventBridge"): `referenceCreated` has `commitId`, `referenceDeleted` has `oldCommitId`,
`referenceUpdated` has both; `callerUserArn` names who made the change.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.events.http_client import check_url
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.state.db import Database

DETAIL_TYPE = "CodeCommit Repository State Change"
_KINDS = {"createReference": "referenceCreated", "updateReference": "referenceUpdated"}


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    created: datetime | None  # None: configured on the command line


def state_change(
    repo: Repository, update: RefUpdate, actor: str, when: datetime
) -> dict[str, object] | None:
    """The event of one ref change, or None for a ref that is neither a branch nor a tag."""
    name = update.name.decode("utf-8", "replace")
    if name.startswith("refs/heads/"):
        ref_type, short = "branch", name[len("refs/heads/") :]
    elif name.startswith("refs/tags/"):
        ref_type, short = "tag", name[len("refs/tags/") :]
    else:
        return None
    if update.old == ZERO_SHA:
        event = "referenceCreated"
    elif update.new == ZERO_SHA:
        event = "referenceDeleted"
    else:
        event = "referenceUpdated"
    detail: dict[str, object] = {
        "event": event,
        "repositoryName": repo.name,
        "repositoryId": repo.id,
        "referenceType": ref_type,
        "referenceName": short,
        "referenceFullName": name,
    }
    if update.new != ZERO_SHA:
        detail["commitId"] = update.new.decode()
    if update.old != ZERO_SHA:
        detail["oldCommitId"] = update.old.decode()
    detail["callerUserArn"] = actor
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.codecommit",
        "account": repo.account,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": repo.region,
        "resources": [repo.arn],
        "detail": detail,
    }


class WebhookStore:
    def __init__(self, db: Database, configured: Sequence[str]) -> None:
        self.db = db
        self.configured = tuple(
            Webhook(f"config-{i + 1}", url, None) for i, url in enumerate(configured)
        )

    def add(self, url: str) -> Webhook:
        check_url(url)
        hook = Webhook(str(uuid.uuid4()), url, datetime.now(UTC))
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO event_webhooks (id, url, created) VALUES (?, ?, ?)",
                (hook.id, url, time.time()),
            )
        return hook

    def remove(self, hook_id: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM event_webhooks WHERE id = ?", (hook_id,)).rowcount > 0

    def all(self, conn: sqlite3.Connection | None = None) -> list[Webhook]:
        rows = (conn or self.db.read()).execute(
            "SELECT id, url, created FROM event_webhooks ORDER BY created, id"
        )
        stored = [Webhook(str(r[0]), str(r[1]), datetime.fromtimestamp(r[2], UTC)) for r in rows]
        return [*self.configured, *stored]
