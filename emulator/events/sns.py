"""A local SNS: topics, subscriptions (http, https, lambda) and publishing through the outbox.

An HTTP(S) subscription starts unconfirmed: Subscribe queues a SubscriptionConfirmation to the
endpoint, and only `confirm` (ConfirmSubscription, or a GET of the SubscribeURL) makes it receive
notifications. A Lambda subscription is confirmed at once, as on AWS.

`fanout(conn, ...)` builds one delivery per confirmed subscription inside the caller's
transaction, which is how repository triggers publish; `publish` is the API's Publish.
Errors carry SNS's query-protocol codes (`NotFound`, `InvalidParameter`).
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from emulator.errors import ClientError, client_error
from emulator.events import sns_messages as msgs
from emulator.events.http_client import check_url
from emulator.events.lambdas import LAMBDA_ARN, LambdaMap
from emulator.events.outbox import LAMBDA, SNS_HTTP, NewDelivery, NewEvent, Outbox
from emulator.events.policy import (
    DEFAULT_POLICY,
    InvalidPolicy,
    RetryPolicy,
    effective_topic_policy,
    subscription_policy,
    topic_policy,
)
from emulator.events.sns_signing import Signer
from emulator.state.db import Database

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TOPIC_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256})$")
PROTOCOLS = ("http", "https", "lambda")
MAX_MESSAGE = 256 * 1024
MAX_SUBJECT = 100
TOPIC_ATTRIBUTES = ("DeliveryPolicy", "DisplayName", "Policy")
SUBSCRIPTION_ATTRIBUTES = ("DeliveryPolicy", "RawMessageDelivery")
PENDING_ARN = "PendingConfirmation"


def invalid(message: str) -> ClientError:
    return client_error("InvalidParameter", f"Invalid parameter: {message}")


def not_found(message: str) -> ClientError:
    return client_error("NotFound", message, 404)


@dataclass(frozen=True)
class Topic:
    arn: str
    account: str
    region: str
    name: str
    attributes: Mapping[str, str]
    created: datetime


@dataclass(frozen=True)
class Subscription:
    arn: str
    topic_arn: str
    account: str
    protocol: str
    endpoint: str
    confirmed: bool
    token: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class Published:
    message_id: str
    deliveries: Sequence[NewDelivery] = field(default_factory=tuple)
    topic_exists: bool = True


def topic_arn_parts(arn: str) -> tuple[str, str, str] | None:
    m = TOPIC_ARN.match(arn)
    return None if m is None else (m.group(1), m.group(2), m.group(3))


def _sub(row: Sequence[Any]) -> Subscription:
    return Subscription(
        arn=str(row[0]),
        topic_arn=str(row[1]),
        account=str(row[2]),
        protocol=str(row[3]),
        endpoint=str(row[4]),
        confirmed=bool(row[5]),
        token=str(row[6]),
        attributes=json.loads(row[7]),
    )


_SUB_COLUMNS = "arn, topic_arn, account, protocol, endpoint, confirmed, token, attributes"


class SnsService:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        signer: Signer,
        lambdas: LambdaMap,
        base_url: Callable[[], str],
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.signer = signer
        self.lambdas = lambdas
        self.base_url = base_url

    # -- topics -----------------------------------------------------------------------------

    def create_topic(
        self, account: str, region: str, name: str, attributes: Mapping[str, str] | None = None
    ) -> Topic:
        if name.endswith(".fifo"):
            raise invalid("FIFO topics are not supported by ccemu")
        if not TOPIC_NAME.match(name):
            raise invalid(
                "Topic Name: names must be 1-256 letters, digits, hyphens and underscores"
            )
        attrs = self._checked_topic_attributes(attributes or {})
        arn = f"arn:aws:sns:{region}:{account}:{name}"
        with self.db.transaction() as conn:
            # CreateTopic is idempotent: the same name answers the same topic.
            conn.execute(
                "INSERT OR IGNORE INTO sns_topics (arn, account, region, name, attributes,"
                " created) VALUES (?, ?, ?, ?, ?, ?)",
                (arn, account, region, name, json.dumps(attrs), time.time()),
            )
        return self.topic(arn)

    def _checked_topic_attributes(self, attributes: Mapping[str, str]) -> dict[str, str]:
        out = {}
        for key, value in attributes.items():
            if key not in TOPIC_ATTRIBUTES:
                raise invalid(f"AttributeName: {key} is not supported by ccemu")
            if key == "DeliveryPolicy" and value:
                try:
                    topic_policy(value)
                except InvalidPolicy as exc:
                    raise invalid(f"DeliveryPolicy: {exc}") from None
            out[key] = value
        return out

    def find_topic(self, arn: str) -> Topic | None:
        row = (
            self.db.read()
            .execute(
                "SELECT arn, account, region, name, attributes, created FROM sns_topics"
                " WHERE arn = ?",
                (arn,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return Topic(
            str(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            json.loads(row[4]),
            datetime.fromtimestamp(float(row[5]), UTC),
        )

    def topic(self, arn: str) -> Topic:
        if topic_arn_parts(arn) is None:
            raise invalid("TopicArn")
        found = self.find_topic(arn)
        if found is None:
            raise not_found("Topic does not exist")
        return found

    def list_topics(self, account: str, region: str) -> list[str]:
        rows = (
            self.db.read()
            .execute(
                "SELECT arn FROM sns_topics WHERE account = ? AND region = ? ORDER BY arn",
                (account, region),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def delete_topic(self, arn: str) -> None:
        if topic_arn_parts(arn) is None:
            raise invalid("TopicArn")
        # Deleting a topic that does not exist succeeds, as on AWS.
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))

    def topic_attributes(self, arn: str) -> dict[str, str]:
        topic = self.topic(arn)
        subs = self.subscriptions_of(arn)
        attrs = {
            "TopicArn": topic.arn,
            "Owner": topic.account,
            "DisplayName": topic.attributes.get("DisplayName", ""),
            "SubscriptionsConfirmed": str(sum(s.confirmed for s in subs)),
            "SubscriptionsPending": str(sum(not s.confirmed for s in subs)),
            "SubscriptionsDeleted": "0",
            "EffectiveDeliveryPolicy": effective_topic_policy(
                topic.attributes.get("DeliveryPolicy")
            ),
        }
        for key in ("Policy", "DeliveryPolicy"):
            if topic.attributes.get(key):
                attrs[key] = topic.attributes[key]
        return attrs

    def set_topic_attribute(self, arn: str, name: str, value: str | None) -> None:
        topic = self.topic(arn)
        checked = self._checked_topic_attributes({name: value or ""})
        attrs = {**topic.attributes, **checked}
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sns_topics SET attributes = ? WHERE arn = ?", (json.dumps(attrs), arn)
            )

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(
        self,
        account: str,
        topic_arn: str,
        protocol: str,
        endpoint: str | None,
        attributes: Mapping[str, str] | None = None,
    ) -> Subscription:
        topic = self.topic(topic_arn)
        protocol = protocol.lower()
        if protocol not in PROTOCOLS:
            raise invalid(f"Invalid protocol type: {protocol} (ccemu serves http, https, lambda)")
        if not endpoint:
            raise invalid("Endpoint")
        if protocol in ("http", "https"):
            try:
                check_url(endpoint)
            except ValueError:
                raise invalid(f"Endpoint: {endpoint[:200]}") from None
            if not endpoint.lower().startswith(protocol + "://"):
                raise invalid(f"Endpoint must match the specified protocol ({protocol})")
        elif LAMBDA_ARN.match(endpoint) is None:
            raise invalid("Endpoint: not a Lambda function ARN")
        attrs = {}
        for key, value in (attributes or {}).items():
            if key not in SUBSCRIPTION_ATTRIBUTES:
                raise invalid(f"Attributes Reason: Unknown attribute {key}")
            attrs[key] = self._checked_subscription_attribute(key, value)
        confirmed = protocol == "lambda"
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE topic_arn = ?"
                " AND protocol = ? AND endpoint = ?",
                (topic.arn, protocol, endpoint),
            ).fetchone()
            if row is not None:
                sub = _sub(row)
            else:
                sub = Subscription(
                    arn=f"{topic.arn}:{uuid.uuid4()}",
                    topic_arn=topic.arn,
                    account=account,
                    protocol=protocol,
                    endpoint=endpoint,
                    confirmed=confirmed,
                    token=secrets.token_hex(64),
                    attributes=attrs,
                )
                conn.execute(
                    f"INSERT INTO sns_subscriptions ({_SUB_COLUMNS}, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sub.arn,
                        sub.topic_arn,
                        sub.account,
                        sub.protocol,
                        sub.endpoint,
                        int(sub.confirmed),
                        sub.token,
                        json.dumps(attrs),
                        time.time(),
                    ),
                )
            if not sub.confirmed:
                # An unconfirmed subscription gets (another) confirmation request, as on AWS.
                self._send_confirmation(conn, topic, sub)
        return sub

    def _checked_subscription_attribute(self, key: str, value: str) -> str:
        if key == "DeliveryPolicy" and value:
            try:
                subscription_policy(value, DEFAULT_POLICY)
            except InvalidPolicy as exc:
                raise invalid(f"DeliveryPolicy: {exc}") from None
        if key == "RawMessageDelivery" and value.lower() not in ("true", "false"):
            raise invalid("RawMessageDelivery: must be true or false")
        return value

    def _send_confirmation(self, conn: sqlite3.Connection, topic: Topic, sub: Subscription) -> None:
        message_id = str(uuid.uuid4())
        base = self.base_url()
        body = msgs.confirmation(
            self.signer, base, topic.arn, message_id, sub.token, datetime.now(UTC)
        )
        region, account, _ = topic_arn_parts(topic.arn) or ("", "", "")
        self.outbox.enqueue(
            conn,
            NewEvent(
                kind="sns-subscription-confirmation",
                account=account,
                region=region,
                detail={"topicArn": topic.arn, "endpoint": sub.endpoint},
            ),
            [
                NewDelivery(
                    kind=SNS_HTTP,
                    destination=sub.arn,
                    url=sub.endpoint,
                    body=msgs.to_bytes(body),
                    headers=msgs.http_headers(
                        "SubscriptionConfirmation", message_id, topic.arn, None
                    ),
                    policy=self._retry_policy(topic, sub),
                    message_id=message_id,
                    source=topic.arn,
                )
            ],
        )

    def confirm(self, topic_arn: str, token: str) -> Subscription:
        self.topic(topic_arn)
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE topic_arn = ? AND token = ?",
                (topic_arn, token),
            ).fetchone()
            if row is None:
                raise invalid("Token")
            conn.execute("UPDATE sns_subscriptions SET confirmed = 1 WHERE arn = ?", (row[0],))
        return _sub(row)

    def unsubscribe(self, subscription_arn: str) -> Subscription:
        with self.db.transaction() as conn:
            row = conn.execute(
                f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE arn = ?",
                (subscription_arn,),
            ).fetchone()
            if row is None:
                raise not_found("Subscription does not exist")
            conn.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (subscription_arn,))
        return _sub(row)

    def subscription(self, arn: str) -> Subscription:
        row = (
            self.db.read()
            .execute(f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE arn = ?", (arn,))
            .fetchone()
        )
        if row is None:
            raise not_found("Subscription does not exist")
        return _sub(row)

    def set_subscription_attribute(self, arn: str, name: str, value: str) -> None:
        sub = self.subscription(arn)
        if name not in SUBSCRIPTION_ATTRIBUTES:
            raise invalid(f"AttributeName: {name} is not supported by ccemu")
        attrs = {**sub.attributes, name: self._checked_subscription_attribute(name, value)}
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sns_subscriptions SET attributes = ? WHERE arn = ?",
                (json.dumps(attrs), arn),
            )

    def subscriptions_of(
        self, topic_arn: str, conn: sqlite3.Connection | None = None
    ) -> list[Subscription]:
        rows = (conn or self.db.read()).execute(
            f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE topic_arn = ?"
            " ORDER BY created, arn",
            (topic_arn,),
        )
        return [_sub(r) for r in rows]

    def list_subscriptions(self, account: str, region: str) -> list[Subscription]:
        rows = self.db.read().execute(
            f"SELECT {', '.join('s.' + c for c in _SUB_COLUMNS.split(', '))}"
            " FROM sns_subscriptions s JOIN sns_topics t ON t.arn = s.topic_arn"
            " WHERE t.account = ? AND t.region = ? ORDER BY s.created, s.arn",
            (account, region),
        )
        return [_sub(r) for r in rows]

    # -- publishing -------------------------------------------------------------------------

    def _retry_policy(self, topic: Topic, sub: Subscription) -> RetryPolicy:
        try:
            base, locked = topic_policy(topic.attributes.get("DeliveryPolicy"))
            if locked:
                return base
            return subscription_policy(sub.attributes.get("DeliveryPolicy"), base)
        except InvalidPolicy:
            return DEFAULT_POLICY

    def fanout(
        self,
        conn: sqlite3.Connection,
        topic_arn: str,
        message: str | Mapping[str, str],
        subject: str | None = None,
        attributes: Mapping[str, msgs.MessageAttribute] | None = None,
        *,
        order_scope: str | None = None,
        source: str | None = None,
    ) -> Published:
        """One delivery per confirmed subscription of the topic, built in `conn`'s transaction.
        `message` is a string, or per-protocol strings with a `default` (MessageStructure=json).
        With `order_scope` (a repository id), each subscription's deliveries keep their order."""
        row = conn.execute(
            "SELECT attributes FROM sns_topics WHERE arn = ?", (topic_arn,)
        ).fetchone()
        message_id = str(uuid.uuid4())
        if row is None:
            return Published(message_id, topic_exists=False)
        parts = topic_arn_parts(topic_arn) or ("", "", "")
        topic = Topic(
            topic_arn, parts[1], parts[0], parts[2], json.loads(row[0]), datetime.now(UTC)
        )
        when = datetime.now(UTC)
        base = self.base_url()
        out = []
        for sub in self.subscriptions_of(topic_arn, conn):
            if not sub.confirmed:
                continue  # nothing is delivered before confirmation
            text = (
                message
                if isinstance(message, str)
                else message.get(sub.protocol, message.get("default", ""))
            )
            envelope = msgs.notification(
                self.signer,
                base,
                topic_arn=topic_arn,
                subscription_arn=sub.arn,
                message_id=message_id,
                message=text,
                subject=subject,
                when=when,
                attributes=attributes or {},
            )
            order_key = None if order_scope is None else f"{sub.arn}|{order_scope}"
            if sub.protocol == "lambda":
                url = self.lambdas.url(sub.endpoint)
                out.append(
                    NewDelivery(
                        kind=LAMBDA,
                        destination=sub.endpoint,
                        url=url or "",
                        body=msgs.to_bytes(msgs.lambda_event(sub.arn, envelope)),
                        headers={"Content-Type": "application/json"},
                        policy=self._retry_policy(topic, sub),
                        message_id=message_id,
                        source=topic_arn,
                        order_key=order_key,
                        refused=None if url else f"no URL is mapped to {sub.endpoint}",
                    )
                )
                continue
            raw = sub.attributes.get("RawMessageDelivery", "false").lower() == "true"
            headers = msgs.http_headers("Notification", message_id, topic_arn, sub.arn)
            if raw:
                headers["x-amz-sns-rawdelivery"] = "true"
            out.append(
                NewDelivery(
                    kind=SNS_HTTP,
                    destination=sub.arn,
                    url=sub.endpoint,
                    body=text.encode() if raw else msgs.to_bytes(envelope),
                    headers=headers,
                    policy=self._retry_policy(topic, sub),
                    message_id=message_id,
                    source=source or topic_arn,
                    order_key=order_key,
                )
            )
        return Published(message_id, out)

    def publish(
        self,
        account: str,
        topic_arn: str,
        message: str,
        subject: str | None = None,
        attributes: Mapping[str, msgs.MessageAttribute] | None = None,
        structure: str | None = None,
    ) -> str:
        self.topic(topic_arn)
        if len(message.encode()) > MAX_MESSAGE:
            raise invalid("Message too long")
        if subject is not None and (
            not subject or len(subject) > MAX_SUBJECT or any(c in subject for c in "\r\n")
        ):
            raise invalid("Subject")
        body: str | Mapping[str, str] = message
        if structure is not None:
            if structure != "json":
                raise invalid("MessageStructure")
            try:
                doc = json.loads(message)
            except ValueError:
                raise invalid("Message Structure - JSON message body failed to parse") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("default"), str):
                raise invalid("Message Structure - No default entry in JSON message body")
            body = {str(k): str(v) for k, v in doc.items()}
        region, _, _ = topic_arn_parts(topic_arn) or ("", "", "")
        with self.db.transaction() as conn:
            published = self.fanout(conn, topic_arn, body, subject, attributes)
            self.outbox.enqueue(
                conn,
                NewEvent(
                    kind="sns-publish",
                    account=account,
                    region=region,
                    detail={"topicArn": topic_arn, "messageId": published.message_id},
                ),
                published.deliveries,
            )
        return published.message_id
