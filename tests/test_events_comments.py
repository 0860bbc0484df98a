"""Comment events through the outbox, against a real server: a local HTTP receiver, as an
EventBridge-style webhook and as the HTTP subscription of an SNS topic that notification rules
target, gets "CodeCommit Comment on Pull Request" and "CodeCommit Comment on Commit" events in
AWS's shape when a comment is posted (boto3), replied to and edited; a rule gets only the comment
event type it names; a refused comment sends nothing. Last, the pipeline play: a receiver hears
"pull request created", comments back as a build bot, a reviewer in an assumed role approves and
the merge goes through."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, Server, git, start_server
from events_receiver import Received, Receiver, wait_idle

ON_PR = "CodeCommit Comment on Pull Request"
ON_COMMIT = "CodeCommit Comment on Commit"
PR_COMMENTS = "codecommit-repository-comments-on-pull-requests"
COMMIT_COMMENTS = "codecommit-repository-comments-on-commits"
POWER_USER = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ENVELOPE = {"version", "id", "detail-type", "source", "account", "time", "region", "resources"}


@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, hook: Receiver) -> Iterator[Server]:
    s = start_server(
        tmp_path_factory.mktemp("comment-events") / "data",
        "--delivery-retry-scale",
        "0.01",
        "--event-webhook",
        hook.url,
    )
    yield s
    s.stop()


@pytest.fixture
def subscriber() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _repo(server: Server, env: dict[str, str], work: Path) -> tuple[Any, str, str, str, str]:
    """A repository with `main` (a root commit) and `feature` (one more, adding b.txt); returns
    the client, the name, the repository id and the two commits."""
    cc = server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:10]}"
    repo_id = cc.create_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]
    git(env, "init", "-q", "-b", "main", str(work))
    (work / "a.txt").write_text("one\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "base", cwd=work)
    git(env, "checkout", "-q", "-b", "feature", cwd=work)
    (work / "b.txt").write_text("feature\n")
    git(env, "add", "-A", cwd=work)
    git(env, "commit", "-q", "-m", "feature", cwd=work)
    git(env, "push", "-q", server.git_url(name), "main", "feature", cwd=work)
    main = git(env, "rev-parse", "main", cwd=work).stdout.strip()
    feature = git(env, "rev-parse", "feature", cwd=work).stdout.strip()
    return cc, name, repo_id, main, feature


def _topic_with_rule(server: Server, name: str, r: Receiver, event_types: list[str]) -> str:
    """An SNS topic whose HTTP subscription is `r` (confirmed) and a FULL notification rule of
    the repository on `event_types` targeting it; returns the rule's ARN."""
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=r.url)
    (conf,) = r.wait_for(1, where=lambda q: q.json().get("TopicArn") == topic)
    with urllib.request.urlopen(conf.json()["SubscribeURL"], timeout=10) as resp:
        resp.read()
    return str(
        server.client("codestar-notifications").create_notification_rule(
            Name=f"rule-{uuid.uuid4().hex[:8]}",
            EventTypeIds=event_types,
            Resource=f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}",
            Targets=[{"TargetType": "SNS", "TargetAddress": topic}],
            DetailType="FULL",
        )["Arn"]
    )


def _events(hook: Receiver, name: str, detail_type: str | None = None) -> list[dict[str, Any]]:
    """The comment events the webhook got for repository `name`, in order."""
    with hook.lock:
        docs = [r.json() for r in hook.requests]
    return [
        d
        for d in docs
        if d.get("detail-type") in ((detail_type,) if detail_type else (ON_PR, ON_COMMIT))
        and d["detail"].get("repositoryName") == name
    ]


def _notifications(r: Receiver) -> list[dict[str, Any]]:
    return [json.loads(n.json()["Message"]) for n in r.notifications()]


