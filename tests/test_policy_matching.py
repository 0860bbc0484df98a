"""Action and resource wildcards, and policy variables."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.iam.policy import Request, evaluate, parse_policy
from emulator.iam.principal import Principal

USER = Principal(
    account="111111111111",
    arn="arn:aws:iam::111111111111:user/alice",
    user_id="AIDAEXAMPLE",
    kind="IAMUser",
    name="alice",
)


def allowed(
    statement: dict[str, Any],
    action: str,
    resource: str,
    context: dict[str, Any] | None = None,
    version: str | None = "2012-10-17",
) -> bool:
    document: dict[str, Any] = {"Statement": [{"Effect": "Allow", **statement}]}
    if version:
        document["Version"] = version
    request = Request(USER, action, resource, context=context or {})
    return evaluate(request, identity=[parse_policy(document, "identity")]).allowed


REPO = "arn:aws:codecommit:us-east-2:111111111111:MyDemoRepo"


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("codecommit:GitPull", "codecommit:GitPull", True),
        ("codecommit:gitpull", "CodeCommit:GITPULL", True),
        ("CODECOMMIT:*", "codecommit:GitPush", True),
        ("codecommit:Get*", "codecommit:GetRepository", True),
        ("codecommit:Get*", "codecommit:GitPull", False),
        ("codecommit:*Repository", "codecommit:DeleteRepository", True),
        ("codecommit:Git????", "codecommit:GitPull", True),
        ("codecommit:Git???", "codecommit:GitPull", False),
        ("code*:Get*", "codebuild:GetProject", True),
        ("codecommit:*", "codebuild:StartBuild", False),
        ("*", "anything:AtAll", True),
        ("iam:*AccessKey*", "iam:CreateAccessKey", True),
        ("codecommit:Git.ull", "codecommit:GitPull", False),
    ],
)
def test_action_patterns(pattern: str, action: str, expected: bool) -> None:
    assert allowed({"Action": pattern, "Resource": "*"}, action, REPO) is expected


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        (REPO, REPO, True),
        (REPO, REPO.lower(), False),
        ("arn:aws:codecommit:us-east-2:111111111111:*", REPO, True),
        ("arn:aws:codecommit:*:111111111111:MyDemoRepo", REPO, True),
        ("arn:aws:codecommit:*", REPO, True),
        ("arn:aws:codecommit:us-east-2:111111111111:My?emoRepo", REPO, True),
        ("arn:aws:codecommit:us-east-2:111111111111:team-*-prod", REPO[:-10] + "team-a-prod", True),
        ("arn:aws:s3:::*log*", "arn:aws:s3:::carlos-logs/file.txt", True),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c", True),
        ("arn:aws:s3:::my.bucket", "arn:aws:s3:::myXbucket", False),
        ("arn:aws:s3:::a+b(c)", "arn:aws:s3:::a+b(c)", True),
    ],
)
def test_resource_patterns(pattern: str, resource: str, expected: bool) -> None:
    assert allowed({"Action": "*", "Resource": pattern}, "s3:GetObject", resource) is expected


def test_not_action_and_not_resource() -> None:
    assert allowed({"NotAction": "iam:*", "Resource": "*"}, "codecommit:GitPull", REPO)
    assert not allowed({"NotAction": "iam:*", "Resource": "*"}, "iam:ListUsers", "*")
    st = {"Action": "*", "NotResource": "arn:aws:s3:::secret/*"}
    assert allowed(st, "s3:GetObject", "arn:aws:s3:::public/a")
    assert not allowed(st, "s3:GetObject", "arn:aws:s3:::secret/a")


USER_RESOURCE = {
    "Action": "iam:*AccessKey*",
    "Resource": "arn:aws:iam::111111111111:user/${aws:username}",
}


def test_variable_in_resource() -> None:
    me = "arn:aws:iam::111111111111:user/alice"
    assert allowed(USER_RESOURCE, "iam:CreateAccessKey", me, {"aws:username": "alice"})
    assert not allowed(
        USER_RESOURCE, "iam:CreateAccessKey", me[:-5] + "bob", {"aws:username": "alice"}
    )


def test_variable_lookup_ignores_key_case() -> None:
    st = {**USER_RESOURCE, "Resource": "arn:aws:iam::111111111111:user/${AWS:UserName}"}
    assert allowed(st, "iam:CreateAccessKey", "arn:aws:iam::111111111111:user/alice",
                   {"aws:username": "alice"})  # fmt: skip


def test_variable_without_value_matches_nothing() -> None:
    assert not allowed(USER_RESOURCE, "iam:CreateAccessKey", "arn:aws:iam::111111111111:user/", {})
    st = {"Action": "*", "Resource": "*",
          "Condition": {"StringEquals": {"s3:prefix": "${aws:username}"}}}  # fmt: skip
    assert not allowed(st, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ""})


def test_variables_are_literal_before_2012_10_17() -> None:
    literal = "arn:aws:iam::111111111111:user/${aws:username}"
    for version in ("2008-10-17", None):
        assert allowed(USER_RESOURCE, "iam:CreateAccessKey", literal, {"aws:username": "x"},
                       version=version)  # fmt: skip
    assert not allowed(USER_RESOURCE, "iam:CreateAccessKey", literal, {"aws:username": "x"})


def test_default_value() -> None:
    st = {"Action": "s3:GetObject",
          "Resource": "arn:aws:s3:::bucket-${aws:PrincipalTag/team, 'company-wide'}/*"}  # fmt: skip
    assert allowed(st, "s3:GetObject", "arn:aws:s3:::bucket-company-wide/a")
    assert allowed(
        st, "s3:GetObject", "arn:aws:s3:::bucket-red/a", {"aws:PrincipalTag/team": "red"}
    )
    assert not allowed(st, "s3:GetObject", "arn:aws:s3:::bucket-company-wide/a",
                       {"aws:PrincipalTag/team": "red"})  # fmt: skip


def test_special_variables_are_literal_characters() -> None:
    st = {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${*}${?}${$}"}
    assert allowed(st, "s3:GetObject", "arn:aws:s3:::b/*?$")
    assert not allowed(st, "s3:GetObject", "arn:aws:s3:::b/xy$")


def test_substituted_values_are_never_wildcards() -> None:
    st = {"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/dir}/*"}
    ctx = {"aws:PrincipalTag/dir": "*"}
    assert allowed(st, "s3:GetObject", "arn:aws:s3:::b/*/x", ctx)
    assert not allowed(st, "s3:GetObject", "arn:aws:s3:::b/other/x", ctx)


def test_variables_in_condition_values() -> None:
    st = {"Action": "s3:ListBucket", "Resource": "*",
          "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}}  # fmt: skip
    ctx = {"aws:username": "alice"}
    assert allowed(st, "s3:ListBucket", "arn:aws:s3:::b", {**ctx, "s3:prefix": "home/alice/x"})
    assert not allowed(st, "s3:ListBucket", "arn:aws:s3:::b", {**ctx, "s3:prefix": "home/bob/x"})


def test_principal_tag_and_account_variables() -> None:
    arn = "arn:aws:codecommit:*:${aws:PrincipalAccount}:${aws:PrincipalTag/team}-*"
    st = {"Action": "codecommit:*", "Resource": arn}
    ctx = {"aws:PrincipalAccount": "111111111111", "aws:PrincipalTag/team": "red"}
    assert allowed(
        st, "codecommit:GitPull", "arn:aws:codecommit:us-east-2:111111111111:red-app", ctx
    )
    assert not allowed(
        st, "codecommit:GitPull", "arn:aws:codecommit:us-east-2:111111111111:blue-app", ctx
    )


def test_special_variables_in_condition_values() -> None:
    st = {"Action": "*", "Resource": "*",
          "Condition": {"StringEquals": {"s3:prefix": "${*}"}}}  # fmt: skip
    assert allowed(st, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "*"})
    assert not allowed(st, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "${*}"})
