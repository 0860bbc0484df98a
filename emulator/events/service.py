"""The events core: what happens when refs change, and the pieces the doors use.

`EventService.on_ref_change` is registered as a ref listener of the repository service, so it
runs inside the transaction that moves the refs: the event and every delivery it causes (trigger
records to SNS subscribers and Lambda URLs, EventBridge-style events to webhooks) are written
with the ref update or not at all. The worker delivers them after the commit.

Notification rules (CodeStar Notifications) are one more producer here: each matching ENABLED
rule publishes to its SNS topics through `SnsService.fanout`, in the same listener.

Events other than ref changes go through `publish`: one EventBridge-style event (to the
webhooks) with the notification event type it fires (to the rules), written in the caller's
transaction. `on_pull_request_change` is registered as a listener of the pull request service
and publishes "CodeCommit Pull Request State Change" events (`pull_request_events`);
`on_comment` publishes comment events ("CodeCommit Comment on Pull Request" / "... on Commit",
event types `codecommit-repository-comments-on-*`, `comment_events`) the same way, inside the
transaction that stores the comment.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from emulator.events.comment_events import comment_event
from emulator.events.comment_events import event_type_id as comment_event_type
from emulator.events.eventbridge import WebhookStore, state_change
from emulator.events.lambdas import LAMBDA_ARN, LambdaMap
from emulator.events.notifications import NotificationService, notification, wants
from emulator.events.notifications import matches as rule_matches
from emulator.events.notifications import message as rule_message
from emulator.events.outbox import LAMBDA, SNS_TOPIC, WEBHOOK, NewDelivery, NewEvent, Outbox
from emulator.events.policy import DEFAULT_POLICY
from emulator.events.pull_request_events import event_type_id
from emulator.events.pull_request_events import state_change as pr_state_change
from emulator.events.sns import SnsService, topic_arn_parts
from emulator.events.sns_signing import Signer
from emulator.events.triggers import (
    Trigger,
    TriggerStore,
    matches,
    record,
    reference,
    validate,
)
from emulator.events.worker import DeliveryWorker
from emulator.repos.comment_model import Comment
from emulator.repos.model import RefUpdate, Repository
from emulator.repos.pull_request_model import PullRequestChange
from emulator.state.db import Database

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class EventSettings:
    data_dir: Path
    lambda_endpoints: Sequence[tuple[str, str]] = ()
    webhooks: Sequence[str] = ()
    retry_scale: float = 1.0
    timeout: float = 15.0


@dataclass(frozen=True)
class TestResult:
    succeeded: Sequence[str]
    failed: Sequence[tuple[str, str]]  # (trigger name, why)


class EventService:
    def __init__(self, db: Database, settings: EventSettings, base_url: Callable[[], str]) -> None:
        self.db = db
        self.outbox = Outbox(db)
        self.lambdas = LambdaMap(settings.lambda_endpoints)
        self.signer = Signer(settings.data_dir)
        self.sns = SnsService(db, self.outbox, self.signer, self.lambdas, base_url)
        self.triggers = TriggerStore(db)
        self.webhooks = WebhookStore(db, settings.webhooks)
        self.notifications = NotificationService(db, self._topic_problem)
        self.worker = DeliveryWorker(
            self.outbox, retry_scale=settings.retry_scale, timeout=settings.timeout
        )

    def start(self) -> None:
        """Start delivering; deliveries left pending by the last run are resumed."""
        self.worker.start()

    def close(self) -> None:
        self.worker.stop()

    def _topic_problem(self, arn: str) -> str | None:
        if topic_arn_parts(arn) is None or self.sns.find_topic(arn) is None:
            return "the Amazon SNS topic does not exist"
        return None

    # -- triggers ---------------------------------------------------------------------------

    def destination_problem(self, arn: str) -> str | None:
        """Why a delivery to `arn` cannot be made here, or None (TestRepositoryTriggers reports
        it as a failed execution; a real event records it as a failed delivery)."""
        if arn.split(":")[2:3] == ["sns"]:
            if topic_arn_parts(arn) is None or self.sns.find_topic(arn) is None:
                return "the Amazon SNS topic does not exist"
            return None
        if LAMBDA_ARN.match(arn) is None:
            return "it is not a Lambda function ARN"
        if self.lambdas.url(arn) is None:
            return "no URL is mapped to this Lambda function (see --lambda-endpoints)"
        return None

    def put_triggers(self, repo: Repository, triggers: Sequence[Trigger]) -> str:
        # As CodeCommit does, any well-formed topic or function ARN is accepted, mapped or
        # not, of this account or another: deliveries that cannot be made are recorded as
        # failed, with the reason, when an event happens.
        validate(triggers, repo)
        return self.triggers.put(repo, triggers)

    def _deliveries_for(
        self,
        conn: sqlite3.Connection,
        repo: Repository,
        trigger: Trigger,
        payload: dict[str, object],
        *,
        ordered: bool,
    ) -> list[NewDelivery]:
        body = json.dumps(payload)
        arn = trigger.destination_arn
        if arn.split(":")[2:3] == ["sns"]:
            published = self.sns.fanout(
                conn, arn, body, order_scope=repo.id if ordered else None, source=trigger.name
            )
            if not published.topic_exists:
                # Recorded as a failed delivery, as CodeCommit's publish to it would fail.
                return [
                    NewDelivery(
                        kind=SNS_TOPIC,
                        destination=arn,
                        url="",
                        body=body.encode(),
                        headers=JSON_HEADERS,
                        policy=DEFAULT_POLICY,
                        source=trigger.name,
                        refused=f"the Amazon SNS topic {arn} does not exist",
                    )
                ]
            return list(published.deliveries)
        url = self.lambdas.url(arn)
        return [
            NewDelivery(
                kind=LAMBDA,
                destination=arn,
                url=url or "",
                body=body.encode(),
                headers=JSON_HEADERS,
                policy=DEFAULT_POLICY,
                source=trigger.name,
                order_key=f"{arn}|{repo.id}" if ordered else None,
                refused=None if url else f"no URL is mapped to {arn}",
            )
        ]

    def test_triggers(
        self, repo: Repository, triggers: Sequence[Trigger], actor: str, refs: dict[bytes, bytes]
    ) -> TestResult:
        """TestRepositoryTriggers: validate, then send each trigger a `TriggerEventTest` record
        for the default branch (or the trigger's first branch) through the outbox."""
        validate(triggers, repo)
        ok: list[str] = []
        failed: list[tuple[str, str]] = []
        now = datetime.now(UTC)
        with self.db.transaction() as conn:
            config_id = self.triggers.get(repo, conn).configuration_id
            for t in triggers:
                problem = self.destination_problem(t.destination_arn)
                if problem is not None:
                    failed.append((t.name, f"The destination {t.destination_arn}: {problem}."))
                    continue
                branch = repo.default_branch or (t.branches[0] if t.branches else "main")
                name = f"refs/heads/{branch}".encode()
                sha = refs.get(name) or (next(iter(refs.values()), b"0" * 40))
                ref: dict[str, object] = {"commit": sha.decode(), "ref": name.decode()}
                payload = record(t, config_id, repo, [ref], actor, now, test=True)
                self.outbox.enqueue(
                    conn,
                    NewEvent(
                        kind="trigger-test",
                        account=repo.account,
                        region=repo.region,
                        repository=repo.name,
                        repo_id=repo.id,
                        actor=actor,
                        detail={"trigger": t.name, "destinationArn": t.destination_arn},
                    ),
                    self._deliveries_for(conn, repo, t, payload, ordered=False),
                )
                ok.append(t.name)
        return TestResult(ok, failed)

    # -- the ref listener -------------------------------------------------------------------

    def on_ref_change(
        self,
        conn: sqlite3.Connection,
        repo: Repository,
        updates: Sequence[RefUpdate],
        actor: str | None,
    ) -> None:
        """Write the event of these ref changes and its deliveries, in the ref transaction."""
        who = actor or f"arn:aws:iam::{repo.account}:root"
        now = datetime.now(UTC)
        deliveries: list[NewDelivery] = []
        config = self.triggers.get(repo, conn)
        for trigger in config.triggers:
            refs = [reference(u) for u in updates if matches(trigger, u)]
            if not refs:
                continue
            payload = record(trigger, config.configuration_id, repo, refs, who, now)
            deliveries.extend(self._deliveries_for(conn, repo, trigger, payload, ordered=True))
        for rule in self.notifications.enabled_rules(conn, repo):
            for update in updates:
                if not rule_matches(rule, update):
                    continue
                doc = rule_message(rule, repo, update, who, now)
                if doc is None:
                    continue
                text = json.dumps(doc)
                for target in rule.targets:
                    published = self.sns.fanout(
                        conn, target.address, text, order_scope=repo.id, source=rule.arn
                    )
                    deliveries.extend(published.deliveries)
        for update in updates:
            doc = state_change(repo, update, who, now)
            if doc is not None:
                deliveries.extend(self._webhook_deliveries(conn, repo, doc))
        self.outbox.enqueue(
            conn,
            NewEvent(
                kind="reference-changes",
                account=repo.account,
                region=repo.region,
                repository=repo.name,
                repo_id=repo.id,
                actor=who,
                detail={
                    "references": [
                        {
                            "ref": u.name.decode("utf-8", "replace"),
                            "oldCommitId": u.old.decode(),
                            "commitId": u.new.decode(),
                        }
                        for u in updates
                    ]
                },
            ),
            deliveries,
        )

    def _webhook_deliveries(
        self, conn: sqlite3.Connection, repo: Repository, doc: dict[str, object]
    ) -> list[NewDelivery]:
        body = json.dumps(doc).encode()
        return [
            NewDelivery(
                kind=WEBHOOK,
                destination=hook.url,
                url=hook.url,
                body=body,
                headers=JSON_HEADERS,
                policy=DEFAULT_POLICY,
                message_id=str(doc["id"]),
                source=hook.id,
                order_key=f"{hook.url}|{repo.id}",
            )
            for hook in self.webhooks.all(conn)
        ]

    # -- other events -----------------------------------------------------------------------

    def publish(
        self,
        conn: sqlite3.Connection,
        repo: Repository,
        doc: dict[str, object],
        event_type: str | None,
        *,
        kind: str,
        actor: str,
        summary: dict[str, object],
    ) -> None:
        """Write one EventBridge-style event `doc` about `repo` and its deliveries in the
        caller's transaction: to every webhook, and to the SNS targets of every ENABLED
        notification rule of the repository that wants `event_type` (a
        `codecommit-repository-*` id; None: rules get nothing). `kind` and `summary` are what
        the event log (`/_ccemu/events`) shows of it."""
        deliveries: list[NewDelivery] = []
        if event_type is not None:
            for rule in self.notifications.enabled_rules(conn, repo):
                if not wants(rule, event_type):
                    continue
                text = json.dumps(notification(rule, doc))
                for target in rule.targets:
                    published = self.sns.fanout(
                        conn, target.address, text, order_scope=repo.id, source=rule.arn
                    )
                    deliveries.extend(published.deliveries)
        deliveries.extend(self._webhook_deliveries(conn, repo, doc))
        self.outbox.enqueue(
            conn,
            NewEvent(
                kind=kind,
                account=repo.account,
                region=repo.region,
                repository=repo.name,
                repo_id=repo.id,
                actor=actor,
                detail=summary,
            ),
            deliveries,
        )

    def on_pull_request_change(self, conn: sqlite3.Connection, change: PullRequestChange) -> None:
        """The pull request service's listener: publish the event of one pull request event,
        in the transaction that records it."""
        doc = pr_state_change(change)
        if doc is None:
            return
        detail = doc["detail"]
        assert isinstance(detail, dict)
        self.publish(
            conn,
            change.repository,
            doc,
            event_type_id(change),
            kind="pull-request",
            actor=change.actor,
            summary={"pullRequestId": change.pull_request.id, "event": detail["event"]},
        )

    def on_comment(
        self, conn: sqlite3.Connection, repo: Repository, comment: Comment, what: str
    ) -> None:
        """Publish the event of a comment posted, replied or edited (`what`) in `repo`, in the
        transaction that stores it."""
        doc = comment_event(repo, comment, what)
        detail = doc["detail"]
        assert isinstance(detail, dict)
        self.publish(
            conn,
            repo,
            doc,
            comment_event_type(comment),
            kind="comment",
            actor=comment.author,
            summary={"commentId": comment.id, "event": detail["event"]},
        )
