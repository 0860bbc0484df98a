"""The console's Events page over plain HTTP: events with their deliveries and attempts, dead
letters redelivered by a POST that carries the CSRF token, one account's events only, and
`ccemu:ListEvents` / `ccemu:RedeliverEvent` decided by the one gate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from console_helpers import console_user as _user
from console_helpers import csrf as _csrf

from tests.conftest import ACCOUNT, Server, start_server
from tests.events_receiver import Receiver, get_json, wait_idle

PASSWORD = "Corr3ct-Horse!"
CODE = {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}
EVENTS = {"Effect": "Allow", "Action": "ccemu:*", "Resource": "*"}
OTHER = "111122223333"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("console-events")
    s = start_server(
        base / "data", "--delivery-retry-scale", "0.01", "--event-webhook", receiver.url
    )
    yield s
    s.stop()


@contextmanager
def _signed_in(srv: Server, name: str | None) -> Iterator[httpx.Client]:
    """As the IAM user `name`, or as the account's root user when None."""
    with httpx.Client(base_url=srv.url, headers={"Origin": srv.url}, timeout=30) as c:
        if name is None:
            form = {"kind": "root", "account": ACCOUNT, "password": "test"}
        else:
            form = {"kind": "iam", "account": ACCOUNT, "username": name, "password": PASSWORD}
        assert c.post("/console/signin", data=form).status_code == 303
        yield c


def _dead_commit(srv: Server, receiver: Receiver, key: str = "test") -> str:
    """A repository whose one commit's webhook delivery is dead (answered 404, final)."""
    cc = srv.client("codecommit", key=key)
    repo = f"ev-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=repo)
    receiver.status = 404
    try:
        cc.put_file(repositoryName=repo, branchName="main", fileContent=b"x", filePath="a")
        assert wait_idle(srv.url)["idle"]
    finally:
        receiver.status = 200
    return repo


def _dead_for(srv: Server, repo: str) -> list[dict[str, Any]]:
    ids = {e["id"] for e in get_json(f"{srv.url}/_ccemu/events?repository={repo}")["events"]}
    return [
        d for d in get_json(f"{srv.url}/_ccemu/events/dead")["deliveries"] if d["eventId"] in ids
    ]


def test_dead_letter_is_shown_and_redelivered_from_the_console(
    srv: Server, receiver: Receiver
) -> None:
    repo = _dead_commit(srv, receiver)
    (dead,) = _dead_for(srv, repo)
    with _signed_in(srv, _user(srv, [CODE, EVENTS])) as c:
        page = c.get("/console/events", params={"repository": repo})
        assert page.status_code == 200
        assert f"<td>{repo}</td>" in page.text
        assert '<span class="state-dead">dead</span>' in page.text
        assert "HTTP 404" in page.text
        assert f'<td class="delivery-id">{dead["id"]}</td>' in page.text

        before = len(receiver.requests)
        r = c.post(
            "/console/events/redeliver",
            data={"csrf": _csrf(page.text), "delivery": str(dead["id"])},
        )
        assert r.status_code == 303
        assert wait_idle(srv.url)["idle"]
        assert len(receiver.requests) == before + 1
        assert _dead_for(srv, repo) == []
        page = c.get("/console/events", params={"repository": repo})
        assert f"Delivery {dead['id']} is queued again." in page.text
        assert '<span class="state-delivered">delivered</span>' in page.text
        assert "HTTP 200" in page.text


def test_redeliver_post_without_csrf_token_is_refused(srv: Server, receiver: Receiver) -> None:
    repo = _dead_commit(srv, receiver)
    (dead,) = _dead_for(srv, repo)
    with _signed_in(srv, None) as c:
        token = _csrf(c.get("/console/events").text)
        r = c.post("/console/events/redeliver", data={"delivery": str(dead["id"])})
        assert r.status_code == 403 and "Nothing was changed." in r.text
        forged = c.post(
            "/console/events/redeliver",
            data={"csrf": token, "delivery": str(dead["id"])},
            headers={"Origin": "http://evil.example"},
        )
        assert forged.status_code == 403
        assert wait_idle(srv.url)["idle"]
        assert [d["id"] for d in _dead_for(srv, repo)] == [dead["id"]]
        assert c.get("/console/events").status_code == 200


def test_another_accounts_events_are_neither_shown_nor_redelivered(
    srv: Server, receiver: Receiver
) -> None:
    theirs = _dead_commit(srv, receiver, key=OTHER)
    (dead,) = _dead_for(srv, theirs)
    with _signed_in(srv, None) as c:
        page = c.get("/console/events")
        assert page.status_code == 200
        assert theirs not in page.text and f'"delivery" value="{dead["id"]}"' not in page.text
        r = c.post(
            "/console/events/redeliver",
            data={"csrf": _csrf(page.text), "delivery": str(dead["id"])},
        )
        assert r.status_code == 404 and "No dead letter" in r.text
        assert wait_idle(srv.url)["idle"]
        assert [d["id"] for d in _dead_for(srv, theirs)] == [dead["id"]]


def test_user_without_ccemu_actions_is_refused_naming_the_action(
    srv: Server, receiver: Receiver
) -> None:
    repo = _dead_commit(srv, receiver)
    (dead,) = _dead_for(srv, repo)
    deny = {
        "Sid": "NoRedelivery",
        "Effect": "Deny",
        "Action": "ccemu:RedeliverEvent",
        "Resource": "*",
    }
    with _signed_in(srv, _user(srv, [CODE])) as c:
        r = c.get("/console/events")
        assert r.status_code == 403
        assert '<code class="action">ccemu:ListEvents</code>' in r.text
        assert f"arn:aws:ccemu:us-east-1:{ACCOUNT}:events" in r.text
        assert repo not in r.text
    with _signed_in(srv, _user(srv, [CODE, EVENTS, deny])) as c:
        page = c.get("/console/events")
        assert page.status_code == 200 and repo in page.text
        r = c.post(
            "/console/events/redeliver",
            data={"csrf": _csrf(page.text), "delivery": str(dead["id"])},
        )
        assert r.status_code == 403 and "NoRedelivery" in r.text
        assert '<code class="action">ccemu:RedeliverEvent</code>' in r.text
        assert wait_idle(srv.url)["idle"]
        assert [d["id"] for d in _dead_for(srv, repo)] == [dead["id"]]
