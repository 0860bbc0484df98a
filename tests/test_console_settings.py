"""The console's repository Settings over plain HTTP: triggers that fire on a real push,
notification rules with a topic made inline, tags, the encryption key, and refusals."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import console_user as _user
from console_helpers import csrf as _csrf
from console_helpers import signed_in as _signed_in

from tests.conftest import ACCOUNT, REGION, Server, git, make_commits
from tests.events_receiver import Receiver, wait_idle

PASSWORD = "Corr3ct-Horse!"
ALL = {
    "Effect": "Allow",
    "Action": ["codecommit:*", "sns:*", "codestar-notifications:*", "kms:*"],
    "Resource": "*",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _repo(srv: Server) -> str:
    name = f"set-{uuid.uuid4().hex[:8]}"
    srv.client("codecommit").create_repository(repositoryName=name)
    return name


def _subscribed_topic(srv: Server, r: Receiver) -> str:
    sns = srv.client("sns")
    arn = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=r.url)
    (conf,) = r.wait_for(1, where=lambda q: q.json().get("TopicArn") == arn)
    with urllib.request.urlopen(conf.json()["SubscribeURL"], timeout=10) as resp:
        assert b"<SubscriptionArn>" in resp.read()
    return str(arn)


def _push(srv: Server, repo: str, env: dict[str, str], work: Path) -> str:
    (sha,) = make_commits(env, work)
    git(env, "push", "-q", srv.git_url(repo), "HEAD:main", cwd=work)
    return sha


def _records(r: Receiver, repo: str) -> list[dict[str, Any]]:
    out = []
    for note in r.notifications():
        for rec in json.loads(note.json()["Message"]).get("Records", []):
            if rec["eventSourceARN"].endswith(f":{repo}"):
                out.append(rec)
    return out


def test_trigger_created_in_the_console_fires_on_a_git_push(
    server: Server, receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo = _repo(server)
    topic = _subscribed_topic(server, receiver)
    at = f"/console/repositories/{repo}/settings"
    with _signed_in(server, _user(server, [ALL])) as c:
        token = _csrf(c.get(at).text)
        form = {
            "csrf": token,
            "trigger_name": "to-topic",
            "destination": topic,
            "event_all": "1",
            "branches": "",
            "custom_data": "from the console",
        }
        r = c.post(at + "/triggers", data=form)
        assert r.status_code == 303, r.text
        page = c.get(at).text
        assert "Created trigger to-topic." in page
        assert '<td class="trigger">to-topic</td>' in page and topic in page
        # What the console put is what the API reads back.
        (t,) = server.client("codecommit").get_repository_triggers(repositoryName=repo)["triggers"]
        assert t["destinationArn"] == topic and t["events"] == ["all"]

        sha = _push(server, repo, git_env, tmp_path / "w")
        assert wait_idle(server.url)["idle"]
        (rec,) = _records(receiver, repo)
        assert rec["eventTriggerName"] == "to-topic"
        assert rec["customData"] == "from the console"
        assert rec["codecommit"]["references"][0]["commit"] == sha

        # Test sends a TriggerEventTest through the same topic.
        r = c.post(at + "/triggers/test", data={"csrf": token, "trigger_name": "to-topic"})
        assert r.status_code == 303
        assert "Test of trigger to-topic sent." in c.get(at).text
        assert wait_idle(server.url)["idle"]
        assert [x["eventName"] for x in _records(receiver, repo)] == [
            "ReferenceChanges",
            "TriggerEventTest",
        ]

        # Edit: only pushes to `other` now; a push to main sends nothing.
        form.update(was="to-topic", branches="other", custom_data="")
        assert c.post(at + "/triggers", data=form).status_code == 303
        (t,) = server.client("codecommit").get_repository_triggers(repositoryName=repo)["triggers"]
        assert t["branches"] == ["other"] and "customData" not in t
        _push(server, repo, git_env, tmp_path / "w")
        assert wait_idle(server.url)["idle"]
        assert len(_records(receiver, repo)) == 2

        r = c.post(at + "/triggers/delete", data={"csrf": token, "trigger_name": "to-topic"})
        assert r.status_code == 303
        got = server.client("codecommit").get_repository_triggers(repositoryName=repo)
        assert got["triggers"] == []


def test_invalid_trigger_is_answered_with_codecommits_error_and_nothing_is_put(
    server: Server,
) -> None:
    repo = _repo(server)
    at = f"/console/repositories/{repo}/settings"
    with _signed_in(server, _user(server, [ALL])) as c:
        token = _csrf(c.get(at).text)
        form = {"csrf": token, "trigger_name": "t", "destination": "not-an-arn", "event_all": "1"}
        r = c.post(at + "/triggers", data=form)
        assert r.status_code == 400
        assert "InvalidRepositoryTriggerDestinationArnException" in r.text
        cc = server.client("codecommit")
        assert cc.get_repository_triggers(repositoryName=repo)["triggers"] == []
        assert c.get(at).status_code == 200


def test_notification_rule_with_a_topic_created_inline_notifies_on_a_push(
    server: Server, receiver: Receiver, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo = _repo(server)
    topic_name = f"inline-{uuid.uuid4().hex[:8]}"
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic_name}"
    at = f"/console/repositories/{repo}/settings"
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get(at).text
        assert 'name="type_codecommit-repository-branches-and-tags-created"' in page
        form = {
            "csrf": _csrf(page),
            "rule_name": "on-branches",
            "detail": "FULL",
            "type_codecommit-repository-branches-and-tags-created": "1",
            "topic": "",
            "new_topic": topic_name,
        }
        r = c.post(at + "/notifications", data=form)
        assert r.status_code == 303, r.text
        page = c.get(at).text
        assert '<td class="rule">on-branches</td>' in page and topic in page
        sns = server.client("sns")
        assert topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
        rules = server.client("codestar-notifications").list_notification_rules(
            Filters=[{"Name": "RESOURCE", "Value": f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{repo}"}]
        )["NotificationRules"]
        (rule,) = rules

        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)
        (conf,) = receiver.wait_for(1)
        with urllib.request.urlopen(conf.json()["SubscribeURL"], timeout=10):
            pass
        _push(server, repo, git_env, tmp_path / "w")
        assert wait_idle(server.url)["idle"]
        (note,) = receiver.notifications()
        assert json.loads(note.json()["Message"])["detailType"] == (
            "CodeCommit Repository State Change"
        )

        r = c.post(
            at + "/notifications/delete", data={"csrf": _csrf(page), "rule_arn": rule["Arn"]}
        )
        assert r.status_code == 303
        assert "No notification rules." in c.get(at).text


def test_tags_and_encryption_key_through_the_console(server: Server) -> None:
    repo = _repo(server)
    arn = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{repo}"
    cc = server.client("codecommit")
    key = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    at = f"/console/repositories/{repo}/settings"
    with _signed_in(server, _user(server, [ALL])) as c:
        token = _csrf(c.get(at).text)
        r = c.post(at + "/tags", data={"csrf": token, "key": "team", "value": "<b>x</b>"})
        assert r.status_code == 400 and "InvalidTagsMapException" in r.text
        assert cc.list_tags_for_resource(resourceArn=arn)["tags"] == {}
        r = c.post(at + "/tags", data={"csrf": token, "key": "team", "value": "a+b=c"})
        assert r.status_code == 303
        assert cc.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a+b=c"}
        assert '<td class="tag-key">team</td><td>a+b=c</td>' in c.get(at).text
        assert c.post(at + "/tags/delete", data={"csrf": token, "key": "team"}).status_code == 303
        assert cc.list_tags_for_resource(resourceArn=arn)["tags"] == {}

        r = c.post(at + "/encryption", data={"csrf": token, "kms_key_id": key})
        assert r.status_code == 303
        assert cc.get_repository(repositoryName=repo)["repositoryMetadata"]["kmsKeyId"] == key
        assert f'<code class="kms-key">{key}</code>' in c.get(at).text
        r = c.post(at + "/encryption", data={"csrf": token, "kms_key_id": "alias/nope"})
        assert r.status_code == 400 and "EncryptionKey" in r.text
        assert cc.get_repository(repositoryName=repo)["repositoryMetadata"]["kmsKeyId"] == key


def test_user_refused_a_section_read_sees_the_deciding_statement_in_it(server: Server) -> None:
    repo = _repo(server)
    deny = {
        "Sid": "NoTriggers",
        "Effect": "Deny",
        "Action": ["codecommit:GetRepositoryTriggers", "codecommit:PutRepositoryTriggers"],
        "Resource": "*",
    }
    at = f"/console/repositories/{repo}/settings"
    with _signed_in(server, _user(server, [ALL, deny])) as c:
        page = c.get(at)
        assert page.status_code == 200
        assert '<code class="action">codecommit:GetRepositoryTriggers</code>' in page.text
        assert "NoTriggers" in page.text and 'id="tags"' in page.text
        form = {
            "csrf": _csrf(page.text),
            "trigger_name": "t",
            "destination": f"arn:aws:sns:{REGION}:{ACCOUNT}:x",
            "event_all": "1",
        }
        r = c.post(at + "/triggers", data=form)
        assert r.status_code == 403 and "NoTriggers" in r.text
        cc = server.client("codecommit")
        assert cc.get_repository_triggers(repositoryName=repo)["triggers"] == []
        assert c.get(at).status_code == 200


def test_trigger_post_without_csrf_token_changes_nothing(server: Server) -> None:
    repo = _repo(server)
    at = f"/console/repositories/{repo}/settings"
    with _signed_in(server, _user(server, [ALL])) as c:
        form = {
            "trigger_name": "t",
            "destination": f"arn:aws:sns:{REGION}:{ACCOUNT}:x",
            "event_all": "1",
        }
        assert c.post(at + "/triggers", data=form).status_code == 403
        cc = server.client("codecommit")
        assert cc.get_repository_triggers(repositoryName=repo)["triggers"] == []
        assert c.get(at).status_code == 200
