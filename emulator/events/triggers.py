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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from emulator.codecommit_errors import error
from emulator.errors import ClientError
from emulator.events.lambdas import LAMBDA_ARN
from emulator.events.sns import TOPIC_ARN
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


def destination_kind(arn: str) -> str | None:
    """`sns` or `lambda` for an ARN a trigger may name, else None. CodeCommit accepts any
    well-formed topic or function ARN, of any account: whether the destination exists, and
    whether it lets CodeCommit in, shows only when a delivery is tried."""
    if TOPIC_ARN.match(arn):
        return "sns"
    if LAMBDA_ARN.match(arn):
        return "lambda"
    return None


def _name_problem(name: str, seen: set[str]) -> bool:
    # CodeCommit's quotas: 1 to 100 characters, and "Trigger names cannot contain spaces or
    # commas"; a repository's triggers have unique names.
    return (
        len(name) > MAX_NAME
        or any(c in " ," or ord(c) < 32 or ord(c) == 127 for c in name)
        or name in seen
    )


def validate(triggers: Sequence[Trigger], repo: Repository) -> None:
    """AWS's checks, in its order. A destination is checked for its form and region only."""
    if len(triggers) > MAX_TRIGGERS:
        raise error("MaximumRepositoryTriggersExceededException")
    seen: set[str] = set()
    for t in triggers:
        if not t.name:
            raise error("RepositoryTriggerNameRequiredException")
        if _name_problem(t.name, seen):
            raise error("InvalidRepositoryTriggerNameException")
        seen.add(t.name)
        if not t.destination_arn:
            raise error("RepositoryTriggerDestinationArnRequiredException")
        parts = t.destination_arn.split(":")
        if len(parts) < 6 or parts[0] != "arn" or parts[2] not in ("sns", "lambda"):
            raise error("InvalidRepositoryTriggerDestinationArnException")
        if parts[3] != repo.region:
            raise error("InvalidRepositoryTriggerRegionException")
        if destination_kind(t.destination_arn) is None:
            raise error("InvalidRepositoryTriggerDestinationArnException")
        if t.custom_data is not None and len(t.custom_data) > MAX_CUSTOM_DATA:
            raise error("InvalidRepositoryTriggerCustomDataException")
        if len(t.branches) > MAX_BRANCHES:
            raise error("MaximumBranchesExceededException")
        for branch in t.branches:
            try:
                validate_branch_name(branch)
            except ClientError:
                raise error("InvalidRepositoryTriggerBranchNameException") from None
        if not t.events:
            raise error("InvalidRepositoryTriggerEventsException", "empty")
        if any(e not in EVENTS for e in t.events) or ("all" in t.events and len(t.events) > 1):
            raise error("InvalidRepositoryTriggerEventsException")


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
                raise error("RepositoryDoesNotExistException", name=repo.name)
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
