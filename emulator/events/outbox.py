"""The outbox: events, the deliveries they cause and every attempt, in the state database.

A producer calls `Outbox.enqueue(conn, ...)` inside its own transaction, so a delivery exists
exactly when what caused it committed. `DeliveryWorker` takes due deliveries from here and
records each attempt back.

Order: deliveries that share an `order_key` (one destination, one repository) go out one at a
time in the order they were written; a later one waits until every earlier one is delivered or
dead. Deliveries without a key are independent.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.events.policy import RetryPolicy
from emulator.events.schema import SCHEMA
from emulator.state.db import Database

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

# Destination kinds: an SNS HTTP(S) subscription, a Lambda function's URL, an EventBridge-style
# webhook, and an SNS topic itself (recorded only when a publish to it fails: a trigger naming
# a topic that does not exist).
SNS_HTTP, LAMBDA, WEBHOOK, SNS_TOPIC = "sns-http", "lambda", "webhook", "sns-topic"


@dataclass(frozen=True)
class NewEvent:
    kind: str
    account: str
    region: str
    repository: str | None = None
    repo_id: str | None = None
    actor: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class NewDelivery:
    kind: str
    destination: str  # an ARN (topic subscription, Lambda) or the webhook's URL
    url: str
    body: bytes
    headers: Mapping[str, str]
    policy: RetryPolicy
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    source: str | None = None  # what produced it: a trigger name, a topic ARN, a webhook id
    order_key: str | None = None
    # Set when the delivery cannot even be tried (e.g. an unmapped Lambda ARN): it is parked
    # as dead at once, with this as its only attempt's error.
    refused: str | None = None


@dataclass(frozen=True)
class Attempt:
    number: int
    started: datetime
    duration: float
    status: int | None
    error: str | None


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    kind: str
    source: str | None
    destination: str
    url: str
    body: bytes
    headers: Mapping[str, str]
    message_id: str
    order_key: str | None
    policy: RetryPolicy
    state: str
    attempts: int
    next_attempt: datetime
    created: datetime
    finished: datetime | None


@dataclass(frozen=True)
class Event:
    id: str
    kind: str
    account: str
    region: str
    repository: str | None
    actor: str | None
    created: datetime
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class EventLog:
    event: Event
    deliveries: Sequence[tuple[Delivery, Sequence[Attempt]]]


def _dt(value: object) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]


_DELIVERY_COLUMNS = (
    "id, event_id, kind, source, destination, url, body, headers, message_id, order_key, policy,"
    " state, attempts, next_attempt, created, finished"
)


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        id=int(row[0]),
        event_id=str(row[1]),
        kind=str(row[2]),
        source=None if row[3] is None else str(row[3]),
        destination=str(row[4]),
        url=str(row[5]),
        body=bytes(row[6]),
        headers=json.loads(row[7]),
        message_id=str(row[8]),
        order_key=None if row[9] is None else str(row[9]),
        policy=RetryPolicy.from_json(row[10]),
        state=str(row[11]),
        attempts=int(row[12]),
        next_attempt=_dt(row[13]),
        created=_dt(row[14]),
        finished=None if row[15] is None else _dt(row[15]),
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        # The worker sleeps on this; producers and the worker itself notify it.
        self.changed = threading.Condition()
        self.poked_at = 0.0

    def poke(self) -> None:
        """Wake the worker: something may be due. Called by producers, possibly before their
        transaction commits, so the worker looks again shortly after a poke."""
        with self.changed:
            self.poked_at = time.monotonic()
            self.changed.notify_all()

    # -- writing ----------------------------------------------------------------------------

    def enqueue(
        self, conn: sqlite3.Connection, event: NewEvent, deliveries: Iterable[NewDelivery]
    ) -> str:
        """Write an event and its deliveries in the caller's transaction; returns the event id."""
        now = time.time()
        conn.execute(
            "INSERT INTO events (id, kind, account, region, repository, repo_id, actor, created,"
            " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.id,
                event.kind,
                event.account,
                event.region,
                event.repository,
                event.repo_id,
                event.actor,
                now,
                json.dumps(event.detail, separators=(",", ":")),
            ),
        )
        any_pending = False
        for d in deliveries:
            state = DEAD if d.refused is not None else PENDING
            cur = conn.execute(
                f"INSERT INTO deliveries ({_DELIVERY_COLUMNS.split(', ', 1)[1]})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    d.kind,
                    d.source,
                    d.destination,
                    d.url,
                    d.body,
                    json.dumps(dict(d.headers)),
                    d.message_id,
                    d.order_key,
                    d.policy.to_json(),
                    state,
                    0 if d.refused is None else 1,
                    now,
                    now,
                    None if d.refused is None else now,
                ),
            )
            if d.refused is not None:
                conn.execute(
                    "INSERT INTO delivery_attempts (delivery_id, number, started, duration,"
                    " status, error) VALUES (?, 1, ?, 0, NULL, ?)",
                    (cur.lastrowid, now, d.refused),
                )
            else:
                any_pending = True
        if any_pending:
            self.poke()
        return event.id

    def record(
        self,
        delivery: Delivery,
        started: float,
        duration: float,
        status: int | None,
        error: str | None,
        state: str,
        next_attempt: float,
    ) -> None:
        """Record one attempt and the delivery's new state."""
        with self.db.transaction() as conn:
            (last,) = conn.execute(
                "SELECT COALESCE(MAX(number), 0) FROM delivery_attempts WHERE delivery_id = ?",
                (delivery.id,),
            ).fetchone()
            conn.execute(
                "INSERT INTO delivery_attempts (delivery_id, number, started, duration, status,"
                " error) VALUES (?, ?, ?, ?, ?, ?)",
                (delivery.id, last + 1, started, duration, status, error),
            )
            conn.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt = ?,"
                " finished = ? WHERE id = ?",
                (
                    state,
                    next_attempt,
                    None if state == PENDING else time.time(),
                    delivery.id,
                ),
            )
        with self.changed:
            self.changed.notify_all()

    def redeliver(self, ident: str) -> int:
        """Put a dead (or delivered) delivery, or every delivery of an event, back in the queue
        with a fresh retry budget. `ident` is a delivery id or an event id; returns how many."""
        with self.db.transaction() as conn:
            arg: tuple[object, ...]
            if ident.isdigit():
                where, arg = "id = ?", (int(ident),)
            else:
                where, arg = "event_id = ? AND state != 'pending'", (ident,)
            cur = conn.execute(
                f"UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt = ?,"
                f" finished = NULL WHERE {where} AND url != ''",
                (time.time(), *arg),
            )
            count = cur.rowcount
        if count:
            self.poke()
        return count

    # -- reading ----------------------------------------------------------------------------

    def due(self, now: float, busy: Iterable[int], limit: int = 32) -> list[Delivery]:
        """Pending deliveries whose time has come and that no earlier delivery of the same
        order key holds back, oldest first; `busy` ones (being sent) are left out, and so is
        anything queued behind them."""
        busy_ids = set(busy)
        rows = (
            self.db.read()
            .execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE state = 'pending'"
                " AND next_attempt <= ? AND (order_key IS NULL OR NOT EXISTS ("
                " SELECT 1 FROM deliveries e WHERE e.order_key = d.order_key"
                " AND e.state = 'pending' AND e.id < d.id)) ORDER BY id LIMIT ?",
                (now, limit + len(busy_ids)),
            )
            .fetchall()
        )
        return [d for d in map(_delivery, rows) if d.id not in busy_ids][:limit]

    def next_due(self) -> float | None:
        """When the earliest pending delivery becomes due (epoch seconds), if any."""
        (when,) = (
            self.db.read()
            .execute("SELECT MIN(next_attempt) FROM deliveries WHERE state = 'pending'")
            .fetchone()
        )
        return None if when is None else float(when)

    def pending_count(self) -> int:
        (count,) = (
            self.db.read()
            .execute("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
            .fetchone()
        )
        return int(count)

    def log(
        self,
        *,
        repository: str | None = None,
        since: float | None = None,
        limit: int = 1000,
        account: str | None = None,
    ) -> list[EventLog]:
        """Events (oldest first), each with its deliveries and their attempts."""
        clauses: list[str] = []
        args: list[object] = []
        if account is not None:
            clauses.append("account = ?")
            args.append(account)
        if repository is not None:
            clauses.append("repository = ?")
            args.append(repository)
        if since is not None:
            clauses.append("created >= ?")
            args.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        conn = self.db.read()
        rows = conn.execute(
            "SELECT id, kind, account, region, repository, actor, created, detail FROM ("
            f" SELECT * FROM events {where} ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (*args, limit),
        ).fetchall()
        out = []
        for row in rows:
            event = Event(
                id=str(row[0]),
                kind=str(row[1]),
                account=str(row[2]),
                region=str(row[3]),
                repository=None if row[4] is None else str(row[4]),
                actor=None if row[5] is None else str(row[5]),
                created=_dt(row[6]),
                detail=json.loads(row[7]),
            )
            deliveries = [
                _delivery(d)
                for d in conn.execute(
                    f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ? ORDER BY id",
                    (event.id,),
                )
            ]
            with_attempts = []
            for d in deliveries:
                attempts = [
                    Attempt(int(a[0]), _dt(a[1]), float(a[2]), a[3], a[4])
                    for a in conn.execute(
                        "SELECT number, started, duration, status, error FROM delivery_attempts"
                        " WHERE delivery_id = ? ORDER BY number",
                        (d.id,),
                    )
                ]
                with_attempts.append((d, attempts))
            out.append(EventLog(event, with_attempts))
        return out

    def wait_idle(self, timeout: float) -> bool:
        """Block until no delivery is pending (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.pending_count() == 0:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self.changed:
                self.changed.wait(min(left, 0.05))

    def dead_letters(self, limit: int = 1000, account: str | None = None) -> list[Delivery]:
        """Deliveries that finally failed, newest first: the dead-letter list (of the events
        of `account` only, when given)."""
        where, args = "", []
        if account is not None:
            where, args = " AND event_id IN (SELECT id FROM events WHERE account = ?)", [account]
        rows = (
            self.db.read()
            .execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE state = 'dead'{where}"
                " ORDER BY id DESC LIMIT ?",
                (*args, limit),
            )
            .fetchall()
        )
        return [_delivery(r) for r in rows]
