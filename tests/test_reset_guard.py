"""A web page cannot wipe ccemu: the reset endpoints refuse what a browser can send on a page's
behalf (a request with `Origin`, an unsigned one without `X-Ccemu-Reset: 1`), and still take the
fixture's reset and the root's signed one."""

from __future__ import annotations

import json

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.pytest_plugin import Ccemu

PATHS = ["/_ccemu/reset", "/moto-api/reset"]


def _signed(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    req = AWSRequest(method="POST", url=url, data=b"", headers=extra or {})
    SigV4Auth(Credentials("test", "test"), "ccemu", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def _names(ccemu: Ccemu) -> list[str]:
    repos = ccemu.client("codecommit").list_repositories()["repositories"]
    return [r["repositoryName"] for r in repos]


@pytest.mark.parametrize("path", PATHS)
def test_reset_posted_by_a_web_page_is_refused_and_nothing_is_deleted(
    ccemu: Ccemu, path: str
) -> None:
    ccemu.create_repository("precious")
    url = ccemu.endpoint_url + path
    page = {"Origin": "https://evil.example"}
    attempts = [
        # What a form or a no-cors fetch sends: no custom header, a simple content type.
        {**page, "Content-Type": "application/x-www-form-urlencoded"},
        # Even with the header (a page could only add it after a preflight we never approve)...
        {**page, "X-Ccemu-Reset": "1"},
        # ...and even signed with the documented default root keys.
        _signed(url, page),
        # A page served from a rebound name is same-origin, but the browser still says so.
        {"Origin": "null", "X-Ccemu-Reset": "1"},
    ]
    for headers in attempts:
        resp = httpx.post(url, content=b"", headers=headers)
        assert resp.status_code == 403, (headers, resp.text)
        assert "Origin" in resp.json()["message"]
    assert _names(ccemu) == ["precious"]
    # A preflight is never approved, so a page cannot add the header or a signature.
    preflight = httpx.options(
        url,
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-ccemu-reset",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert _names(ccemu) == ["precious"]


@pytest.mark.parametrize("path", PATHS)
def test_unsigned_reset_without_the_reset_header_is_refused(ccemu: Ccemu, path: str) -> None:
    ccemu.create_repository("precious")
    url = ccemu.endpoint_url + path
    for headers in [{}, {"X-Ccemu-Reset": "yes"}, {"Content-Type": "text/plain"}]:
        resp = httpx.post(url, content=b"", headers=headers)
        assert resp.status_code == 403, (headers, resp.text)
        assert "X-Ccemu-Reset: 1" in resp.json()["message"]
    assert _names(ccemu) == ["precious"]
    # With the header, from loopback, it resets.
    resp = httpx.post(url, content=b"", headers={"X-Ccemu-Reset": "1"})
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
    assert _names(ccemu) == []


def test_the_fixtures_reset_and_the_signed_reset_still_work(ccemu: Ccemu) -> None:
    ccemu.create_repository("one")
    ccemu.reset()
    assert _names(ccemu) == []
    ccemu.create_repository("two")
    url = ccemu.endpoint_url + "/_ccemu/reset"
    # Signed by the root: no custom header needed.
    resp = httpx.post(url, content=b"", headers=_signed(url))
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
    assert _names(ccemu) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Content-Type": "application/json"},
        {"Content-Type": "text/plain"},
        {},
    ],
    ids=["with-origin", "text-plain", "form-default"],
)
def test_web_page_cannot_add_a_webhook_to_read_every_event(
    ccemu: Ccemu, headers: dict[str, str]
) -> None:
    # What a page can make a browser send to 127.0.0.1 without a preflight.
    before = httpx.get(f"{ccemu.endpoint_url}/_ccemu/webhooks").json()["webhooks"]
    resp = httpx.post(
        f"{ccemu.endpoint_url}/_ccemu/webhooks",
        content=json.dumps({"url": "http://127.0.0.1:9/steal"}),
        headers=headers,
    )
    assert resp.status_code in (403, 415)
    assert httpx.get(f"{ccemu.endpoint_url}/_ccemu/webhooks").json()["webhooks"] == before
    resp = httpx.post(
        f"{ccemu.endpoint_url}/_ccemu/events/1/redeliver",
        headers={"Origin": "https://evil.example"},
    )
    assert resp.status_code == 403


def test_webhook_added_by_a_client_that_says_json(ccemu: Ccemu) -> None:
    resp = httpx.post(
        f"{ccemu.endpoint_url}/_ccemu/webhooks", json={"url": "http://127.0.0.1:9/ok"}
    )
    assert resp.status_code == 201
    hook = resp.json()
    assert hook["url"] == "http://127.0.0.1:9/ok"
    assert httpx.delete(f"{ccemu.endpoint_url}/_ccemu/webhooks/{hook['id']}").status_code == 204
