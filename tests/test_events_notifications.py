"""Notification rules (CodeStar Notifications, REST-JSON) through boto3: every operation and its
errors; a rule firing on a branch pushed with the git CLI to a confirmed HTTP subscription of
an SNS topic, in AWS's message shape (BASIC and FULL); a DISABLED rule, an event type that does
not match, and a denied push sending nothing."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, MakeGitUser, Server, git, make_commits, start_server
from events_receiver import Receiver, wait_idle

CREATED = "codecommit-repository-branches-and-tags-created"
UPDATED = "codecommit-repository-branches-and-tags-updated"
DELETED = "codecommit-repository-branches-and-tags-deleted"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
RULE_ARN = re.compile(
    rf"^arn:aws:codestar-notifications:{REGION}:{ACCOUNT}:notificationrule/[0-9a-f]{{40}}$"
)


@pytest.fixture(scope="module")
def notif_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("notifications") / "data", "--delivery-retry-scale", "0.01"
    )
    yield srv
    srv.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def _setup(server: Server) -> tuple[Any, str, str]:
    """A repository and an SNS topic; returns (codestar client, repository, topic ARN)."""
    cc = server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    topic = server.client("sns").create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]
    return server.client("codestar-notifications"), name, topic


def _repo_arn(name: str) -> str:
    return f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}"


def _rule(cn: Any, name: str, topic: str, **kw: Any) -> str:
    args: dict[str, Any] = {
        "Name": f"rule-{uuid.uuid4().hex[:8]}",
        "EventTypeIds": [CREATED],
        "Resource": _repo_arn(name),
        "Targets": [{"TargetType": "SNS", "TargetAddress": topic}],
        "DetailType": "BASIC",
    }
    args.update(kw)
    return str(cn.create_notification_rule(**args)["Arn"])


def _subscribe_confirmed(server: Server, topic: str, r: Receiver) -> None:
    sns = server.client("sns")
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=r.url)
    (conf,) = r.wait_for(1, where=lambda q: q.json().get("TopicArn") == topic)
    with urllib.request.urlopen(conf.json()["SubscribeURL"], timeout=10) as resp:
        resp.read()


def test_list_event_types(notif_server: Server) -> None:
    cn = notif_server.client("codestar-notifications")
    types = cn.list_event_types()["EventTypes"]
    ids = [t["EventTypeId"] for t in types]
    assert {CREATED, UPDATED, DELETED, "codecommit-repository-pull-request-created"} <= set(ids)
    assert {
        "EventTypeId": CREATED,
        "ServiceName": "CodeCommit",
        "EventTypeName": "Branches and tags: Created",
        "ResourceType": "Repository",
    } in types
    page = cn.list_event_types(MaxResults=2)
    assert len(page["EventTypes"]) == 2
    rest = cn.list_event_types(NextToken=page["NextToken"])["EventTypes"]
    assert [t["EventTypeId"] for t in page["EventTypes"] + rest] == ids
    only = cn.list_event_types(Filters=[{"Name": "SERVICE_NAME", "Value": "CodeBuild"}])
    assert only["EventTypes"] == []
    with pytest.raises(ClientError) as info:
        cn.list_event_types(NextToken="garbage")
    assert _code(info) == "InvalidNextTokenException"


def test_create_describe_update_delete(notif_server: Server) -> None:
    cn, name, topic = _setup(notif_server)
    arn = _rule(cn, name, topic, Name="my rule", Tags={"team": "ci"}, DetailType="FULL")
    assert RULE_ARN.match(arn)
    got = cn.describe_notification_rule(Arn=arn)
    assert got["Arn"] == arn
    assert got["Name"] == "my rule"
    assert got["Resource"] == _repo_arn(name)
    assert [e["EventTypeId"] for e in got["EventTypes"]] == [CREATED]
    assert got["Targets"] == [
        {"TargetAddress": topic, "TargetType": "SNS", "TargetStatus": "ACTIVE"}
    ]
    assert got["DetailType"] == "FULL"
    assert got["Status"] == "ENABLED"
    assert got["CreatedBy"] == ROOT_ARN
    assert isinstance(got["CreatedTimestamp"], datetime)
    assert got["Tags"] == {"team": "ci"}

    cn.update_notification_rule(
        Arn=arn, Name="renamed", Status="DISABLED", EventTypeIds=[UPDATED, DELETED]
    )
    got = cn.describe_notification_rule(Arn=arn)
    assert (got["Name"], got["Status"]) == ("renamed", "DISABLED")
    assert [e["EventTypeId"] for e in got["EventTypes"]] == [UPDATED, DELETED]
    assert got["LastModifiedTimestamp"] >= got["CreatedTimestamp"]

    listed = cn.list_notification_rules(Filters=[{"Name": "RESOURCE", "Value": _repo_arn(name)}])[
        "NotificationRules"
    ]
    assert listed == [{"Id": arn.rsplit("/", 1)[1], "Arn": arn}]
    by_target = cn.list_notification_rules(Filters=[{"Name": "TARGET_ADDRESS", "Value": topic}])[
        "NotificationRules"
    ]
    assert [r["Arn"] for r in by_target] == [arn]

    assert cn.delete_notification_rule(Arn=arn)["Arn"] == arn
    with pytest.raises(ClientError) as info:
        cn.describe_notification_rule(Arn=arn)
    assert _code(info) == "ResourceNotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert cn.delete_notification_rule(Arn=arn)["Arn"] == arn  # gone already: no error


def test_create_errors_and_idempotency(notif_server: Server) -> None:
    cn, name, topic = _setup(notif_server)
    token = uuid.uuid4().hex
    first = _rule(cn, name, topic, Name="same", ClientRequestToken=token)
    # A retry with the same token and parameters returns the same rule.
    assert _rule(cn, name, topic, Name="same", ClientRequestToken=token) == first

    def refused(**kw: Any) -> tuple[str, int]:
        with pytest.raises(ClientError) as info:
            _rule(cn, name, topic, **kw)
        return _code(info), int(info.value.response["ResponseMetadata"]["HTTPStatusCode"])

    assert refused(Name="same") == ("ResourceAlreadyExistsException", 409)
    assert refused(Name="bad/")[0] == "ValidationException"
    assert refused(EventTypeIds=["no-such-event"])[0] == "ValidationException"
    assert refused(Resource=_repo_arn("no-such-repo"))[0] == "ValidationException"
    assert refused(DetailType="LOUD")[0] == "ValidationException"
    missing = f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic"
    assert refused(Targets=[{"TargetType": "SNS", "TargetAddress": missing}]) == (
        "ConfigurationException",
        400,
    )
    assert refused(Targets=[{"TargetType": "SNS", "TargetAddress": "not-an-arn"}])[0] == (
        "ValidationException"
    )
    eleven = [{"TargetType": "SNS", "TargetAddress": topic}] * 11
    assert refused(Targets=eleven)[0] == "ValidationException"
    assert refused(Tags={f"k{i}": "v" for i in range(51)})[0] == "LimitExceededException"


def test_subscribe_targets_and_tags(notif_server: Server) -> None:
    cn, name, topic = _setup(notif_server)
    other = notif_server.client("sns").create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]
    arn = _rule(cn, name, topic)
    assert cn.subscribe(Arn=arn, Target={"TargetType": "SNS", "TargetAddress": other})["Arn"] == arn
    addresses = [t["TargetAddress"] for t in cn.describe_notification_rule(Arn=arn)["Targets"]]
    assert addresses == [topic, other]
    with pytest.raises(ClientError) as info:
        cn.subscribe(
            Arn=arn,
            Target={"TargetType": "SNS", "TargetAddress": other.replace(":t-", ":gone-")},
        )
    assert _code(info) == "ConfigurationException"
    missing_rule = arn[:-4] + "0000"
    with pytest.raises(ClientError) as info:
        cn.subscribe(Arn=missing_rule, Target={"TargetType": "SNS", "TargetAddress": other})
    assert _code(info) == "ResourceNotFoundException"

    listed = cn.list_targets(Filters=[{"Name": "TARGET_ADDRESS", "Value": other}])["Targets"]
    assert listed == [{"TargetAddress": other, "TargetType": "SNS", "TargetStatus": "ACTIVE"}]
    assert cn.unsubscribe(Arn=arn, TargetAddress=other)["Arn"] == arn
    addresses = [t["TargetAddress"] for t in cn.describe_notification_rule(Arn=arn)["Targets"]]
    assert addresses == [topic]

    # DeleteTarget: refused while a rule names it, unless ForceUnsubscribeAll.
    with pytest.raises(ClientError) as info:
        cn.delete_target(TargetAddress=topic)
    assert _code(info) == "ValidationException"
    cn.delete_target(TargetAddress=other)
    cn.delete_target(TargetAddress=topic, ForceUnsubscribeAll=True)
    assert cn.describe_notification_rule(Arn=arn)["Targets"] == []
    remaining = {t["TargetAddress"] for t in cn.list_targets()["Targets"]}
    assert not {topic, other} & remaining

    # Tags: TagResource, ListTagsForResource, UntagResource (the ARN in the path).
    assert cn.tag_resource(Arn=arn, Tags={"a": "1", "b": "2"})["Tags"] == {"a": "1", "b": "2"}
    cn.untag_resource(Arn=arn, TagKeys=["a"])
    assert cn.list_tags_for_resource(Arn=arn)["Tags"] == {"b": "2"}
    with pytest.raises(ClientError) as info:
        cn.list_tags_for_resource(Arn=missing_rule)
    assert _code(info) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        cn.tag_resource(Arn=arn, Tags={f"k{i}": "v" for i in range(50)})
    assert _code(info) == "LimitExceededException"


def test_pagination_of_rules(notif_server: Server) -> None:
    cn, name, topic = _setup(notif_server)
    arns = [_rule(cn, name, topic) for _ in range(3)]
    mine = [{"Name": "RESOURCE", "Value": _repo_arn(name)}]
    page = cn.list_notification_rules(Filters=mine, MaxResults=2)
    rest = cn.list_notification_rules(Filters=mine, NextToken=page["NextToken"])
    assert [r["Arn"] for r in page["NotificationRules"] + rest["NotificationRules"]] == arns
    assert "NextToken" not in rest
    with pytest.raises(ClientError) as info:
        cn.list_notification_rules(MaxResults=101)
    assert _code(info) == "ValidationException"


def test_denied_caller_gets_access_denied(notif_server: Server, make_git_user: MakeGitUser) -> None:
    _, name, topic = _setup(notif_server)
    user = make_git_user(on=notif_server, managed=None)
    theirs = notif_server.client("codestar-notifications", key=user.access_key, secret=user.secret)
    with pytest.raises(ClientError) as info:
        _rule(theirs, name, topic)
    assert _code(info) == "AccessDeniedException"
    with pytest.raises(ClientError) as info:
        theirs.list_notification_rules()
    assert _code(info) == "AccessDeniedException"


def test_unknown_path_is_not_an_operation(
    notif_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    cn, name, topic = _setup(notif_server)
    # Unsigned: the catch-all route does not reach the API door.
    req = urllib.request.Request(f"{notif_server.url}/listNotificationRules", data=b"{}")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 404
    # Signed, the same path is the REST-JSON operation, and it answers with the rule.
    arn = _rule(cn, name, topic)
    mine = [{"Name": "RESOURCE", "Value": _repo_arn(name)}]
    assert [r["Arn"] for r in cn.list_notification_rules(Filters=mine)["NotificationRules"]] == [
        arn
    ]
    # The POST routes of git and /_ccemu are matched before the catch-all: a push and an
    # ls-remote (protocol v2 POSTs git-upload-pack) reach the git door...
    work = tmp_path / "work"
    [sha] = make_commits(git_env, work, 1)
    git(git_env, "push", "-q", notif_server.git_url(name), "main", cwd=work)
    out = git(git_env, "ls-remote", notif_server.git_url(name)).stdout
    assert f"{sha}\trefs/heads/main" in out
    # ...and POST /_ccemu/events/wait reaches the events endpoint, not the API door.
    req = urllib.request.Request(f"{notif_server.url}/_ccemu/events/wait?timeout=5", data=b"")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert set(json.loads(resp.read())) == {"idle", "pending", "timedOut"}


def _notifications_for(r: Receiver, repo: str) -> list[dict[str, Any]]:
    out = []
    for q in r.notifications():
        msg = json.loads(q.json()["Message"])
        if msg.get("resources") == [_repo_arn(repo)]:
            out.append(msg)
    return out


def test_rule_fires_on_branch_creation(
    notif_server: Server, receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cn, name, topic = _setup(notif_server)
    _subscribe_confirmed(notif_server, topic, receiver)
    basic = _rule(cn, name, topic, Name="basic")
    full = _rule(cn, name, topic, Name="full", DetailType="FULL")
    _rule(cn, name, topic, Name="disabled", Status="DISABLED")
    _rule(cn, name, topic, Name="deletes-only", EventTypeIds=[DELETED])
    cc = notif_server.client("codecommit")
    repo_id = cc.get_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]

    work = tmp_path / "w"
    (sha,) = make_commits(git_env, work)
    git(git_env, "push", "-q", notif_server.git_url(name), "main", cwd=work)
    assert wait_idle(notif_server.url)["idle"]
    got = _notifications_for(receiver, name)
    assert sorted(m["notificationRuleArn"] for m in got) == sorted([basic, full])
    by_rule = {m["notificationRuleArn"]: m for m in got}
    msg = by_rule[basic]
    assert list(msg) == [
        "account",
        "detailType",
        "region",
        "source",
        "time",
        "notificationRuleArn",
        "detail",
        "resources",
        "additionalAttributes",
    ]
    assert msg["account"] == ACCOUNT
    assert msg["detailType"] == "CodeCommit Repository State Change"
    assert msg["region"] == REGION
    assert msg["source"] == "aws.codecommit"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", msg["time"])
    assert msg["detail"] == {
        "event": "referenceCreated",
        "repositoryName": name,
        "repositoryId": repo_id,
        "referenceType": "branch",
        "referenceName": "main",
        "referenceFullName": "refs/heads/main",
        "commitId": sha,
        "callerUserArn": ROOT_ARN,
    }
    assert msg["resources"] == [_repo_arn(name)]
    assert msg["additionalAttributes"] == {}
    detail = by_rule[full]["detail"]
    body = detail.pop("notificationBody")
    assert detail == msg["detail"]
    assert name in body and "Created" in body and "main" in body

    # An update matches neither rule's event types; a deletion matches "deletes-only".
    make_commits(git_env, work)
    git(git_env, "push", "-q", notif_server.git_url(name), "main", "main:side", cwd=work)
    git(git_env, "push", "-q", notif_server.git_url(name), ":side", cwd=work)
    assert wait_idle(notif_server.url)["idle"]
    later = _notifications_for(receiver, name)[len(got) :]
    events = sorted((m["detail"]["event"], m["detail"]["referenceName"]) for m in later)
    assert events == [
        ("referenceCreated", "side"),
        ("referenceCreated", "side"),
        ("referenceDeleted", "side"),
    ]


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


def test_denied_push_sends_nothing(
    notif_server: Server,
    receiver: Receiver,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    tmp_path: Path,
) -> None:
    cn, name, topic = _setup(notif_server)
    _subscribe_confirmed(notif_server, topic, receiver)
    _rule(cn, name, topic, EventTypeIds=[CREATED, UPDATED, DELETED])
    user = make_git_user(policy=BRANCH_PROTECTION, on=notif_server)
    work = tmp_path / "w"
    make_commits(git_env, work)
    denied = git(git_env, "push", user.http_url(name), "main", cwd=work, check=False)
    assert denied.returncode != 0
    assert wait_idle(notif_server.url)["idle"]
    assert _notifications_for(receiver, name) == []
