"""AssumeRole in the core: trust policy, same-account and cross-account rules, durations,
session names and policies, role chaining."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from emulator.config import Config
from emulator.core import Emulator
from emulator.errors import ClientError
from emulator.iam.principal import Principal
from emulator.iam.sts import STS

A = "123456789012"
B = "210987654321"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    e = Emulator(Config(data_dir=tmp_path / "data"))
    yield e
    e.close()


def _trust(*principals: str, condition: dict[str, object] | None = None) -> str:
    statement: dict[str, object] = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _user(emu: Emulator, account: str, name: str) -> Principal:
    emu.iam.entities.create_user(account, name)
    made = emu.keys.access.create(account, name)
    found = emu.credentials.lookup(made.key.access_key_id)
    assert found is not None
    return found.principal


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.code


def test_trust_naming_the_user_is_enough_in_the_same_account(emu: Emulator) -> None:
    alice = _user(emu, A, "alice")
    role = emu.iam.entities.create_role(A, "dev", _trust(alice.arn), tags=(("env", "dev"),))
    assumed = emu.sts.assume_role(alice, role.arn, "alice-session", duration_seconds=900)
    p = assumed.principal
    assert p.arn == f"arn:aws:sts::{A}:assumed-role/dev/alice-session"
    assert p.user_id == f"{role.id}:alice-session"
    assert (p.kind, p.role_arn, p.session_name, p.account) == (
        "AssumedRole", role.arn, "alice-session", A
    )  # fmt: skip
    assert p.tags == (("env", "dev"),)
    creds = assumed.credentials
    assert creds.access_key_id.startswith("ASIA") and len(creds.secret_access_key) == 40
    found = emu.credentials.lookup(creds.access_key_id)
    assert found is not None and found.principal.arn == p.arn
    assert found.token_matches(creds.session_token)
    assert found.principal.expires == creds.expiration


def test_trust_naming_the_account_also_needs_the_identity_policy(emu: Emulator) -> None:
    alice = _user(emu, A, "alice")
    role = emu.iam.entities.create_role(A, "ops", _trust(f"arn:aws:iam::{A}:root"))
    with pytest.raises(ClientError) as exc:
        emu.sts.assume_role(alice, role.arn, "s1")
    assert _code(exc) == "AccessDenied"
    assert exc.value.message == (
        f"User: {alice.arn} is not authorized to perform: sts:AssumeRole on resource: {role.arn}"
    )
    asked: list[tuple[str, str]] = []

    def allow(p: Principal, action: str, resource: str, context: object) -> bool:
        asked.append((action, resource))
        return True

    sts = STS(emu.sessions, emu.iam.entities, is_allowed=allow)
    assert sts.assume_role(alice, role.arn, "s1").principal.name == "ops"
    assert asked == [("sts:AssumeRole", role.arn)]


def test_cross_account_needs_both_sides(emu: Emulator) -> None:
    alice = _user(emu, A, "alice")
    role = emu.iam.entities.create_role(B, "shared", _trust(alice.arn))
    with pytest.raises(ClientError) as exc:
        emu.sts.assume_role(alice, role.arn, "x1")
    assert _code(exc) == "AccessDenied"
    sts = STS(emu.sessions, emu.iam.entities, is_allowed=lambda *a: True)
    assumed = sts.assume_role(alice, role.arn, "x1")
    assert assumed.principal.account == B
    other = emu.iam.entities.create_role(B, "closed", _trust(f"arn:aws:iam::{B}:root"))
    with pytest.raises(ClientError) as exc:
        sts.assume_role(alice, other.arn, "x1")
    assert _code(exc) == "AccessDenied"


def test_trust_conditions_see_the_external_id(emu: Emulator) -> None:
    alice = _user(emu, A, "alice")
    role = emu.iam.entities.create_role(
        A, "ext", _trust(alice.arn, condition={"StringEquals": {"sts:ExternalId": "k-42"}})
    )
    with pytest.raises(ClientError):
        emu.sts.assume_role(alice, role.arn, "s1")
    with pytest.raises(ClientError):
        emu.sts.assume_role(alice, role.arn, "s1", context={"sts:ExternalId": "nope"})
    emu.sts.assume_role(alice, role.arn, "s1", context={"sts:ExternalId": "k-42"})


def test_refusals(emu: Emulator) -> None:
    alice = _user(emu, A, "alice")
    role = emu.iam.entities.create_role(A, "dev", _trust(alice.arn), max_session_duration=7200)
    cases: list[tuple[dict[str, object], str]] = [
        ({"session_name": "x"}, "ValidationError"),
        ({"session_name": "has space"}, "ValidationError"),
        ({"duration_seconds": 899}, "ValidationError"),
        ({"duration_seconds": 7201}, "ValidationError"),
        ({"policy": "{not json"}, "MalformedPolicyDocument"),
        ({"policy": json.dumps({"Statement": [{"Effect": "Maybe"}]})}, "MalformedPolicyDocument"),
        ({"role_arn": f"arn:aws:iam::{A}:role/missing"}, "AccessDenied"),
        ({"role_arn": "not-an-arn"}, "ValidationError"),
        ({"role_arn": f"arn:aws:iam::{A}:role/other/path/dev"}, "AccessDenied"),
    ]
    for change, code in cases:
        args: dict[str, object] = {"role_arn": role.arn, "session_name": "ok-session", **change}
        with pytest.raises(ClientError) as exc:
            emu.sts.assume_role(
                alice,
                str(args.pop("role_arn")),
                str(args.pop("session_name")),
                **args,  # type: ignore[arg-type]
            )
        assert _code(exc) == code, change
    with pytest.raises(ClientError) as exc:
        emu.sts.assume_role(Principal.root(A, "test"), role.arn, "root-session")
    assert _code(exc) == "AccessDenied"
    assert exc.value.message == "Roles may not be assumed by root accounts."

    assumed = emu.sts.assume_role(alice, role.arn, "long", duration_seconds=7200)
    issued = assumed.credentials.expiration - timedelta(seconds=7200)
    assert assumed.principal.expires == assumed.credentials.expiration
    assert abs((issued - emu.sessions.now()).total_seconds()) < 5


def test_session_policy_is_kept_and_role_chaining_is_capped(emu: Emulator) -> None:
    alice = _user(emu, A, "alice")
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codecommit:Get*",
                                                 "Resource": "*"}]}
    )  # fmt: skip
    first = emu.iam.entities.create_role(A, "first", _trust(alice.arn), max_session_duration=7200)
    assumed = emu.sts.assume_role(alice, first.arn, "s1", policy=policy)
    assert assumed.principal.session_policies == (policy,)
    assert assumed.packed_policy_size is not None and 0 < assumed.packed_policy_size < 100
    session = assumed.principal

    second = emu.iam.entities.create_role(A, "second", _trust(first.arn), max_session_duration=7200)
    with pytest.raises(ClientError) as exc:
        emu.sts.assume_role(session, second.arn, "s2", duration_seconds=3601)
    assert _code(exc) == "ValidationError"
    chained = emu.sts.assume_role(session, second.arn, "s2")
    assert chained.principal.arn == f"arn:aws:sts::{A}:assumed-role/second/s2"


def test_policy_arns_become_session_policies(emu: Emulator) -> None:
    alice = _user(emu, A, "alice")
    role = emu.iam.entities.create_role(A, "dev", _trust(alice.arn))
    doc = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codecommit:GitPull",
                                                 "Resource": "*"}]}
    )  # fmt: skip
    managed = emu.iam.policies.create_policy(A, "pull-only", doc)
    # Without a way to read managed policies, PolicyArns are refused rather than ignored.
    bare = STS(emu.sessions, emu.iam.entities)
    with pytest.raises(ClientError) as exc:
        bare.assume_role(alice, role.arn, "s1", policy_arns=[managed.arn])
    assert _code(exc) == "ValidationError"
    sts = STS(emu.sessions, emu.iam.entities, policies=emu.iam.policies)
    assumed = sts.assume_role(alice, role.arn, "s1", policy_arns=[managed.arn])
    assert assumed.principal.session_policies == (doc,)
    found = emu.credentials.lookup(assumed.credentials.access_key_id)
    assert found is not None and found.principal.session_policies == (doc,)
