"""The local SNS end to end with real receivers: the confirmation handshake (SubscribeURL and
ConfirmSubscription), nothing before confirmation, signed notifications that verify with the
served certificate, a push reaching a receiver through a trigger and a topic, Lambda
subscriptions, DeliveryPolicy, and a denied or failed push sending nothing."""

from __future__ import annotations

import base64
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, MakeGitUser, Server, git, make_commits, start_server
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from events_receiver import Received, Receiver, get_json, wait_idle

FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:on-sns"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def lambda_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def sns_server(
    tmp_path_factory: pytest.TempPathFactory, lambda_receiver: Receiver
) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("sns")
    srv = start_server(
        base / "data",
        "--delivery-retry-scale",
        "0.01",
        env={"CCEMU_LAMBDA_ENDPOINTS": json.dumps({FUNCTION: lambda_receiver.url})},
    )
    yield srv
    srv.stop()


def verify_signature(server: Server, message: dict[str, Any]) -> None:
    """What SNS message validators do, from AWS's documentation: fetch SigningCertURL, build
    the canonical string of the message type's fields, check SHA256withRSA (version 2)."""
    assert message["SignatureVersion"] == "2"
    assert message["SigningCertURL"].startswith(server.url + "/")
    with urllib.request.urlopen(message["SigningCertURL"], timeout=10) as resp:
        cert = x509.load_pem_x509_certificate(resp.read())
    if message["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    canonical = "".join(f"{k}\n{message[k]}\n" for k in fields if k in message)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(
        base64.b64decode(message["Signature"]),
        canonical.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def _topic(server: Server, **attrs: str) -> tuple[Any, str]:
    sns = server.client("sns")
    arn = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}", Attributes=attrs)["TopicArn"]
    return sns, arn


def _confirmations(r: Receiver) -> list[Received]:
    return [
        q for q in r.requests if q.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    ]


def _subscribe_confirmed(server: Server, sns: Any, arn: str, r: Receiver) -> str:
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=r.url)
    (conf,) = r.wait_for(1, where=lambda q: q.json().get("TopicArn") == arn)
    with urllib.request.urlopen(conf.json()["SubscribeURL"], timeout=10) as resp:
        body = resp.read().decode()
    assert "<ConfirmSubscriptionResult><SubscriptionArn>" in body
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    return str(subs[0]["SubscriptionArn"])


def test_topics_and_attributes(sns_server: Server) -> None:
    sns, arn = _topic(sns_server)
    assert arn.startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:t-")
    assert sns.create_topic(Name=arn.rsplit(":", 1)[1])["TopicArn"] == arn  # idempotent
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn
    assert attrs["SubscriptionsPending"] == "0"
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"] == {
        "minDelayTarget": 20,
        "maxDelayTarget": 20,
        "numRetries": 3,
        "numMaxDelayRetries": 0,
        "numNoDelayRetries": 0,
        "numMinDelayRetries": 0,
        "backoffFunction": "linear",
    }
    policy = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1}}}
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=json.dumps(policy)
    )
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert json.loads(attrs["DeliveryPolicy"]) == policy
    assert (
        json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"][
            "numRetries"
        ]
        == 5
    )
    with pytest.raises(ClientError) as info:
        sns.set_topic_attributes(
            TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue="{not json"
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameter"
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_topic_attributes(TopicArn=arn)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=arn, Message="x")


