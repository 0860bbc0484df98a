"""Repository triggers: their configuration, AWS's validation of it, and the payload they send.

A repository has one trigger configuration (up to 10 triggers) with a `configurationId` that
changes whenever PutRepositoryTriggers replaces it. A trigger fires on the ref changes that match
its `events` (`all`, `createReference`, `updateReference`, `deleteReference`) and its `branches`
(none: every branch and tag; some: only those branches), with one record listing the matching
references, shaped like the records AWS delivers:

    {"Records": [{"awsRegion", "codecommit": {"references": [{"commit", "created"?, "deleted"?,
      "ref"}]}, "customData"?, "eventId", "eventName": "ReferenceChanges", "eventPartNumber": 1,
      "eventSource": "aws:codecommit", "eventSourceARN", "eventTime", "eventTotalParts": 1,
      "eventTriggerConfigId", "eventTriggerName", "eventVersion": "1.0", "userIdentityARN"}]}

(keys sorted, as AWS serializes them; `eventName` is `TriggerEventTest` for TestRepositoryTriggers;
a deleted reference carries the commit it pointed at).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from emulator.errors import client_error
from emulator.repos.branches import validate_branch_name
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.state.db import Database

MAX_TRIGGERS = 10
MAX_BRANCHES = 10
MAX_CUSTOM_DATA = 1000
MAX_NAME = 100
EVENTS = ("all", "createReference", "updateReference", "deleteReference")
HEADS = b"refs/heads/"


@dataclass(frozen=True)
class Trigger:
    name: str
    destination_arn: str
    events: tuple[str, ...]
    branches: tuple[str, ...] = ()
    custom_data: str | None = None


@dataclass(frozen=True)
class TriggerConfig:
    configuration_id: str
    triggers: tuple[Trigger, ...]


def _fail(code: str, message: str) -> Exception:
    return client_error(code, message)


def validate(
    triggers: Sequence[Trigger],
    repo: Repository,
    destination_problem: Callable[[str], str | None],
) -> None:
    """AWS's checks, in its order; `destination_problem(arn)` says why a destination cannot be
    used (missing topic, unmapped function), or None."""
    if len(triggers) > MAX_TRIGGERS:
        raise _fail(
            "MaximumRepositoryTriggersExceededException",
            f"The number of triggers ({len(triggers)}) exceeds the maximum of {MAX_TRIGGERS}.",
        )
    seen: set[str] = set()
    for t in triggers:
        if not t.name:
            raise _fail(
                "RepositoryTriggerNameRequiredException", "A name for the trigger is required."
            )
        if len(t.name) > MAX_NAME or any(ord(c) < 32 for c in t.name) or t.name in seen:
            raise _fail(
                "InvalidRepositoryTriggerNameException",
                f"The trigger name {t.name[:MAX_NAME]!r} is not valid: names are unique within a"
                f" repository, at most {MAX_NAME} characters, without control characters.",
            )
        seen.add(t.name)
        if not t.destination_arn:
            raise _fail(
                "RepositoryTriggerDestinationArnRequiredException",
                "A destination ARN for the target service for the trigger is required.",
            )
        parts = t.destination_arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("sns", "lambda"):
            raise _fail(
                "InvalidRepositoryTriggerDestinationArnException",
                f"The destination ARN {t.destination_arn[:300]} is not valid: use the ARN of an"
                " Amazon SNS topic or an AWS Lambda function.",
            )
        if parts[3] != repo.region:
            raise _fail(
                "InvalidRepositoryTriggerRegionException",
                f"The destination {t.destination_arn[:300]} is not in the region of the"
                f" repository ({repo.region}).",
            )
        problem = destination_problem(t.destination_arn)
        if problem is not None:
            raise _fail(
                "InvalidRepositoryTriggerDestinationArnException",
                f"The destination ARN {t.destination_arn[:300]} is not valid: {problem}.",
            )
        if t.custom_data is not None and len(t.custom_data) > MAX_CUSTOM_DATA:
            raise _fail(
                "InvalidRepositoryTriggerCustomDataException",
                f"The custom data exceeds the maximum of {MAX_CUSTOM_DATA} characters.",
            )
        if len(t.branches) > MAX_BRANCHES:
            raise _fail(
                "MaximumBranchesExceededException",
                f"The number of branches for the trigger ({len(t.branches)}) exceeds the maximum"
                f" of {MAX_BRANCHES}.",
            )
        for branch in t.branches:
            try:
                validate_branch_name(branch)
            except Exception:
                raise _fail(
                    "InvalidRepositoryTriggerBranchNameException",
                    f"The branch name {branch[:256]!r} for the trigger is not valid.",
                ) from None
        if not t.events:
            raise _fail(
                "RepositoryTriggerEventsListRequiredException",
                "At least one event for the trigger is required.",
            )
        if any(e not in EVENTS for e in t.events) or ("all" in t.events and len(t.events) > 1):
            raise _fail(
                "InvalidRepositoryTriggerEventsException",
                "The events for the trigger are not valid: use 'all' alone, or any of"
                " createReference, updateReference, deleteReference.",
            )


class TriggerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, repo: Repository, conn: sqlite3.Connection | None = None) -> TriggerConfig:
        row = (
            (conn or self.db.read())
            .execute(
                "SELECT configuration_id, triggers FROM repository_triggers WHERE repo_id = ?",
                (repo.id,),
            )
            .fetchone()
        )
        if row is None:
            return TriggerConfig(configuration_id="", triggers=())
        items = tuple(
            Trigger(
                name=t["name"],
                destination_arn=t["destination_arn"],
                events=tuple(t["events"]),
                branches=tuple(t["branches"]),
                custom_data=t["custom_data"],
            )
            for t in json.loads(row[1])
        )
        return TriggerConfig(str(row[0]), items)

    def put(self, repo: Repository, triggers: Sequence[Trigger]) -> str:
        config_id = str(uuid.uuid4())
        with self.db.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM repositories WHERE id = ?", (repo.id,)).fetchone()
            if exists is None:
                raise client_error("RepositoryDoesNotExistException", f"{repo.name} does not exist")
            conn.execute(
                "INSERT INTO repository_triggers (repo_id, configuration_id, triggers)"
                " VALUES (?, ?, ?) ON CONFLICT (repo_id) DO UPDATE SET"
                " configuration_id = excluded.configuration_id, triggers = excluded.triggers",
                (repo.id, config_id, json.dumps([asdict(t) for t in triggers])),
            )
        return config_id


# -- matching and payload ---------------------------------------------------------------------


def change_kind(update: RefUpdate) -> str:
    if update.old == ZERO_SHA:
        return "createReference"
    if update.new == ZERO_SHA:
        return "deleteReference"
    return "updateReference"


def matches(trigger: Trigger, update: RefUpdate) -> bool:
    if "all" not in trigger.events and change_kind(update) not in trigger.events:
        return False
    if not trigger.branches:
        return True
    if not update.name.startswith(HEADS):
        return False  # a branch filter selects branches only
    return update.name[len(HEADS) :].decode("utf-8", "replace") in trigger.branches


def reference(update: RefUpdate) -> dict[str, object]:
    kind = change_kind(update)
    sha = update.old if kind == "deleteReference" else update.new
    ref: dict[str, object] = {"commit": sha.decode(), "ref": update.name.decode("utf-8", "replace")}
    if kind == "createReference":
        ref["created"] = True
    elif kind == "deleteReference":
        ref["deleted"] = True
    return ref


def event_time(when: datetime) -> str:
    """`2017-09-08T17:44:27.615+0000`, the form trigger records carry."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def record(
    trigger: Trigger,
    config_id: str,
    repo: Repository,
    references: Sequence[dict[str, object]],
    actor: str,
    when: datetime,
    *,
    test: bool = False,
) -> dict[str, object]:
    rec: dict[str, object] = {
        "awsRegion": repo.region,
        "codecommit": {"references": list(references)},
        "eventId": str(uuid.uuid4()),
        "eventName": "TriggerEventTest" if test else "ReferenceChanges",
        "eventPartNumber": 1,
        "eventSource": "aws:codecommit",
        "eventSourceARN": repo.arn,
        "eventTime": event_time(when),
        "eventTotalParts": 1,
        "eventTriggerConfigId": config_id,
        "eventTriggerName": trigger.name,
        "eventVersion": "1.0",
        "userIdentityARN": actor,
    }
    if trigger.custom_data:
        rec["customData"] = trigger.custom_data
    return {"Records": [dict(sorted(rec.items()))]}
