"""A web page cannot wipe ccemu: the reset endpoints refuse what a browser can send on a page's
behalf (a request with `Origin`, an unsigned one without `X-Ccemu-Reset: 1`), and still take the
fixture's reset and the root's signed one."""

from __future__ import annotations

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