def test_confirmation_by_subscribe_url_and_signed_notifications(
    sns_server: Server, receiver: Receiver
) -> None:
    sns, arn = _topic(sns_server)
    assert (
        sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=receiver.url)["SubscriptionArn"]
        == "pending confirmation"
    )
    (conf,) = receiver.wait_for(1)
    doc = conf.json()
    assert list(doc) == [
        "Type",
        "MessageId",
        "Token",
        "TopicArn",
        "Message",
        "SubscribeURL",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
    ]
    assert doc["Type"] == "SubscriptionConfirmation"
    assert doc["TopicArn"] == arn
    assert conf.headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert conf.headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert conf.headers["x-amz-sns-topic-arn"] == arn
    assert conf.headers["content-type"] == "text/plain; charset=UTF-8"
    verify_signature(sns_server, doc)
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in subs] == ["PendingConfirmation"]

    # Nothing is delivered before confirmation.
    sns.publish(TopicArn=arn, Message="too early")
    assert wait_idle(sns_server.url)["idle"]
    assert receiver.notifications() == []

    with urllib.request.urlopen(doc["SubscribeURL"], timeout=10) as resp:
        assert resp.status == 200
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    sub_arn = sub["SubscriptionArn"]
    assert sub_arn.startswith(arn + ":")
    assert sub == {
        "SubscriptionArn": sub_arn,
        "Owner": ACCOUNT,
        "Protocol": "http",
        "Endpoint": receiver.url,
        "TopicArn": arn,
    }
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"]) == ("1", "0")

    message_id = sns.publish(
        TopicArn=arn,
        Message="hello",
        Subject="greeting",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )["MessageId"]
    (note,) = receiver.wait_for(1, where=lambda q: q in receiver.notifications())
    body = note.json()
    assert body["Type"] == "Notification"
    assert body["MessageId"] == message_id
    assert body["TopicArn"] == arn
    assert body["Subject"] == "greeting"
    assert body["Message"] == "hello"
    assert body["MessageAttributes"] == {"kind": {"Type": "String", "Value": "test"}}
    assert body["UnsubscribeURL"].startswith(sns_server.url + "/?Action=Unsubscribe")
    assert note.headers["x-amz-sns-message-id"] == message_id
    assert note.headers["x-amz-sns-topic-arn"] == arn
    assert note.headers["x-amz-sns-subscription-arn"] == sub_arn
    verify_signature(sns_server, body)

    # A tampered message does not verify.
    with pytest.raises(InvalidSignature):
        verify_signature(sns_server, {**body, "Message": "hello!"})

    # The UnsubscribeURL works like AWS's.
    with urllib.request.urlopen(body["UnsubscribeURL"], timeout=10) as resp:
        assert resp.status == 200
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_confirmation_by_confirm_subscription(sns_server: Server, receiver: Receiver) -> None:
    sns, arn = _topic(sns_server)
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=receiver.url)
    (conf,) = receiver.wait_for(1)
    with pytest.raises(ClientError) as info:
        sns.confirm_subscription(TopicArn=arn, Token="0" * 128)
    assert info.value.response["Error"]["Code"] == "InvalidParameter"
    sub_arn = sns.confirm_subscription(TopicArn=arn, Token=conf.json()["Token"])["SubscriptionArn"]
    assert sub_arn in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    sns.publish(TopicArn=arn, Message="after")
    (note,) = receiver.wait_for(1, where=lambda q: q in receiver.notifications())
    assert note.json()["Message"] == "after"
    assert "Subject" not in note.json()
    sns.unsubscribe(SubscriptionArn=sub_arn)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.unsubscribe(SubscriptionArn=sub_arn)


def test_subscribe_validation(sns_server: Server) -> None:
    sns, arn = _topic(sns_server)
    for protocol, endpoint in [
        ("sqs", "arn:aws:sqs:us-east-1:123456789012:q"),
        ("http", "https://example.com/"),
        ("http", "not a url"),
        ("lambda", "http://127.0.0.1/"),
    ]:
        with pytest.raises(ClientError) as info:
            sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
        assert info.value.response["Error"]["Code"] == "InvalidParameter", (protocol, endpoint)


