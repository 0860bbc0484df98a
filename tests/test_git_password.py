"""SigV4 git passwords: the conformance vectors verify at their time and fail on any change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.iam.credentials import SigningIdentity
from emulator.iam.git_password import (
    host_candidates,
    parse_basic_authorization,
    verify_git_password,
)
from emulator.iam.principal import Principal

VECTORS_FILE = Path(__file__).parent / "data/conformance/git_sigv4_vectors.json"
DATA = json.loads(VECTORS_FILE.read_text())
VECTORS: list[dict[str, Any]] = DATA["vectors"]
PRINCIPAL = Principal.root("123456789012", DATA["access_key_id"])


def lookup_for(vector: dict[str, Any], secret: str | None = None) -> Any:
    def lookup(akid: str) -> SigningIdentity | None:
        if akid != DATA["access_key_id"]:
            return None
        return SigningIdentity(
            PRINCIPAL, secret or DATA["secret_access_key"], vector["session_token"]
        )

    return lookup


def at(vector: dict[str, Any]) -> datetime:
    return datetime.strptime(vector["time_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def verify(vector: dict[str, Any], **changes: Any) -> Principal | None:
    args: dict[str, Any] = {
        "username": vector["basic_auth_username"],
        "password": vector["password"],
        "repository": vector["repository"],
        "hosts": [vector["host"]],
        "region": vector["region"],
        "lookup": lookup_for(vector),
        "now": at(vector),
    }
    args.update(changes)
    username, password = args.pop("username"), args.pop("password")
    return verify_git_password(username, password, **args)


def test_vectors_file_has_cases() -> None:
    assert len(VECTORS) >= 4


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['region']}-{v['repository']}")
def test_vector_verifies_at_its_time(vector: dict[str, Any]) -> None:
    assert verify(vector) == PRINCIPAL
    # Within the allowed skew either side.
    assert verify(vector, now=at(vector) + timedelta(minutes=14)) == PRINCIPAL
    assert verify(vector, now=at(vector) - timedelta(minutes=14)) == PRINCIPAL


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['region']}-{v['repository']}")
def test_vector_fails_when_any_input_differs(vector: dict[str, Any]) -> None:
    pw: str = vector["password"]
    flipped = pw[:-1] + ("0" if pw[-1] != "0" else "1")
    assert verify(vector, repository=vector["repository"] + "x") is None
    assert verify(vector, repository=vector["repository"].upper()) is None
    assert verify(vector, hosts=["other." + vector["host"]]) is None
    assert verify(vector, region="ap-south-1") is None
    assert verify(vector, now=at(vector) + timedelta(minutes=16)) is None
    assert verify(vector, now=at(vector) - timedelta(minutes=16)) is None
    assert verify(vector, password=flipped) is None
    # The same signature claimed for another second no longer verifies.
    stamp = at(vector) + timedelta(seconds=1)
    assert verify(vector, password=stamp.strftime("%Y%m%dT%H%M%SZ") + pw[16:]) is None
    assert verify(vector, password=pw[:-1]) is None
    assert verify(vector, password="") is None
    assert verify(vector, lookup=lookup_for(vector, secret="not-the-secret")) is None
    assert verify(vector, username="AKIAOTHERKEY0000000") is None
    if vector["session_token"]:
        assert verify(vector, username=DATA["access_key_id"]) is None
        assert verify(vector, username=vector["basic_auth_username"] + "x") is None
    else:
        assert verify(vector, username=DATA["access_key_id"] + "%sometoken") is None


def test_host_with_port_accepts_either_signed_form() -> None:
    assert host_candidates("127.0.0.1:8080") == ["127.0.0.1:8080", "127.0.0.1"]
    assert host_candidates("Example.COM") == ["example.com"]
    assert host_candidates("[::1]:9000") == ["[::1]:9000", "[::1]"]


def test_parse_basic_authorization() -> None:
    import base64

    header = "Basic " + base64.b64encode(b"AKID%tok:pw:with:colons").decode()
    assert parse_basic_authorization(header) == ("AKID%tok", "pw:with:colons")
    assert parse_basic_authorization("Bearer abc") is None
    assert parse_basic_authorization("Basic !!!") is None
    assert parse_basic_authorization(None) is None
