"""Parsing policy documents: what IAM accepts, and each reason it gives for rejecting one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.iam.policy import (
    MalformedPolicyDocument,
    PolicyKind,
    PolicySizeExceeded,
    SizeLimit,
    parse_policy,
    policy_size,
)

ALLOW = {"Effect": "Allow", "Action": "codecommit:GitPull", "Resource": "*"}
TRUST = {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "sts:AssumeRole"}


def doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    d: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        d["Version"] = version
    return d


def reason(document: Any, kind: str = "identity") -> str:
    with pytest.raises(MalformedPolicyDocument) as info:
        parse_policy(document, kind)
    assert info.value.code == "MalformedPolicyDocument"
    assert info.value.status == 400
    return info.value.message


def test_statement_as_object_or_list_and_strings_or_lists() -> None:
    one = parse_policy({"Version": "2012-10-17", "Statement": ALLOW}, "identity")
    many = parse_policy(
        doc(ALLOW, {**ALLOW, "Action": ["a:b", "c:d"], "Resource": ["*"]}), "identity"
    )
    assert len(one.statements) == 1 and len(many.statements) == 2
    assert many.statements[1].actions.patterns == ("a:b", "c:d")


def test_versions() -> None:
    assert parse_policy(doc(ALLOW), "identity").version == "2012-10-17"
    assert parse_policy(doc(ALLOW, version="2008-10-17"), "identity").version == "2008-10-17"
    # No Version element means 2008-10-17: variables are literal text then.
    assert parse_policy(doc(ALLOW, version=None), "identity").version == "2008-10-17"


def test_parse_is_cached_for_the_same_text_and_kind() -> None:
    text = json.dumps(doc(ALLOW))
    assert parse_policy(text, "identity") is parse_policy(text, PolicyKind.IDENTITY)
    assert parse_policy(text, "identity") is not parse_policy(text, "session")


def test_with_id_shares_the_parsed_statements() -> None:
    policy = parse_policy(doc(ALLOW), "identity")
    named = policy.with_id("arn:aws:iam::111111111111:policy/p")
    assert named.policy_id == "arn:aws:iam::111111111111:policy/p"
    assert named.statements is policy.statements and policy.policy_id is None


def test_statement_positions() -> None:
    text = "\n".join(
        [
            "{",
            '  "Version": "2012-10-17",',
            '  "Statement": [',
            '    {"Sid": "A", "Effect": "Allow",',
            '     "Action": "s3:*", "Resource": "*"},',
            '    {"Effect": "Deny", "Action": "s3:x", "Resource": "*"}',
            "  ]",
            "}",
        ]
    )
    first, second = parse_policy(text, "identity").statements
    assert (first.start, first.end) == ((4, 5), (5, 40))
    assert (second.start, second.end) == ((6, 5), (6, 58))


def test_principal_forms_in_resource_policies() -> None:
    for principal in (
        "*",
        {"AWS": "*"},
        {"AWS": "111111111111"},
        {"AWS": ["arn:aws:iam::111111111111:root", "arn:aws:iam::111111111111:user/a"]},
        {"Service": "codebuild.amazonaws.com"},
        {"Federated": "arn:aws:iam::111111111111:saml-provider/idp"},
    ):
        parse_policy(doc({**ALLOW, "Principal": principal}), "resource")
    parse_policy(doc({**ALLOW, "NotPrincipal": {"AWS": "111111111111"}}), "resource")


def test_condition_values_may_be_json_booleans_and_numbers() -> None:
    parse_policy(
        doc({**ALLOW, "Condition": {"Bool": {"aws:SecureTransport": True},
                                    "NumericLessThan": {"s3:max-keys": [10, 2.5]}}}),
        "identity",
    )  # fmt: skip


# One test per rejection reason.


def test_not_json() -> None:
    assert reason("{not json") == "Syntax errors in policy."


def test_not_an_object() -> None:
    assert reason("[]") == "Syntax errors in policy."


def test_unknown_top_level_field() -> None:
    assert reason({**doc(ALLOW), "Statment": []}) == "Syntax errors in policy."


def test_unknown_statement_field() -> None:
    assert reason(doc({**ALLOW, "Effects": "Allow"})) == "Syntax errors in policy."


def test_invalid_version() -> None:
    assert reason(doc(ALLOW, version="2012-10-18")) == "Invalid Version"


def test_missing_statement() -> None:
    assert reason({"Version": "2012-10-17"}) == "Missing required field Statement"


def test_statement_not_an_object() -> None:
    assert reason({"Version": "2012-10-17", "Statement": ["x"]}) == "Syntax errors in policy."


def test_missing_effect() -> None:
    st = {k: v for k, v in ALLOW.items() if k != "Effect"}
    assert reason(doc(st)) == "Missing required field Effect"


def test_bad_effect() -> None:
    assert reason(doc({**ALLOW, "Effect": "Permit"})) == "Invalid effect: Permit"
    assert reason(doc({**ALLOW, "Effect": "allow"})) == "Invalid effect: allow"


def test_duplicate_sid() -> None:
    message = reason(doc({**ALLOW, "Sid": "A"}, {**ALLOW, "Sid": "A"}))
    assert message == "Statement IDs (SID) in a single policy must be unique."


def test_sid_not_alphanumeric_in_iam_policies() -> None:
    assert reason(doc({**ALLOW, "Sid": "no spaces"})).startswith(
        "Statement IDs (SID) must be alpha-numeric."
    )
    # Resource-based policies (S3 bucket policies and the like) allow them.
    parse_policy(doc({**ALLOW, "Sid": "with spaces", "Principal": "*"}), "resource")


def test_principal_in_identity_policy() -> None:
    for kind in ("identity", "permissions_boundary", "session", "scp"):
        message = reason(doc({**ALLOW, "Principal": "*"}), kind)
        assert message == "Policy document should not specify a principal."


def test_missing_principal_in_resource_and_trust_policies() -> None:
    assert reason(doc(ALLOW), "resource") == "Missing required field Principal"
    trust = {k: v for k, v in TRUST.items() if k != "Principal"}
    assert reason(doc(trust), "trust") == "Missing required field Principal"


def test_invalid_principal() -> None:
    assert reason(doc({**TRUST, "Principal": {"AWS": "alice"}}), "trust").startswith(
        "Invalid principal in policy"
    )
    assert reason(doc({**TRUST, "Principal": {"Users": "x"}}), "trust").startswith(
        "Invalid principal in policy"
    )


def test_resource_in_trust_policy() -> None:
    assert reason(doc({**TRUST, "Resource": "*"}), "trust") == "Has prohibited field Resource"
    assert reason(doc({**TRUST, "NotResource": "*"}), "trust") == "Has prohibited field NotResource"


def test_trust_policy_actions_are_sts_only() -> None:
    message = "AssumeRole policy may only specify STS AssumeRole actions."
    assert reason(doc({**TRUST, "Action": "s3:GetObject"}), "trust") == message
    assert reason(doc({**TRUST, "Action": "*"}), "trust") == message


def test_missing_actions() -> None:
    st = {k: v for k, v in ALLOW.items() if k != "Action"}
    assert reason(doc(st)) == "Policy statement must contain actions."
    assert reason(doc({**ALLOW, "Action": []})) == "Policy statement must contain actions."


def test_both_action_and_not_action() -> None:
    assert "both Action and NotAction" in reason(doc({**ALLOW, "NotAction": "s3:x"}))


def test_missing_resources() -> None:
    st = {k: v for k, v in ALLOW.items() if k != "Resource"}
    assert reason(doc(st)) == "Policy statement must contain resources."


def test_both_resource_and_not_resource() -> None:
    assert "both Resource and NotResource" in reason(doc({**ALLOW, "NotResource": "*"}))


def test_resource_not_an_arn() -> None:
    assert reason(doc({**ALLOW, "Resource": "MyDemoRepo"})) == (
        'Resource MyDemoRepo must be in ARN format or "*".'
    )


def test_action_without_vendor() -> None:
    assert reason(doc({**ALLOW, "Action": "GitPull"})) == (
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    )


def test_action_with_two_colons() -> None:
    message = reason(doc({**ALLOW, "Action": "codecommit:Git:Pull"}))
    assert message == "Actions/Condition can contain only one colon."


def test_action_not_a_string() -> None:
    assert reason(doc({**ALLOW, "Action": [1]})) == "Syntax errors in policy."


def test_unknown_condition_operator() -> None:
    st = {**ALLOW, "Condition": {"StringEqualz": {"aws:username": "alice"}}}
    assert reason(doc(st)) == "Invalid Condition type : StringEqualz"


def test_null_has_no_if_exists_form() -> None:
    st = {**ALLOW, "Condition": {"NullIfExists": {"aws:username": "true"}}}
    assert reason(doc(st)) == "Invalid Condition type : NullIfExists"


def test_condition_key_without_vendor() -> None:
    st = {**ALLOW, "Condition": {"StringEquals": {"username": "alice"}}}
    assert reason(doc(st)).startswith("Actions/Conditions must be prefaced by a vendor")


def test_condition_block_not_an_object() -> None:
    assert reason(doc({**ALLOW, "Condition": ["x"]})) == "Syntax errors in policy."
    st = {**ALLOW, "Condition": {"StringEquals": {"aws:username": {"x": 1}}}}
    assert reason(doc(st)) == "Syntax errors in policy."


def test_size_limits() -> None:
    assert (SizeLimit.USER_INLINE, SizeLimit.GROUP_INLINE) == (2048, 5120)
    assert (SizeLimit.ROLE_INLINE, SizeLimit.MANAGED, SizeLimit.TRUST) == (10240, 6144, 2048)
    padded = json.dumps(doc(ALLOW), indent=200)  # white space is not counted
    assert len(padded) > SizeLimit.USER_INLINE > policy_size(padded)
    parse_policy(padded, "identity", max_size=SizeLimit.USER_INLINE)
    big = doc(*[{**ALLOW, "Sid": f"S{i}"} for i in range(100)])
    with pytest.raises(PolicySizeExceeded) as info:
        parse_policy(big, "identity", max_size=SizeLimit.MANAGED)
    assert info.value.code == "LimitExceeded"
    assert info.value.message == "Cannot exceed quota for PolicySize: 6144"
    parse_policy(big, "identity", max_size=SizeLimit.ROLE_INLINE)