def _check_envelope(doc: dict[str, Any], name: str, detail_type: str) -> dict[str, Any]:
    """Assert AWS's event envelope; return the detail, its keys in AWS's sorted order."""
    assert set(doc) == ENVELOPE | {"detail"}
    assert (doc["version"], doc["source"], doc["detail-type"]) == (
        "0",
        "aws.codecommit",
        detail_type,
    )
    assert (doc["account"], doc["region"]) == (ACCOUNT, REGION)
    assert doc["resources"] == [f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{name}"]
    assert ISO_TIME.match(doc["time"])
    detail = dict(doc["detail"])
    assert list(detail) == sorted(detail)
    return detail


def _wrapped(rule: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The notification a rule sends for an event, as AWS wraps it."""
    return {
        "account": ACCOUNT,
        "detailType": doc["detail-type"],
        "region": REGION,
        "source": "aws.codecommit",
        "time": doc["time"],
        "notificationRuleArn": rule,
        "detail": doc["detail"],
        "resources": doc["resources"],
        "additionalAttributes": {},
    }


def _body(name: str, who: str, verb: str, on: str, link: str) -> str:
    return (
        f"A comment event occurred in the following AWS CodeCommit repository: {name}."
        f" The user {who} {verb}. The comment was made on the following {on}."
        f" For more information, go to the AWS CodeCommit console {link}"
    )


MADE = "made a comment"
UPDATED = "updated a comment or replied to a comment"


def test_pull_request_comment_reply_and_edit_reach_webhook_and_rule_in_aws_shape(
    srv: Server, hook: Receiver, subscriber: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name, repo_id, main, feature = _repo(srv, git_env, tmp_path / "w")
    rule = _topic_with_rule(srv, name, subscriber, [PR_COMMENTS])
    me = srv.client("sts").get_caller_identity()["Arn"]
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    pr_id = cc.create_pull_request(title="Add b", targets=[target])["pullRequest"]["pullRequestId"]

    first = cc.post_comment_for_pull_request(
        pullRequestId=pr_id,
        repositoryName=name,
        beforeCommitId=main,
        afterCommitId=feature,
        location={"filePath": "b.txt", "filePosition": 1, "relativeFileVersion": "AFTER"},
        content="looks good",
    )["comment"]
    reply = cc.post_comment_reply(inReplyTo=first["commentId"], content="thanks")["comment"]
    cc.update_comment(commentId=first["commentId"], content="looks very good")
    assert wait_idle(srv.url)["idle"]

    docs = _events(hook, name)
    assert [d["detail"]["event"] for d in docs] == [
        "commentOnPullRequestCreated",
        "commentOnPullRequestUpdated",
        "commentOnPullRequestUpdated",
    ]
    link = (
        f"https://{REGION}.console.aws.amazon.com/codesuite/codecommit/repositories/{name}"
        f"/pull-requests/{pr_id}/activity#"
    )
    common = {
        "afterCommitId": feature,
        "beforeCommitId": main,
        "callerUserArn": me,
        "pullRequestId": pr_id,
        "repositoryId": repo_id,
        "repositoryName": name,
    }
    on = f"Pull Request: {pr_id}"
    expected = [
        {
            **common,
            "commentId": first["commentId"],
            "event": "commentOnPullRequestCreated",
            "notificationBody": _body(name, me, MADE, on, link + first["commentId"]),
        },
        {
            **common,
            "commentId": reply["commentId"],
            "event": "commentOnPullRequestUpdated",
            "inReplyTo": first["commentId"],
            "notificationBody": _body(name, me, UPDATED, on, link + reply["commentId"]),
        },
        {
            **common,
            "commentId": first["commentId"],
            "event": "commentOnPullRequestUpdated",
            "notificationBody": _body(name, me, UPDATED, on, link + first["commentId"]),
        },
    ]
    assert [_check_envelope(d, name, ON_PR) for d in docs] == expected
    # the rule's SNS messages: AWS's notification shape around the same events
    subscriber.wait_for(4)  # the confirmation and three notifications
    assert _notifications(subscriber) == [_wrapped(rule, d) for d in docs]


def test_commit_comments_reach_webhook_and_rule_in_aws_shape(
    srv: Server, hook: Receiver, subscriber: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name, repo_id, main, feature = _repo(srv, git_env, tmp_path / "w")
    rule = _topic_with_rule(srv, name, subscriber, [COMMIT_COMMENTS])
    me = srv.client("sts").get_caller_identity()["Arn"]

    first = cc.post_comment_for_compared_commit(
        repositoryName=name, beforeCommitId=main, afterCommitId=feature, content="why b?"
    )["comment"]
    reply = cc.post_comment_reply(inReplyTo=first["commentId"], content="because")["comment"]
    cc.update_comment(commentId=reply["commentId"], content="because of a")
    # the root commit has nothing before it
    root = cc.post_comment_for_compared_commit(
        repositoryName=name, afterCommitId=main, content="first!"
    )["comment"]
    assert wait_idle(srv.url)["idle"]

    docs = _events(hook, name)
    console = f"https://{REGION}.console.aws.amazon.com/codesuite/codecommit/repositories/{name}"
    compare = f"{console}/compare/{main}/.../{feature}?region={REGION}"
    common = {
        "afterCommitId": feature,
        "beforeCommitId": main,
        "callerUserArn": me,
        "repositoryId": repo_id,
        "repositoryName": name,
    }
    threaded = f"comment ID: {first['commentId']}:{reply['commentId']}"
    expected = [
        {
            **common,
            "commentId": first["commentId"],
            "event": "commentOnCommitCreated",
            "notificationBody": _body(name, me, MADE, f"comment ID: {first['commentId']}", compare),
        },
        {
            **common,
            "commentId": reply["commentId"],
            "event": "commentOnCommitUpdated",
            "inReplyTo": first["commentId"],
            "notificationBody": _body(name, me, UPDATED, threaded, compare),
        },
        {
            **common,
            "commentId": reply["commentId"],
            "event": "commentOnCommitUpdated",
            "inReplyTo": first["commentId"],
            "notificationBody": _body(name, me, UPDATED, threaded, compare),
        },
        {
            "afterCommitId": main,
            "callerUserArn": me,
            "commentId": root["commentId"],
            "event": "commentOnCommitCreated",
            "notificationBody": _body(
                name,
                me,
                MADE,
                f"comment ID: {root['commentId']}",
                f"{console}/commit/{main}?region={REGION}",
            ),
            "repositoryId": repo_id,
            "repositoryName": name,
        },
    ]
    assert [_check_envelope(d, name, ON_COMMIT) for d in docs] == expected
    subscriber.wait_for(5)  # the confirmation and four notifications
    assert _notifications(subscriber) == [_wrapped(rule, d) for d in docs]


def test_rule_for_pull_request_comments_gets_no_commit_comments(
    srv: Server, hook: Receiver, subscriber: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name, _repo_id, main, feature = _repo(srv, git_env, tmp_path / "w")
    rule = _topic_with_rule(srv, name, subscriber, [PR_COMMENTS])
    cc.post_comment_for_compared_commit(
        repositoryName=name, beforeCommitId=main, afterCommitId=feature, content="on commits"
    )
    target = {"repositoryName": name, "sourceReference": "feature", "destinationReference": "main"}
    pr_id = cc.create_pull_request(title="Add b", targets=[target])["pullRequest"]["pullRequestId"]
    cc.post_comment_for_pull_request(
        pullRequestId=pr_id,
        repositoryName=name,
        beforeCommitId=main,
        afterCommitId=feature,
        content="on the pull request",
    )
    assert wait_idle(srv.url)["idle"]
    # the webhook hears both; the rule only the one it names
    assert [d["detail-type"] for d in _events(hook, name)] == [ON_COMMIT, ON_PR]
    (pr_doc,) = _events(hook, name, ON_PR)
    assert _notifications(subscriber) == [_wrapped(rule, pr_doc)]


def _power_user(server: Server) -> tuple[str, Any]:
    """A new IAM user with CodeCommit power-user rights: its ARN and its CodeCommit client."""
    iam = server.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=POWER_USER)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, server.client(key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def test_refused_comment_edit_and_bad_post_send_no_event(
    srv: Server, hook: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name, _repo_id, main, feature = _repo(srv, git_env, tmp_path / "w")
    first = cc.post_comment_for_compared_commit(
        repositoryName=name, beforeCommitId=main, afterCommitId=feature, content="mine"
    )["comment"]
    assert wait_idle(srv.url)["idle"]
    assert len(_events(hook, name)) == 1
    _, other = _power_user(srv)
    with pytest.raises(ClientError) as info:
        other.update_comment(commentId=first["commentId"], content="not yours")
    assert info.value.response["Error"]["Code"] == "CommentNotCreatedByCallerException"
    with pytest.raises(ClientError) as info:
        cc.post_comment_for_compared_commit(
            repositoryName=name, beforeCommitId=main, afterCommitId=main, content="same"
        )
    assert info.value.response["Error"]["Code"] == "BeforeCommitIdAndAfterCommitIdAreSameException"
    assert wait_idle(srv.url)["idle"]
    assert len(_events(hook, name)) == 1
    # nothing changed, and the server still serves the next comment (and its event)
    got = cc.get_comment(commentId=first["commentId"])["comment"]
    assert got["content"] == "mine"
    cc.post_comment_reply(inReplyTo=first["commentId"], content="still here")
    assert wait_idle(srv.url)["idle"]
    assert len(_events(hook, name)) == 2


def _reviewer_session(server: Server, role: str) -> tuple[str, Any]:
    """A session of a new role (CodeCommit power user), assumed by a user allowed to."""
    iam = server.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn=POWER_USER)
    name = f"a-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    allow = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn["Role"]["Arn"]}
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sts = server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role_arn["Role"]["Arn"], RoleSessionName="alice")
    client = server.client(
        key=creds["Credentials"]["AccessKeyId"],
        secret=creds["Credentials"]["SecretAccessKey"],
        aws_session_token=creds["Credentials"]["SessionToken"],
    )
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/alice", client


def test_pipeline_hears_created_comments_back_and_merges_once_a_reviewer_approves(
    srv: Server, hook: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, name, _repo_id, main, feature = _repo(srv, git_env, tmp_path / "w")
    role = f"Reviewer-{uuid.uuid4().hex[:6]}"
    template = f"needs-review-{uuid.uuid4().hex[:6]}"
    rule_content = {
        "Version": "2018-11-08",
        "DestinationReferences": ["refs/heads/main"],
        "Statements": [
            {
                "Type": "Approvers",
                "NumberOfApprovalsNeeded": 1,
                "ApprovalPoolMembers": [f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/*"],
            }
        ],
    }
    cc.create_approval_rule_template(
        approvalRuleTemplateName=template, approvalRuleTemplateContent=json.dumps(rule_content)
    )
    cc.associate_approval_rule_template_with_repository(
        approvalRuleTemplateName=template, repositoryName=name
    )
    bot_arn, bot = _power_user(srv)
    reviewer_arn, reviewer = _reviewer_session(srv, role)

    # The pipeline: an SNS subscription of a rule on "pull request created"; on each such
    # notification it builds (here: nothing) and reports back as the build bot.
    pipeline = Receiver()
    try:
        _topic_with_rule(srv, name, pipeline, ["codecommit-repository-pull-request-created"])

        def on_event(got: Received) -> None:
            if got.headers.get("x-amz-sns-message-type") != "Notification":
                return
            detail = json.loads(got.json()["Message"])["detail"]
            assert detail["event"] == "pullRequestCreated"
            bot.post_comment_for_pull_request(
                pullRequestId=detail["pullRequestId"],
                repositoryName=detail["repositoryNames"][0],
                beforeCommitId=detail["destinationCommit"],
                afterCommitId=detail["sourceCommit"],
                content="Build succeeded",
                clientRequestToken=f"build-{detail['pullRequestId']}-{detail['revisionId']}",
            )

        pipeline.on_post = on_event
        target = {
            "repositoryName": name,
            "sourceReference": "feature",
            "destinationReference": "main",
        }
        pr = cc.create_pull_request(title="Add b", targets=[target])["pullRequest"]
        pr_id, revision = pr["pullRequestId"], pr["revisionId"]
        assert wait_idle(srv.url)["idle"]
        assert pipeline.errors == []
    finally:
        pipeline.stop()

    # the bot's comment is on the pull request, and its event reached the webhook
    (thread,) = cc.get_comments_for_pull_request(pullRequestId=pr_id)["commentsForPullRequestData"]
    (comment,) = thread["comments"]
    assert (comment["content"], comment["authorArn"]) == ("Build succeeded", bot_arn)
    (event,) = _events(hook, name, ON_PR)
    assert event["detail"]["event"] == "commentOnPullRequestCreated"
    assert event["detail"]["callerUserArn"] == bot_arn
    assert (event["detail"]["beforeCommitId"], event["detail"]["afterCommitId"]) == (main, feature)

    # not yet approved: the merge is refused and main stays where it was
    with pytest.raises(ClientError) as info:
        cc.merge_pull_request_by_fast_forward(pullRequestId=pr_id, repositoryName=name)
    assert info.value.response["Error"]["Code"] == "PullRequestApprovalRulesNotSatisfiedException"
    assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == main

    reviewer.update_pull_request_approval_state(
        pullRequestId=pr_id, revisionId=revision, approvalState="APPROVE"
    )
    approvals = cc.get_pull_request_approval_states(pullRequestId=pr_id, revisionId=revision)
    assert approvals["approvals"] == [{"userArn": reviewer_arn, "approvalState": "APPROVE"}]
    merged = cc.merge_pull_request_by_fast_forward(pullRequestId=pr_id, repositoryName=name)
    assert merged["pullRequest"]["pullRequestStatus"] == "CLOSED"
    assert merged["pullRequest"]["pullRequestTargets"][0]["mergeMetadata"]["isMerged"] is True
    assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == feature
