"""SigV4 verification: unit tests of `emulator.iam.sigv4.verify` and the server's answers."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import Server
from test_api_protocol import assert_still_serving, error_of, signed_headers, signed_post

from emulator.config import Config
from emulator.iam import sigv4
from emulator.iam.credentials import CredentialStore

STORE = CredentialStore(Config())


def _verify(url: str, body: bytes, headers: dict[str, str], **kw: Any) -> sigv4.VerifiedRequest:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    # botocore signs the host from the URL; the HTTP client is what sends the header.
    headers = {"Host": parts.netloc, **headers}
    return sigv4.verify(
        STORE,
        method=kw.pop("method", "POST"),
        raw_path=parts.path or "/",
        query=parts.query,
        headers=list(headers.items()),
        body=body,
        **kw,
    )


def _sign(url: str, body: bytes, **kw: Any) -> dict[str, str]:
    return signed_headers(url, body, target="CodeCommit_20150413.ListRepositories", **kw)


URL = "http://127.0.0.1:9999/"


def test_botocore_signature_verifies_and_names_the_caller() -> None:
    headers = _sign(URL, b"{}", region="eu-west-1")
    verified = _verify(URL, b"{}", headers)
    assert verified.identity.principal.account == "123456789012"
    assert verified.scope.region == "eu-west-1"
    assert verified.scope.service == "codecommit"


def test_twelve_digit_key_is_root_of_that_account() -> None:
    headers = _sign(URL, b"{}", key="210987654321")
    verified = _verify(URL, b"{}", headers)
    assert verified.identity.principal.account == "210987654321"
    assert verified.identity.principal.arn == "arn:aws:iam::210987654321:root"


@pytest.mark.parametrize(
    "url", ["http://h:1/some%20path/x?b=2&a=1&c=%2F", "http://h:1/?Action=List&Version=1"]
)
def test_paths_and_queries_canonicalize_like_botocore(url: str) -> None:
    headers = _sign(url, b"body")
    _verify(url, b"body", headers)
    # The same signature does not cover a different query.
    with pytest.raises(sigv4.InvalidSignature):
        _verify(url + "&extra=1", b"body", headers)


def test_tampered_body_is_rejected() -> None:
    headers = _sign(URL, b'{"a": 1}')
    with pytest.raises(sigv4.InvalidSignature) as info:
        _verify(URL, b'{"a": 2}', headers)
    assert info.value.message.startswith(sigv4.SIGNATURE_MISMATCH)


def test_tampered_signed_header_is_rejected() -> None:
    headers = _sign(URL, b"{}")
    headers["X-Amz-Target"] = "CodeCommit_20150413.DeleteRepository"
    with pytest.raises(sigv4.InvalidSignature):
        _verify(URL, b"{}", headers)


def test_wrong_secret_is_rejected() -> None:
    headers = _sign(URL, b"{}", secret="not-the-secret")
    with pytest.raises(sigv4.InvalidSignature):
        _verify(URL, b"{}", headers)


def test_unknown_access_key() -> None:
    headers = _sign(URL, b"{}", key="AKIDUNKNOWN")
    with pytest.raises(sigv4.UnrecognizedClient) as info:
        _verify(URL, b"{}", headers)
    assert info.value.message == "The security token included in the request is invalid."


@pytest.mark.parametrize("minutes", [-20, 20])
def test_clock_skew_beyond_15_minutes(minutes: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    headers = _sign(URL, b"{}", when=when)
    with pytest.raises(sigv4.InvalidSignature) as info:
        _verify(URL, b"{}", headers)
    expected = "Signature expired:" if minutes < 0 else "Signature not yet current:"
    assert info.value.message.startswith(expected)


def test_skew_within_15_minutes_is_accepted() -> None:
    headers = _sign(URL, b"{}", when=datetime.now(UTC) - timedelta(minutes=14))
    _verify(URL, b"{}", headers)


@pytest.mark.parametrize("amz_date", ["20261301T000000Z", "20260230T000000Z", "20260101T246000Z"])
def test_impossible_x_amz_date_is_an_incomplete_signature(amz_date: str) -> None:
    headers = _sign(URL, b"{}")
    headers["X-Amz-Date"] = amz_date
    with pytest.raises(sigv4.IncompleteSignature) as info:
        _verify(URL, b"{}", headers)
    assert info.value.message == f"Invalid X-Amz-Date: {amz_date}"


def test_scope_date_must_match_x_amz_date() -> None:
    headers = _sign(URL, b"{}")
    auth = headers["Authorization"]
    day = headers["X-Amz-Date"][:8]
    other = (datetime.strptime(day, "%Y%m%d") - timedelta(days=1)).strftime("%Y%m%d")
    headers["Authorization"] = auth.replace(f"/{day}/", f"/{other}/")
    with pytest.raises(sigv4.InvalidSignature) as info:
        _verify(URL, b"{}", headers)
    assert "date" in info.value.message


def test_content_sha256_must_match_body() -> None:
    headers = _sign(URL, b"{}", extra={"X-Amz-Content-SHA256": "0" * 64})
    with pytest.raises(sigv4.InvalidSignature) as info:
        _verify(URL, b"{}", headers)
    assert "x-amz-content-sha256" in info.value.message


def test_missing_and_malformed_authorization() -> None:
    with pytest.raises(sigv4.MissingAuthenticationToken):
        _verify(URL, b"{}", {"Host": "h"})
    headers = _sign(URL, b"{}")
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/codecommit"
    with pytest.raises(sigv4.IncompleteSignature):
        _verify(URL, b"{}", headers)
    headers["Authorization"] = "Basic dGVzdDp0ZXN0"
    with pytest.raises(sigv4.IncompleteSignature):
        _verify(URL, b"{}", headers)


def test_signed_header_absent_from_request() -> None:
    headers = _sign(URL, b"{}")
    del headers["X-Amz-Target"]
    with pytest.raises(sigv4.InvalidSignature):
        _verify(URL, b"{}", headers)


def test_unsigned_extra_headers_do_not_matter() -> None:
    headers = _sign(URL, b"{}")
    headers["User-Agent"] = "something else"
    headers["X-Forwarded-For"] = "10.0.0.1"
    _verify(URL, b"{}", headers)


def test_git_method_signature_of_git_remote_codecommit_style() -> None:
    # Any method and path verify through the same code: here a GET with no body.
    req = AWSRequest(method="GET", url="http://h:1/v1/repos/x/info/refs?service=git-upload-pack")
    SigV4Auth(Credentials("test", "test"), "codecommit", "us-east-1").add_auth(req)
    _verify(req.url, b"", dict(req.headers.items()), method="GET")


# -- against the server ---------------------------------------------------------------------


def test_server_bad_signature(server: Server) -> None:
    resp = signed_post(server, "ListRepositories", {}, secret="wrong")
    status, code, message = error_of(resp)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match")
    assert_still_serving(server)


def test_server_unknown_key(server: Server) -> None:
    resp = signed_post(server, "ListRepositories", {}, key="AKIANOTAKEY")
    assert error_of(resp) == (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert_still_serving(server)


def test_server_clock_skew(server: Server) -> None:
    when = datetime.now(UTC) - timedelta(minutes=20)
    resp = signed_post(server, "ListRepositories", {}, when=when)
    status, code, message = error_of(resp)
    assert (status, code) == (403, "InvalidSignatureException")
    assert message.startswith("Signature expired:")
    assert_still_serving(server)


def test_server_missing_authentication(server: Server) -> None:
    resp = httpx.post(
        server.url + "/",
        content=b"{}",
        headers={
            "X-Amz-Target": "CodeCommit_20150413.ListRepositories",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert error_of(resp)[:2] == (403, "MissingAuthenticationTokenException")
    assert_still_serving(server)


def test_server_tampered_body_changes_nothing(server: Server, cc: Any) -> None:
    name = f"tamper-{uuid.uuid4().hex[:8]}"
    url = server.url + "/"
    signed_body = b'{"repositoryName": "harmless-%s"}' % uuid.uuid4().hex[:6].encode()
    headers = signed_headers(url, signed_body, target="CodeCommit_20150413.CreateRepository")
    evil = json.dumps({"repositoryName": name}).encode()
    resp = httpx.post(url, content=evil, headers=headers)
    assert error_of(resp)[1] == "InvalidSignatureException"
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.get_repository(repositoryName=name)


def test_boto3_with_wrong_secret_raises_modeled_error(server: Server) -> None:
    bad = server.client(secret="wrong")
    with pytest.raises(Exception) as info:
        bad.list_repositories()
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"  # type: ignore[attr-defined]


class _BotocoreSigner(SigV4Auth):  # type: ignore[misc]
    """botocore's signer, signing exactly the headers given."""

    def __init__(self, signed: Any) -> None:
        super().__init__(Credentials("k", "s"), "codecommit", "us-east-1")
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> Any:
        return self._signed


