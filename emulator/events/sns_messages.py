"""What ccemu's SNS sends: the JSON bodies and headers of SubscriptionConfirmation and
Notification messages to HTTP(S) endpoints, and the event a Lambda function receives.

Shapes follow AWS's "HTTP/HTTPS subscription confirmation / notification JSON format" and the
Lambda "Using AWS Lambda with Amazon SNS" event: key order as AWS documents it, `Subject` only when
the message has one (`null` in the Lambda event), timestamps in milliseconds, Zulu.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from emulator.events.sns_signing import CERT_PATH, Signer

USER_AGENT = "Amazon Simple Notification Service Agent"
CONTENT_TYPE = "text/plain; charset=UTF-8"


@dataclass(frozen=True)
class MessageAttribute:
    data_type: str  # String, String.Array, Number, Binary
    value: str  # binary values base64-encoded, as SNS shows them


def sns_timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def subscribe_url(base: str, topic_arn: str, token: str) -> str:
    query = urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": token})
    return f"{base}/?{query}"


def unsubscribe_url(base: str, subscription_arn: str) -> str:
    return f"{base}/?{urlencode({'Action': 'Unsubscribe', 'SubscriptionArn': subscription_arn})}"


def confirmation(
    signer: Signer, base: str, topic_arn: str, message_id: str, token: str, when: datetime
) -> dict[str, str]:
    url = subscribe_url(base, topic_arn, token)
    message: dict[str, str] = {
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        ),
        "SubscribeURL": url,
        "Timestamp": sns_timestamp(when),
        "SignatureVersion": "2",
    }
    message["Signature"] = signer.sign(message)
    message["SigningCertURL"] = base + CERT_PATH
    return message


def notification(
    signer: Signer,
    base: str,
    *,
    topic_arn: str,
    subscription_arn: str,
    message_id: str,
    message: str,
    subject: str | None,
    when: datetime,
    attributes: Mapping[str, MessageAttribute],
) -> dict[str, object]:
    body: dict[str, object] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_arn,
    }
    if subject is not None:
        body["Subject"] = subject
    body["Message"] = message
    body["Timestamp"] = sns_timestamp(when)
    body["SignatureVersion"] = "2"
    body["Signature"] = signer.sign(body)
    body["SigningCertURL"] = base + CERT_PATH
    body["UnsubscribeURL"] = unsubscribe_url(base, subscription_arn)
    if attributes:
        body["MessageAttributes"] = {
            name: {"Type": a.data_type, "Value": a.value} for name, a in attributes.items()
        }
    return body


def http_headers(
    kind: str, message_id: str, topic_arn: str, subscription_arn: str | None
) -> dict[str, str]:
    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": USER_AGENT,
        "x-amz-sns-message-type": kind,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic_arn,
    }
    if subscription_arn is not None:
        headers["x-amz-sns-subscription-arn"] = subscription_arn
    return headers


def lambda_event(subscription_arn: str, envelope: Mapping[str, object]) -> dict[str, object]:
    """The event SNS invokes a subscribed function with."""
    sns: dict[str, object] = {
        "Type": envelope["Type"],
        "MessageId": envelope["MessageId"],
        "TopicArn": envelope["TopicArn"],
        "Subject": envelope.get("Subject"),
        "Message": envelope["Message"],
        "Timestamp": envelope["Timestamp"],
        "SignatureVersion": envelope["SignatureVersion"],
        "Signature": envelope["Signature"],
        "SigningCertUrl": envelope["SigningCertURL"],
        "UnsubscribeUrl": envelope["UnsubscribeURL"],
        "MessageAttributes": envelope.get("MessageAttributes", {}),
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": sns,
            }
        ]
    }


def to_bytes(doc: Mapping[str, object]) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()
