"""AWS's evaluation order: explicit deny, SCPs, resource-based and trust policies, identity
policies, permissions boundaries, session policies, cross-account requests; and what a decision
reports for the simulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from emulator.iam.policy import (
    Policy,
    Request,
    evaluate,
    evaluate_trust,
    global_context,
    parse_policy,
)
from emulator.iam.principal import Principal

A, B = "111111111111", "222222222222"
REPO = f"arn:aws:codecommit:us-east-2:{A}:MyDemoRepo"
ALICE = Principal(account=A, arn=f"arn:aws:iam::{A}:user/alice", user_id="AIDAALICE",
                  kind="IAMUser", name="alice", tags=(("team", "red"),))  # fmt: skip
BOB_B = Principal(account=B, arn=f"arn:aws:iam::{B}:user/bob", user_id="AIDABOB",
                  kind="IAMUser", name="bob")  # fmt: skip
SESSION = Principal(account=A, arn=f"arn:aws:sts::{A}:assumed-role/Dev/s1", user_id="AROADEV:s1",
                    kind="AssumedRole", name="Dev", role_arn=f"arn:aws:iam::{A}:role/Dev",
                    session_name="s1", access_key_id="ASIAEXAMPLE")  # fmt: skip
ROOT_A = Principal.root(A)
ROLE = f"arn:aws:iam::{A}:role/Deployer"


def policy(kind: str, *statements: dict[str, Any]) -> Policy:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)}, kind)


def allow(action: str = "codecommit:*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str = "codecommit:*", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def trust(principal: Any, **extra: Any) -> Policy:
    st = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra}
    return policy("trust", st)


def req(principal: Principal, action: str = "codecommit:GitPull", resource: str = REPO,
        **kw: Any) -> Request:  # fmt: skip
    return Request(principal, action, resource, **kw)


def test_no_policy_is_an_implicit_deny() -> None:
    result = evaluate(req(ALICE))
    assert result.decision == "implicitDeny"
    assert result.reason == "because no identity-based policy allows the codecommit:GitPull action"
    assert result.matched == ()


def test_explicit_deny_wins_over_any_allow() -> None:
    result = evaluate(
        req(ALICE),
        identity=[policy("identity", allow(), deny("codecommit:GitPull", Sid="NoPull"))],
        resource=[policy("resource", allow(Principal="*"))],
    )
    assert result.decision == "explicitDeny"
    assert [m.sid for m in result.matched] == ["NoPull"]
    assert result.reason == "with an explicit deny in an identity-based policy"


def test_deny_in_a_boundary_session_or_resource_policy_is_explicit_too() -> None:
    ident = [policy("identity", allow())]
    for slot, kind in (("boundaries", "permissions_boundary"), ("session", "session")):
        result = evaluate(req(SESSION), identity=ident, **{slot: [policy(kind, allow(), deny())]})
        assert result.decision == "explicitDeny"
    denied = policy("resource", deny(Principal={"AWS": A}))
    assert evaluate(req(ALICE), identity=ident, resource=[denied]).decision == "explicitDeny"
    # A resource policy's Deny applies only to the principals it names.
    other = policy("resource", deny(Principal={"AWS": B}))
    assert evaluate(req(ALICE), identity=ident, resource=[other]).decision == "allowed"
    everyone_else = policy("resource", deny(NotPrincipal={"AWS": ALICE.arn}))
    assert evaluate(req(ALICE), identity=ident, resource=[everyone_else]).allowed
    assert evaluate(req(SESSION), identity=ident, resource=[everyone_else]).decision == (
        "explicitDeny"
    )


def test_every_scp_level_must_allow() -> None:
    ident = [policy("identity", allow())]
    full = policy("scp", allow("*"))
    only_s3 = policy("scp", allow("s3:*"))
    assert evaluate(req(ALICE), identity=ident, scps=[full, full]).allowed
    result = evaluate(req(ALICE), identity=ident, scps=[full, only_s3])
    assert result.decision == "implicitDeny"
    assert result.reason.startswith("because no service control policy allows")
    # Several policies attached at one level: one allowing is enough for that level.
    assert evaluate(req(ALICE), identity=ident, scps=[full, [only_s3, full]]).allowed
    # SCPs never grant on their own.
    assert not evaluate(req(ALICE), scps=[full]).allowed


def test_scps_bind_the_root_user_too() -> None:
    assert evaluate(req(ROOT_A)).allowed
    assert not evaluate(req(ROOT_A), scps=[policy("scp", allow("s3:*"))]).allowed
    assert evaluate(req(ROOT_A), scps=[policy("scp", allow("*"), deny())]).decision == (
        "explicitDeny"
    )


def test_root_of_another_account_needs_the_resource_policy() -> None:
    root_b = Principal.root(B)
    assert not evaluate(req(root_b)).allowed
    grant = policy("resource", allow(Principal={"AWS": B}))
    assert evaluate(req(root_b), resource=[grant]).allowed


def test_permissions_boundary_is_an_intersection() -> None:
    ident = [policy("identity", allow())]
    boundary = [policy("permissions_boundary", allow("codecommit:Get*"))]
    assert not evaluate(req(ALICE), identity=ident, boundaries=boundary).allowed
    result = evaluate(req(ALICE, "codecommit:GetRepository"), identity=ident, boundaries=boundary)
    assert result.allowed
    # A boundary alone grants nothing.
    assert not evaluate(req(ALICE, "codecommit:GetRepository"), boundaries=boundary).allowed
    result = evaluate(req(ALICE), identity=ident, boundaries=boundary)
    assert result.reason.startswith("because no permissions boundary policy allows")


def test_session_policy_is_an_intersection() -> None:
    ident = [policy("identity", allow())]
    session = [policy("session", allow("codecommit:GitPull"))]
    assert evaluate(req(SESSION), identity=ident, session=session).allowed
    result = evaluate(req(SESSION, "codecommit:GitPush"), identity=ident, session=session)
    assert result.decision == "implicitDeny"
    assert result.reason.startswith("because no session policy allows")


def test_same_account_resource_policy_naming_the_user_is_enough() -> None:
    grant = policy("resource", allow(Principal={"AWS": ALICE.arn}))
    assert evaluate(req(ALICE), resource=[grant]).allowed
    # ... and a boundary's implicit deny does not limit it (permissions boundaries page).
    boundary = [policy("permissions_boundary", allow("s3:*"))]
    assert evaluate(req(ALICE), resource=[grant], boundaries=boundary).allowed
    assert evaluate(req(ALICE), resource=[policy("resource", allow(Principal="*"))]).allowed


def test_same_account_resource_policy_naming_the_account_delegates_to_identity_policies() -> None:
    grant = policy("resource", allow(Principal={"AWS": f"arn:aws:iam::{A}:root"}))
    assert not evaluate(req(ALICE), resource=[grant]).allowed
    assert evaluate(req(ALICE), resource=[grant], identity=[policy("identity", allow())]).allowed


def test_resource_policy_naming_the_role_is_limited_by_session_policies() -> None:
    grant = policy("resource", allow(Principal={"AWS": SESSION.role_arn}))
    assert evaluate(req(SESSION), resource=[grant]).allowed
    narrow = [policy("session", allow("s3:*"))]
    assert not evaluate(req(SESSION), resource=[grant], session=narrow).allowed
    # Naming the session itself is not limited.
    direct = policy("resource", allow(Principal={"AWS": SESSION.arn}))
    assert evaluate(req(SESSION), resource=[direct], session=narrow).allowed


def test_cross_account_needs_both_sides() -> None:
    ident = [policy("identity", allow())]
    grant = policy("resource", allow(Principal={"AWS": B}))
    assert not evaluate(req(BOB_B), identity=ident).allowed
    assert not evaluate(req(BOB_B), resource=[grant]).allowed
    assert evaluate(req(BOB_B), identity=ident, resource=[grant]).allowed
    named = policy("resource", allow(Principal={"AWS": BOB_B.arn}))
    assert evaluate(req(BOB_B), identity=ident, resource=[named]).allowed
    boundary = [policy("permissions_boundary", allow("s3:*"))]
    assert not evaluate(req(BOB_B), identity=ident, resource=[named], boundaries=boundary).allowed


def test_resource_account_comes_from_the_arn_or_the_request() -> None:
    ident = [policy("identity", allow("s3:*"))]
    s3 = "arn:aws:s3:::bucket/key"
    assert evaluate(req(ALICE, "s3:GetObject", s3), identity=ident).allowed
    other = req(ALICE, "s3:GetObject", s3, resource_account=B)
    assert not evaluate(other, identity=ident).allowed


def test_trust_policy_must_allow_even_in_the_same_account() -> None:
    ident = [policy("identity", allow("sts:AssumeRole"))]
    request = req(ALICE, "sts:AssumeRole", ROLE)
    untrusted = trust({"Service": "codebuild.amazonaws.com"})
    assert evaluate_trust(request, untrusted, identity=ident).decision == "implicitDeny"
    # A trust policy naming the user: no identity policy needed in the same account.
    assert evaluate_trust(request, trust({"AWS": ALICE.arn})).allowed
    # Naming the account delegates: the user's own policies must allow sts:AssumeRole.
    assert not evaluate_trust(request, trust({"AWS": A})).allowed
    assert evaluate_trust(request, trust({"AWS": A}), identity=ident).allowed


def test_cross_account_assume_role() -> None:
    request = req(BOB_B, "sts:AssumeRole", ROLE)
    ident = [policy("identity", allow("sts:AssumeRole", ROLE))]
    assert not evaluate_trust(request, trust({"AWS": B})).allowed
    assert evaluate_trust(request, trust({"AWS": B}), identity=ident).allowed
    assert not evaluate_trust(request, trust({"AWS": "333333333333"}), identity=ident).allowed


def test_service_principal_in_trust_policy() -> None:
    codebuild = Principal(account=A, arn="codebuild.amazonaws.com", user_id="", kind="Service")
    request = req(codebuild, "sts:AssumeRole", ROLE)
    assert evaluate_trust(request, trust({"Service": "codebuild.amazonaws.com"})).allowed
    assert not evaluate_trust(request, trust({"Service": "lambda.amazonaws.com"})).allowed


def test_trust_condition_on_external_id() -> None:
    t = trust({"AWS": B}, Condition={"StringEquals": {"sts:ExternalId": "xyz"}})
    ident = [policy("identity", allow("sts:AssumeRole"))]
    with_id = req(BOB_B, "sts:AssumeRole", ROLE, context={"sts:ExternalId": "xyz"})
    assert evaluate_trust(with_id, t, identity=ident).allowed
    result = evaluate_trust(req(BOB_B, "sts:AssumeRole", ROLE), t, identity=ident)
    assert not result.allowed
    assert result.missing_context_values == ("sts:ExternalId",)


def test_matched_statements_for_the_simulator() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": [\n'
        '  {"Sid": "Read", "Effect": "Allow", "Action": "codecommit:Get*", "Resource": "*"},\n'
        '  {"Sid": "Pull", "Effect": "Allow", "Action": "codecommit:GitPull", "Resource": "*"}\n'
        "]}"
    )
    p = parse_policy(text, "identity").with_id("arn:aws:iam::111111111111:policy/read")
    result = evaluate(req(ALICE), identity=[p])
    assert result.decision == "allowed"
    (m,) = result.matched
    assert (m.policy_id, m.policy_type, m.sid, m.effect, m.index) == (
        "arn:aws:iam::111111111111:policy/read", "identity", "Pull", "Allow", 1,
    )  # fmt: skip
    assert (m.start, m.end) == ((3, 3), (3, 86))
    # Unnamed policies are numbered by their slot.
    assert evaluate(req(ALICE), identity=[p.with_id("")]).matched[0].policy_id == "identity.1"


def test_missing_context_values() -> None:
    p = policy(
        "identity",
        allow(Condition={"StringEquals": {"aws:RequestedRegion": "us-east-2"},
                         "Bool": {"aws:SecureTransport": "true"}}),
        allow("s3:*", Condition={"StringEquals": {"s3:prefix": "x"}}),
        allow(resource="arn:aws:codecommit:*:*:${aws:username}"),
    )  # fmt: skip
    result = evaluate(req(ALICE, context={"aws:SecureTransport": "true"}), identity=[p])
    assert result.decision == "implicitDeny"
    # s3:prefix belongs to a statement whose action does not apply.
    assert result.missing_context_values == ("aws:RequestedRegion", "aws:username")


def test_global_context() -> None:
    now = datetime(2020, 5, 15, 12, 0, tzinfo=UTC)
    ctx = global_context(ALICE, source_ip="127.0.0.1", secure_transport=True, now=now,
                         region="us-east-2")  # fmt: skip
    assert ctx == {
        "aws:userid": "AIDAALICE",
        "aws:username": "alice",
        "aws:PrincipalArn": ALICE.arn,
        "aws:PrincipalAccount": A,
        "aws:PrincipalType": "User",
        "aws:PrincipalIsAWSService": "false",
        "aws:PrincipalTag/team": "red",
        "aws:SourceIp": "127.0.0.1",
        "aws:SecureTransport": "true",
        "aws:RequestedRegion": "us-east-2",
        "aws:CurrentTime": "2020-05-15T12:00:00Z",
        "aws:EpochTime": "1589544000",
    }
    issued = datetime(2020, 5, 15, 11, 0, tzinfo=UTC)
    session = global_context(SESSION, now=now, token_issue_time=issued)
    assert "aws:username" not in session
    assert session["aws:PrincipalArn"] == SESSION.role_arn
    assert session["aws:PrincipalType"] == "AssumedRole"
    assert session["aws:MultiFactorAuthPresent"] == "false"
    assert session["aws:TokenIssueTime"] == "2020-05-15T11:00:00Z"
    assert global_context(ROOT_A, now=now)["aws:PrincipalType"] == "Account"


def test_global_context_drives_variables() -> None:
    p = policy("identity", allow("iam:*AccessKey*", f"arn:aws:iam::{A}:user/${{aws:username}}"))
    request = req(ALICE, "iam:CreateAccessKey", ALICE.arn, context=global_context(ALICE))
    assert evaluate(request, identity=[p]).allowed


def test_twenty_statement_policy_is_fast() -> None:
    statements = [
        allow(f"codecommit:Action{i}", f"arn:aws:codecommit:us-east-2:{A}:repo-{i}-*",
              Condition={"StringEquals": {"aws:RequestedRegion": "us-east-2"}})
        for i in range(18)
    ] + [
        deny("codecommit:GitPush", REPO, Condition={
            "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
            "Null": {"codecommit:References": "false"}}),
        allow("codecommit:Git*", "arn:aws:codecommit:us-east-2:111111111111:${aws:username}-*"),
    ]  # fmt: skip
    p = policy("identity", *statements)
    ctx = global_context(ALICE, now=datetime(2020, 1, 1, tzinfo=UTC), region="us-east-2")
    request = req(ALICE, "codecommit:GitPush", REPO[:-10] + "alice-app",
                  context={**ctx, "codecommit:References": "refs/heads/dev"})  # fmt: skip
    assert evaluate(request, identity=[p]).allowed
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        evaluate(request, identity=[p])
    per_call = (time.perf_counter() - start) / rounds
    assert per_call < 200e-6, f"{per_call * 1e6:.1f} µs per evaluation"