@pytest.mark.parametrize(
    "url",
    [
        "http://h:1/",
        "http://h:1",
        "http://h:1/a/./b/../c//d",
        "http://h:1/a/../../b/",  # request data, not a path read here
        "http://h:1/..",
        "http://h:1//",
        "http://h:1/a/b/..",
        "http://h:1/./a/.",
        "http://h:1/some%20path/%E2%9C%93/~user/x+y",
        "http://h:1/v1/repos/r%2Fx?b=2&a=1&a=0&c=%2F&empty=&flag",
        "http://h:1/?Action=List&Version=1&Marker=a%3D%3D",
    ],
)
def test_canonical_request_is_botocores(url: str) -> None:
    from botocore.compat import HTTPHeaders

    received = [
        ("host", "h:1"),
        ("x-amz-date", "20260101T000000Z"),
        ("x-amz-meta", "  two   spaces\tand tab "),
        ("x-amz-meta", "second value"),
        ("content-type", "application/x-amz-json-1.1"),
    ]
    boto_headers = HTTPHeaders()
    signed: dict[str, list[str]] = {}
    for name, value in received:
        boto_headers[name] = value
        signed.setdefault(name, []).append(value)
    request = AWSRequest(method="post", url=url, data=b"body")
    expected = _BotocoreSigner(boto_headers).canonical_request(request)
    body_hash = hashlib.sha256(b"body").hexdigest()
    assert sigv4.canonical_request(method="post", url=url, signed=signed, body_hash=body_hash) == (
        expected
    )


def test_signing_key_is_sigv4s_derivation() -> None:
    # AWS's documented example (the Signature Version 4 reference, "Examples of how to derive a
    # signing key"): secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
    key = sigv4.signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
