"""The credential core without the HTTP door: access keys, service-specific credentials,
temporary credentials and their expiry (with an injectable clock), and SigV4 session tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.config import Config
from emulator.core import Emulator
from emulator.errors import ClientError
from emulator.iam import sigv4
from emulator.iam.credentials import CredentialStore
from emulator.iam.git_password import expected_signature, verify_git_password
from emulator.iam.keys.sessions import Sessions
from emulator.iam.principal import Principal
from emulator.iam.sts import STS

ACCOUNT = "123456789012"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    e = Emulator(Config(data_dir=tmp_path / "data"))
    yield e
    e.close()


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.code


def _trust(*principals: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": list(principals)},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _signed(key: str, secret: str, token: str | None, when: datetime) -> dict[str, Any]:
    creds = Credentials(key, secret, token)
    req = AWSRequest(method="POST", url="http://localhost/", data=b"{}")
    req.headers["Host"] = "localhost"
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer = SigV4Auth(creds, "codecommit", "us-east-1")
    # add_auth reads the clock itself; sign by hand so the request is dated `when`.
    signer._modify_request_before_signing(req)
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    signature = signer.signature(sts, req)
    headers = dict(req.headers.items())
    scope = f"{key}/{when:%Y%m%d}/us-east-1/codecommit/aws4_request"
    signed = ";".join(sorted(h.lower() for h in headers))
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def _verify(store: CredentialStore, headers: dict[str, str], when: datetime) -> Any:
    return sigv4.verify(
        store,
        method="POST",
        raw_path="/",
        query="",
        headers=list(headers.items()),
        body=b"{}",
        now=when,
    )


# -- access keys ----------------------------------------------------------------------------


def test_access_key_lifecycle_and_lookup(emu: Emulator) -> None:
    user = emu.iam.entities.create_user(ACCOUNT, "alice", "/dev/", (("team", "blue"),))
    made = emu.keys.access.create(ACCOUNT, "alice")
    key_id, secret = made.key.access_key_id, made.secret_access_key
    assert key_id.startswith("AKIA") and len(key_id) == 20 and key_id.isupper()
    assert len(secret) == 40

    found = emu.credentials.lookup(key_id)
    assert found is not None and found.secret_key == secret
    p = found.principal
    assert (p.kind, p.arn, p.user_id, p.name) == (
        "IAMUser", "arn:aws:iam::123456789012:user/dev/alice", user.id, "alice"
    )  # fmt: skip
    assert p.tags == (("team", "blue"),)

    emu.keys.access.create(ACCOUNT, "alice")
    with pytest.raises(ClientError) as exc:
        emu.keys.access.create(ACCOUNT, "alice")
    assert _code(exc) == "LimitExceeded"

    emu.keys.access.update(ACCOUNT, "alice", key_id, "Inactive")
    assert emu.credentials.lookup(key_id) is None
    emu.keys.access.update(ACCOUNT, "alice", key_id, "Active")
    assert emu.credentials.lookup(key_id) is not None
    emu.keys.access.delete(ACCOUNT, "alice", key_id)
    assert emu.credentials.lookup(key_id) is None
    with pytest.raises(ClientError) as exc:
        emu.keys.access.delete(ACCOUNT, "alice", key_id)
    assert _code(exc) == "NoSuchEntity"

    # The secret is sealed: it appears nowhere in the database files.
    for path in emu.config.data_dir.glob("state.db*"):
        assert secret.encode() not in path.read_bytes()


def test_keys_need_an_existing_user_and_root_may_have_keys(emu: Emulator) -> None:
    with pytest.raises(ClientError) as exc:
        emu.keys.access.create(ACCOUNT, "nobody")
    assert _code(exc) == "NoSuchEntity"
    made = emu.keys.access.create(ACCOUNT, None)
    found = emu.credentials.lookup(made.key.access_key_id)
    assert found is not None and found.principal.kind == "Root"
    assert found.principal.arn == f"arn:aws:iam::{ACCOUNT}:root"


def test_last_used_is_recorded_once_a_minute(emu: Emulator) -> None:
    emu.iam.entities.create_user(ACCOUNT, "bob")
    key_id = emu.keys.access.create(ACCOUNT, "bob").key.access_key_id
    used = emu.keys.access.last_used(key_id)
    assert used is not None and used.when is None
    emu.credentials.record_use(key_id, "codecommit", "eu-west-1")
    emu.credentials.record_use(key_id, "sts", "us-east-1")  # within the minute: not written
    used = emu.keys.access.last_used(key_id)
    assert used is not None and (used.service, used.region) == ("codecommit", "eu-west-1")
    assert used.when is not None


def test_deleting_a_user_with_keys_is_refused(emu: Emulator) -> None:
    emu.iam.entities.create_user(ACCOUNT, "carol")
    key_id = emu.keys.access.create(ACCOUNT, "carol").key.access_key_id
    with pytest.raises(ClientError) as exc:
        emu.iam.delete_user(ACCOUNT, "carol")
    assert _code(exc) == "DeleteConflict"
    emu.keys.access.delete(ACCOUNT, "carol", key_id)
    emu.iam.delete_user(ACCOUNT, "carol")


# -- service-specific credentials -----------------------------------------------------------


def test_git_credentials_verify_reset_deactivate_delete(emu: Emulator) -> None:
    emu.iam.entities.create_user(ACCOUNT, "dana")
    made = emu.keys.service.create(ACCOUNT, "dana", "codecommit.amazonaws.com")
    cred = made.credential
    assert cred.credential_id.startswith("ACCA") and len(cred.credential_id) == 21
    assert cred.service_user_name == f"dana-at-{ACCOUNT}"
    assert len(made.password) == 44
    login = cred.service_user_name

    p = emu.keys.verify_git_credential(login, made.password)
    assert p is not None and p.kind == "IAMUser" and p.name == "dana"
    assert emu.keys.verify_git_credential(login, made.password) is not None  # from the cache
    assert emu.keys.verify_git_credential(login, made.password[:-2] + "xx") is None
    assert emu.keys.verify_git_credential(f"dana-at-{'1' * 12}", made.password) is None

    reset = emu.keys.service.reset(ACCOUNT, "dana", cred.credential_id)
    assert emu.keys.verify_git_credential(login, made.password) is None
    assert emu.keys.verify_git_credential(login, reset.password) is not None

    emu.keys.service.update(ACCOUNT, "dana", cred.credential_id, "Inactive")
    assert emu.keys.verify_git_credential(login, reset.password) is None
    emu.keys.service.update(ACCOUNT, "dana", cred.credential_id, "Active")
    assert emu.keys.verify_git_credential(login, reset.password) is not None
    emu.keys.service.delete(ACCOUNT, "dana", cred.credential_id)
    assert emu.keys.verify_git_credential(login, reset.password) is None

    for path in emu.config.data_dir.glob("state.db*"):
        assert reset.password.encode() not in path.read_bytes()


def test_git_credentials_limits_and_services(emu: Emulator) -> None:
    emu.iam.entities.create_user(ACCOUNT, "erin")
    for _ in range(2):
        emu.keys.service.create(ACCOUNT, "erin", "codecommit.amazonaws.com")
    with pytest.raises(ClientError) as exc:
        emu.keys.service.create(ACCOUNT, "erin", "codecommit.amazonaws.com")
    assert _code(exc) == "LimitExceeded"
    with pytest.raises(ClientError) as exc:
        emu.keys.service.create(ACCOUNT, "erin", "cassandra.amazonaws.com")
    assert _code(exc) == "NotSupportedService"


# -- temporary credentials ------------------------------------------------------------------


@pytest.fixture
def clocked(emu: Emulator) -> tuple[Clock, STS, CredentialStore]:
    clock = Clock()
    sessions = Sessions(emu.db, emu.secrets, clock)
    return (
        clock,
        STS(sessions, emu.iam.entities, clock=clock),
        CredentialStore(emu.config, emu.keys, sessions),
    )


def _alice(emu: Emulator) -> Principal:
    emu.iam.entities.create_user(ACCOUNT, "alice")
    made = emu.keys.access.create(ACCOUNT, "alice")
    found = emu.credentials.lookup(made.key.access_key_id)
    assert found is not None
    return found.principal


def test_session_expires_and_sigv4_says_expired(
    emu: Emulator, clocked: tuple[Clock, STS, CredentialStore]
) -> None:
    clock, sts, store = clocked
    alice = _alice(emu)
    creds = sts.get_session_token(alice, 900)
    assert creds.expiration == clock.now + timedelta(seconds=900)
    assert creds.access_key_id.startswith("ASIA")

    headers = _signed(creds.access_key_id, creds.secret_access_key, creds.session_token, clock.now)
    verified = _verify(store, headers, clock.now)
    assert verified.identity.principal.arn == alice.arn
    assert verified.identity.principal.access_key_id == creds.access_key_id

    clock.now += timedelta(seconds=901)
    assert store.lookup(creds.access_key_id, clock.now) is None
    headers = _signed(creds.access_key_id, creds.secret_access_key, creds.session_token, clock.now)
    with pytest.raises(sigv4.ExpiredToken) as exc:
        _verify(store, headers, clock.now)
    assert exc.value.code == "ExpiredTokenException"
    assert exc.value.message == "The security token included in the request is expired"


def test_session_token_must_match(
    emu: Emulator, clocked: tuple[Clock, STS, CredentialStore]
) -> None:
    clock, sts, store = clocked
    alice = _alice(emu)
    creds = sts.get_session_token(alice)
    assert creds.expiration == clock.now + timedelta(seconds=43200)
    for token in (None, creds.session_token[:-4] + "AAAA"):
        headers = _signed(creds.access_key_id, creds.secret_access_key, token, clock.now)
        with pytest.raises(sigv4.UnrecognizedClient):
            _verify(store, headers, clock.now)
    # A long-term key with a session token is refused too.
    assert alice.access_key_id is not None
    secret = emu.keys.access.secret(alice.access_key_id)
    assert secret is not None
    headers = _signed(alice.access_key_id, secret.secret_access_key, "bogus", clock.now)
    with pytest.raises(sigv4.UnrecognizedClient):
        _verify(store, headers, clock.now)


def test_git_password_with_session_token(
    emu: Emulator, clocked: tuple[Clock, STS, CredentialStore]
) -> None:
    clock, sts, store = clocked
    creds = sts.get_session_token(_alice(emu), 900)
    stamp = clock.now.strftime("%Y%m%dT%H%M%S")
    sig = expected_signature(
        creds.secret_access_key, creds.access_key_id, "us-east-1", "localhost", "/v1/repos/r", stamp
    )

    def check(user: str, when: datetime) -> Principal | None:
        return verify_git_password(
            user, f"{stamp}Z{sig}", repository="r", hosts=["localhost"], region="us-east-1",
            lookup=lambda k: store.lookup(k, when), now=when,
        )  # fmt: skip

    assert check(f"{creds.access_key_id}%{creds.session_token}", clock.now) is not None
    assert check(creds.access_key_id, clock.now) is None
    assert check(f"{creds.access_key_id}%{creds.session_token}x", clock.now) is None
    later = clock.now + timedelta(seconds=901)
    assert check(f"{creds.access_key_id}%{creds.session_token}", later) is None


def test_get_session_token_rules(
    emu: Emulator, clocked: tuple[Clock, STS, CredentialStore]
) -> None:
    clock, sts, store = clocked
    root = Principal.root(ACCOUNT, "test")
    # The root user's sessions last at most an hour.
    assert sts.get_session_token(root, 7200).expiration == clock.now + timedelta(hours=1)
    alice = _alice(emu)
    with pytest.raises(ClientError) as exc:
        sts.get_session_token(alice, 899)
    assert _code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        sts.get_session_token(alice, 129601)
    assert _code(exc) == "ValidationError"
    creds = sts.get_session_token(alice, 129600)
    session = store.lookup(creds.access_key_id)
    assert session is not None
    with pytest.raises(ClientError) as exc:
        sts.get_session_token(session.principal)
    assert _code(exc) == "AccessDenied"


def test_user_names_are_case_insensitive_and_renames_keep_credentials(emu: Emulator) -> None:
    from emulator.iam.keys import rename_user

    emu.iam.entities.create_user(ACCOUNT, "Frank")
    key_id = emu.keys.access.create(ACCOUNT, "FRANK").key.access_key_id
    assert [k.access_key_id for k in emu.keys.access.list(ACCOUNT, "frank")] == [key_id]
    emu.iam.entities.update_user(ACCOUNT, "Frank", "Francis", None)
    with emu.db.transaction() as conn:
        rename_user(conn, ACCOUNT, "Frank", "Francis")
    found = emu.credentials.lookup(key_id)
    assert found is not None and found.principal.arn.endswith(":user/Francis")