def test_push_delivers_the_trigger_record_through_sns(
    sns_server: Server, receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    sns, arn = _topic(sns_server)
    sub_arn = _subscribe_confirmed(sns_server, sns, arn, receiver)
    cc = sns_server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    config_id = cc.put_repository_triggers(
        repositoryName=name,
        triggers=[{"name": "to-sns", "destinationArn": arn, "events": ["all"], "customData": "d"}],
    )["configurationId"]
    work = tmp_path / "w"
    (sha,) = make_commits(git_env, work)
    git(git_env, "push", "-q", sns_server.git_url(name), "main", cwd=work)
    assert wait_idle(sns_server.url)["idle"]
    (note,) = receiver.notifications()
    envelope = note.json()
    verify_signature(sns_server, envelope)
    assert note.headers["x-amz-sns-subscription-arn"] == sub_arn
    assert "Subject" not in envelope
    (rec,) = json.loads(envelope["Message"])["Records"]
    assert rec["awsRegion"] == REGION
    assert rec["codecommit"] == {
        "references": [{"commit": sha, "created": True, "ref": "refs/heads/main"}]
    }
    assert rec["customData"] == "d"
    uuid.UUID(rec["eventId"])
    assert rec["eventName"] == "ReferenceChanges"
    assert rec["eventPartNumber"] == 1
    assert rec["eventSource"] == "aws:codecommit"
    assert rec["eventSourceARN"] == f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}"
    assert rec["eventTotalParts"] == 1
    assert rec["eventTriggerConfigId"] == config_id
    assert rec["eventTriggerName"] == "to-sns"
    assert rec["eventVersion"] == "1.0"
    assert rec["userIdentityARN"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert set(rec) == {
        "awsRegion",
        "codecommit",
        "customData",
        "eventId",
        "eventName",
        "eventPartNumber",
        "eventSource",
        "eventSourceARN",
        "eventTime",
        "eventTotalParts",
        "eventTriggerConfigId",
        "eventTriggerName",
        "eventVersion",
        "userIdentityARN",
    }

    out = cc.test_repository_triggers(
        repositoryName=name, triggers=[{"name": "t", "destinationArn": arn, "events": ["all"]}]
    )
    assert out == {
        "successfulExecutions": ["t"],
        "failedExecutions": [],
        "ResponseMetadata": out["ResponseMetadata"],
    }
    assert wait_idle(sns_server.url)["idle"]
    test_rec = json.loads(receiver.notifications()[-1].json()["Message"])["Records"][0]
    assert test_rec["eventName"] == "TriggerEventTest"


def test_lambda_subscription_gets_the_sns_event(
    sns_server: Server, lambda_receiver: Receiver
) -> None:
    sns, arn = _topic(sns_server)
    sub_arn = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=FUNCTION)["SubscriptionArn"]
    assert sub_arn.startswith(arn + ":")  # confirmed at once
    message_id = sns.publish(TopicArn=arn, Message="to lambda")["MessageId"]
    assert wait_idle(sns_server.url)["idle"]
    events = [
        q.json()
        for q in lambda_receiver.requests
        if q.json()["Records"][0].get("EventSubscriptionArn") == sub_arn
    ]
    (event,) = events
    (rec,) = event["Records"]
    assert rec["EventSource"] == "aws:sns"
    assert rec["EventVersion"] == "1.0"
    assert rec["Sns"]["MessageId"] == message_id
    assert rec["Sns"]["Message"] == "to lambda"
    assert rec["Sns"]["Subject"] is None
    assert rec["Sns"]["TopicArn"] == arn
    assert rec["Sns"]["UnsubscribeUrl"].startswith(sns_server.url)


BRANCH_PROTECTION = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["codecommit:GitPush"],
                "Resource": "*",
                "Condition": {
                    "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
                    "Null": {"codecommit:References": "false"},
                },
            }
        ],
    }
)


def test_denied_or_failed_push_sends_nothing(
    sns_server: Server,
    receiver: Receiver,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    sns, arn = _topic(sns_server)
    _subscribe_confirmed(sns_server, sns, arn, receiver)
    cc = sns_server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    cc.put_repository_triggers(
        repositoryName=name, triggers=[{"name": "t", "destinationArn": arn, "events": ["all"]}]
    )
    work = tmp_path / "w"
    make_commits(git_env, work)
    git(git_env, "push", "-q", sns_server.git_url(name), "main", cwd=work)
    assert wait_idle(sns_server.url)["idle"]
    assert len(receiver.notifications()) == 1

    # Denied by a branch-protection policy.
    user = make_git_user(policy=BRANCH_PROTECTION, on=sns_server)
    make_commits(git_env, work)
    denied = git(git_env, "push", user.http_url(name), "main", cwd=work, check=False)
    assert denied.returncode != 0
    # Failed: a stale push (non-fast-forward) is refused.
    other = tmp_path / "o"
    make_commits(git_env, other)
    stale = git(git_env, "push", sns_server.git_url(name), "main", cwd=other, check=False)
    assert stale.returncode != 0
    assert wait_idle(sns_server.url)["idle"]
    assert len(receiver.notifications()) == 1
    log = get_json(f"{sns_server.url}/_ccemu/events?repository={name}")["events"]
    assert [e["kind"] for e in log] == ["reference-changes"]
