"""Delivery you can rely on: retries through an outage (5xx, then connection refused), order per
repository, MessageIds reused on retry, a restart with pending deliveries, dead letters and
redelivery, and the guards of the HTTP client."""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Server, git, make_commits, start_server
from events_receiver import Receiver, get_json, post_json, wait_idle

from emulator.events import http_client
from emulator.events.policy import DEFAULT_POLICY, RetryPolicy, parse_retry_policy

SCALE = "0.01"  # SNS's 20-second retry delay becomes 0.2 s
# Enough retries (0.2 s apart) to outlast the outages below.
PATIENT = json.dumps(
    {"http": {"defaultHealthyRetryPolicy": {"numRetries": 60, "minDelayTarget": 20}}}
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def _setup(server: Server, r: Receiver) -> tuple[str, str]:
    """A topic with a patient delivery policy, a confirmed subscription of `r` and a repository
    whose trigger publishes to the topic."""
    sns = server.client("sns")
    arn = sns.create_topic(
        Name=f"t-{uuid.uuid4().hex[:8]}", Attributes={"DeliveryPolicy": PATIENT}
    )["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=r.url)
    (conf,) = r.wait_for(1)
    sns.confirm_subscription(TopicArn=arn, Token=conf.json()["Token"])
    cc = server.client("codecommit")
    name = f"repo-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=name)
    cc.put_repository_triggers(
        repositoryName=name, triggers=[{"name": "t", "destinationArn": arn, "events": ["all"]}]
    )
    return arn, name


def _pushed_commits(r: Receiver) -> tuple[list[str], list[str]]:
    """(commit of each delivered notification in arrival order, their MessageIds)."""
    commits, ids = [], []
    for q in r.notifications():
        body = q.json()
        rec = json.loads(body["Message"])["Records"][0]
        commits.append(rec["codecommit"]["references"][0]["commit"])
        ids.append(body["MessageId"])
    return commits, ids


def _push_n(
    server: Server, name: str, env: dict[str, str], work: Path, n: int
) -> tuple[list[str], list[str]]:
    """Push `n` commits one by one; returns them and the MessageIds the outbox gave them."""
    shas = []
    for _ in range(n):
        (sha,) = make_commits(env, work)
        git(env, "push", "-q", server.git_url(name), "main", cwd=work)
        shas.append(sha)
    log = get_json(f"{server.url}/_ccemu/events?repository={name}")["events"]
    ids = [e["deliveries"][0]["messageId"] for e in log]
    return shas, ids


def test_outage_then_recovery_delivers_everything_in_order(
    tmp_path: Path, receiver: Receiver, git_env: dict[str, str]
) -> None:
    server = start_server(tmp_path / "data", "--delivery-retry-scale", SCALE)
    try:
        _, name = _setup(server, receiver)
        receiver.status = 500
        shas, ids = _push_n(server, name, git_env, tmp_path / "w", 3)
        time.sleep(0.6)
        assert receiver.refused, "the receiver saw failing attempts"
        receiver.stop()  # now connections are refused
        more, _ = _push_n(server, name, git_env, tmp_path / "w", 1)
        shas += more
        time.sleep(0.6)
        receiver.status = 200
        receiver.start()
        assert wait_idle(server.url)["idle"]
        commits, got_ids = _pushed_commits(receiver)
        assert commits == shas  # every event, once, in push order
        log = get_json(f"{server.url}/_ccemu/events?repository={name}")["events"]
        expected_ids = [e["deliveries"][0]["messageId"] for e in log]
        assert got_ids == expected_ids
        assert ids == expected_ids[:3]
        # Retries reused the MessageId: every failed attempt named one of the same messages.
        refused_ids = {q.json()["MessageId"] for q in receiver.refused}
        assert refused_ids <= set(expected_ids)
        first = log[0]["deliveries"][0]
        assert first["state"] == "delivered"
        statuses = [a["status"] for a in first["attempts"]]
        assert statuses[0] == 500 and statuses[-1] == 200
        assert any(a["status"] is None and a["error"] for a in first["attempts"])
    finally:
        server.stop()


def test_restart_with_pending_deliveries_loses_none(
    tmp_path: Path, receiver: Receiver, git_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    server = start_server(data, "--delivery-retry-scale", SCALE)
    try:
        _, name = _setup(server, receiver)
        receiver.stop()
        shas, ids = _push_n(server, name, git_env, tmp_path / "w", 3)
        time.sleep(0.3)
    finally:
        assert server.stop() == 0
    assert receiver.notifications() == []
    receiver.start()
    server = start_server(data, "--delivery-retry-scale", SCALE)
    try:
        assert wait_idle(server.url)["idle"]
        commits, got_ids = _pushed_commits(receiver)
        assert commits == shas
        assert got_ids == ids
    finally:
        server.stop()


def test_dead_letters_and_redelivery(
    tmp_path: Path, receiver: Receiver, git_env: dict[str, str]
) -> None:
    server = start_server(
        tmp_path / "data", "--delivery-retry-scale", SCALE, "--event-webhook", receiver.url
    )
    try:
        cc = server.client("codecommit")
        name = f"repo-{uuid.uuid4().hex[:8]}"
        cc.create_repository(repositoryName=name)
        receiver.status = 503
        (sha,) = make_commits(git_env, tmp_path / "w")
        git(git_env, "push", "-q", server.git_url(name), "main", cwd=tmp_path / "w")
        assert wait_idle(server.url)["idle"]
        (dead,) = get_json(f"{server.url}/_ccemu/events/dead")["deliveries"]
        assert dead["kind"] == "webhook"
        assert dead["attemptCount"] == 1 + DEFAULT_POLICY.num_retries
        assert len(receiver.refused) == 4
        receiver.status = 200
        assert post_json(f"{server.url}/_ccemu/events/{dead['id']}/redeliver", {}) == {
            "redelivering": 1
        }
        assert wait_idle(server.url)["idle"]
        (got,) = receiver.requests
        assert got.json()["detail"]["commitId"] == sha
        assert get_json(f"{server.url}/_ccemu/events/dead")["deliveries"] == []
        (event,) = get_json(f"{server.url}/_ccemu/events?repository={name}")["events"]
        statuses = [a["status"] for a in event["deliveries"][0]["attempts"]]
        assert statuses == [503, 503, 503, 503, 200]

        # A final answer (here 404) is not retried; 429 is.
        receiver.status = 404
        make_commits(git_env, tmp_path / "w")
        git(git_env, "push", "-q", server.git_url(name), "main", cwd=tmp_path / "w")
        assert wait_idle(server.url)["idle"]
        (dead,) = get_json(f"{server.url}/_ccemu/events/dead")["deliveries"]
        assert dead["attemptCount"] == 1
        receiver.status = 429
        make_commits(git_env, tmp_path / "w")
        git(git_env, "push", "-q", server.git_url(name), "main", cwd=tmp_path / "w")
        time.sleep(0.1)
        receiver.status = 200
        assert wait_idle(server.url)["idle"]
        assert len(get_json(f"{server.url}/_ccemu/events/dead")["deliveries"]) == 1
    finally:
        server.stop()


def test_link_local_and_metadata_destinations_are_refused(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    server = start_server(
        tmp_path / "data",
        "--delivery-retry-scale",
        SCALE,
        "--event-webhook",
        "http://169.254.169.254/latest/meta-data/",
    )
    try:
        cc = server.client("codecommit")
        name = f"repo-{uuid.uuid4().hex[:8]}"
        cc.create_repository(repositoryName=name)
        make_commits(git_env, tmp_path / "w")
        git(git_env, "push", "-q", server.git_url(name), "main", cwd=tmp_path / "w")
        assert wait_idle(server.url)["idle"]
        (dead,) = get_json(f"{server.url}/_ccemu/events/dead")["deliveries"]
        (event,) = get_json(f"{server.url}/_ccemu/events?repository={name}")["events"]
        (attempt,) = event["deliveries"][0]["attempts"]
        assert "refused" in attempt["error"]
        assert dead["url"].startswith("http://169.254.169.254/")
        req = urllib.request.Request(
            f"{server.url}/_ccemu/webhooks",
            data=json.dumps({"url": "file:///etc/passwd"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert info.value.code == 400
    finally:
        server.stop()


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "169.254.1.1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254"],
)
def test_http_client_refuses(address: str) -> None:
    with pytest.raises(http_client.BlockedAddress):
        http_client.check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "::1", "fd12::1"])
def test_http_client_allows_loopback_and_private(address: str) -> None:
    http_client.check_address(ipaddress.ip_address(address))


def test_http_client_does_not_follow_redirects(receiver: Receiver) -> None:
    receiver.status = 302
    answer = http_client.post(receiver.url, b"{}", {}, timeout=5, max_response=10)
    assert answer.status == 302 and not answer.ok and not answer.retryable
    assert len(receiver.refused) == 1


def test_retry_policy_phases() -> None:
    assert [DEFAULT_POLICY.delay(i) for i in (1, 2, 3)] == [20.0, 20.0, 20.0]
    p = parse_retry_policy(
        {
            "numRetries": 6,
            "numNoDelayRetries": 1,
            "numMinDelayRetries": 1,
            "numMaxDelayRetries": 1,
            "minDelayTarget": 2,
            "maxDelayTarget": 8,
            "backoffFunction": "linear",
        }
    )
    assert [p.delay(i) for i in range(1, 7)] == [0.0, 2.0, 2.0, 5.0, 8.0, 8.0]
    for bad in ({"numRetries": -1}, {"backoffFunction": "cubic"}, {"minDelayTarget": 30}):
        with pytest.raises(ValueError):
            parse_retry_policy(bad)
    assert RetryPolicy.from_json(p.to_json()) == p
