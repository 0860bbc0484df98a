"""IAM roles and policies with boto3: trust policies, inline policies, managed policies and
their versions, attachments, permissions boundaries, the AWS managed CodeCommit policies, and
malformed documents."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server


def _doc(action: str = "codecommit:*", resource: str = "*", effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
        }
    )


TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
READ_ONLY = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly"


@pytest.fixture
def iam(server: Server) -> Any:
    return server.client("iam")


def _name(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_role_lifecycle(iam: Any) -> None:
    name = _name("role")
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=TRUST,
        Path="/svc/",
        Description="for tests",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "ci"}],
    )["Role"]
    assert role["RoleId"].startswith("AROA")
    assert role["Arn"] == f"arn:aws:iam::123456789012:role/svc/{name}"
    assert role["AssumeRolePolicyDocument"] == json.loads(TRUST)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "for tests"
    assert got["Tags"] == [{"Key": "team", "Value": "ci"}]
    assert name in [r["RoleName"] for r in iam.list_roles(PathPrefix="/svc/")["Roles"]]

    iam.update_role(RoleName=name, Description="changed", MaxSessionDuration=3600)
    new_trust = json.loads(TRUST)
    new_trust["Statement"][0]["Principal"] = {"Service": "codebuild.amazonaws.com"}
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(new_trust))
    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "changed"
    assert got["AssumeRolePolicyDocument"] == new_trust
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.update_assume_role_policy(RoleName=name, PolicyDocument="{")
    with pytest.raises(ClientError) as exc:
        iam.update_role(RoleName=name, MaxSessionDuration=50000)
    assert exc.value.response["Error"]["Code"] in ("ValidationError", "InvalidInput")

    iam.tag_role(RoleName=name, Tags=[{"Key": "x", "Value": "y"}])
    iam.untag_role(RoleName=name, TagKeys=["team"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "x", "Value": "y"}]

    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=_doc())
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName=name)
    iam.delete_role_policy(RoleName=name, PolicyName="inline")
    iam.attach_role_policy(RoleName=name, PolicyArn=READ_ONLY)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName=name)
    iam.detach_role_policy(RoleName=name, PolicyArn=READ_ONLY)
    iam.delete_role(RoleName=name)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=name)


def test_inline_policies(iam: Any) -> None:
    user = _name("u")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="b", PolicyDocument=_doc())
    iam.put_user_policy(UserName=user, PolicyName="a", PolicyDocument=_doc("codecommit:Get*"))
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["a", "b"]
    got = iam.get_user_policy(UserName=user, PolicyName="a")
    assert got["PolicyDocument"]["Statement"][0]["Action"] == "codecommit:Get*"
    iam.put_user_policy(UserName=user, PolicyName="a", PolicyDocument=_doc("codecommit:List*"))
    got = iam.get_user_policy(UserName=user, PolicyName="a")
    assert got["PolicyDocument"]["Statement"][0]["Action"] == "codecommit:List*"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user_policy(UserName=user, PolicyName="zzz")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.delete_user_policy(UserName=user, PolicyName="zzz")
    # A user's inline policies may hold 2,048 non-whitespace characters.
    big = _doc(resource="arn:aws:codecommit:us-east-1:123456789012:" + "r" * 2100)
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=big)
    for name in ("a", "b"):
        iam.delete_user_policy(UserName=user, PolicyName=name)
    iam.delete_user(UserName=user)


def test_managed_policy_versions(iam: Any) -> None:
    name = _name("mp")
    policy = iam.create_policy(
        PolicyName=name, PolicyDocument=_doc(), Path="/team/", Description="d"
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::123456789012:policy/team/{name}"
    assert policy["PolicyId"].startswith("ANPA") and policy["DefaultVersionId"] == "v1"
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_policy(PolicyName=name, PolicyDocument=_doc())

    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc("codecommit:Get*"))
    assert v2["PolicyVersion"]["VersionId"] == "v2"
    assert v2["PolicyVersion"]["IsDefaultVersion"] is False
    iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=_doc("codecommit:List*"), SetAsDefault=True
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    doc = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]["Document"]
    assert doc["Statement"][0]["Action"] == "codecommit:List*"
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc())
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc())
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc())
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v3"]

    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)  # non-default versions remain
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    for v in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy_version(PolicyArn=arn, VersionId="v2")
    # Version numbers are never reused.
    assert (
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=_doc())["PolicyVersion"][
            "VersionId"
        ]
        == "v6"
    )
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")

    user = _name("u")
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)
    iam.delete_user(UserName=user)


def test_aws_managed_codecommit_policies(iam: Any) -> None:
    aws = iam.list_policies(Scope="AWS")["Policies"]
    names = {p["PolicyName"]: p for p in aws}
    assert {"AWSCodeCommitFullAccess", "AWSCodeCommitPowerUser", "AWSCodeCommitReadOnly"} <= set(
        names
    )
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws)
    local = iam.list_policies(Scope="Local")["Policies"]
    assert not [p for p in local if p["Arn"].startswith("arn:aws:iam::aws:")]
    for name, action in [
        ("AWSCodeCommitFullAccess", ["codecommit:*"]),
        ("AWSCodeCommitReadOnly", None),
        ("AWSCodeCommitPowerUser", None),
    ]:
        arn = f"arn:aws:iam::aws:policy/{name}"
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        doc = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])[
            "PolicyVersion"
        ]["Document"]
        first = doc["Statement"][0]
        if action is not None:
            assert first["Action"] == action
        elif name == "AWSCodeCommitReadOnly":
            assert "codecommit:GitPull" in first["Action"]
            assert "codecommit:GitPush" not in first["Action"]
        else:
            assert "codecommit:GitPush" in first["Action"]
            assert "codecommit:DeleteRepository" not in first["Action"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    with pytest.raises(ClientError):
        iam.delete_policy(PolicyArn=READ_ONLY)


def test_attachments_group_and_limits(iam: Any) -> None:
    group = _name("g")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=READ_ONLY)
    attached = iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSCodeCommitReadOnly", "PolicyArn": READ_ONLY}]
    only = iam.list_policies(OnlyAttached=True, Scope="AWS")["Policies"]
    assert READ_ONLY in [p["Arn"] for p in only]
    ents = iam.list_entities_for_policy(PolicyArn=READ_ONLY, EntityFilter="Group")
    assert group in [g["GroupName"] for g in ents["PolicyGroups"]]
    arns = []
    for _ in range(9):
        arns.append(iam.create_policy(PolicyName=_name(), PolicyDocument=_doc())["Policy"]["Arn"])
        iam.attach_group_policy(GroupName=group, PolicyArn=arns[-1])
    extra = iam.create_policy(PolicyName=_name(), PolicyDocument=_doc())["Policy"]["Arn"]
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.attach_group_policy(GroupName=group, PolicyArn=extra)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_group_policy(
            GroupName=group, PolicyArn="arn:aws:iam::123456789012:policy/does-not-exist"
        )
    for arn in [*arns, READ_ONLY]:
        iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    for arn in [*arns, extra]:
        iam.delete_policy(PolicyArn=arn)
    iam.delete_group(GroupName=group)


def test_permissions_boundaries(iam: Any) -> None:
    user, role = _name("u"), _name("r")
    iam.create_user(UserName=user, PermissionsBoundary=READ_ONLY)
    got = iam.get_user(UserName=user)["User"]
    assert got["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": READ_ONLY,
    }
    iam.delete_user_permissions_boundary(UserName=user)
    assert "PermissionsBoundary" not in iam.get_user(UserName=user)["User"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.put_user_permissions_boundary(
            UserName=user, PermissionsBoundary="arn:aws:iam::123456789012:policy/nope"
        )
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    mp = iam.create_policy(PolicyName=_name(), PolicyDocument=_doc())["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=mp)
    assert (
        iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == mp
    )
    assert iam.get_policy(PolicyArn=mp)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=mp)
    iam.delete_role_permissions_boundary(RoleName=role)
    iam.delete_policy(PolicyArn=mp)
    iam.delete_role(RoleName=role)
    iam.delete_user(UserName=user)


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        json.dumps({"Version": "2012-10-17"}),  # no Statement
        json.dumps({"Version": "2012-10-17", "Statement": [{"Action": "*", "Resource": "*"}]}),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}],
            }
        ),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}),
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "codecommit:*",
                        "Resource": "*",
                    }
                ],
            }
        ),
        json.dumps({"Version": "1999-01-01", "Statement": []}),
    ],
    ids=[
        "syntax",
        "no-statement",
        "no-effect",
        "bad-effect",
        "no-resource",
        "principal",
        "version",
    ],
)
def test_malformed_policy_documents(server: Server, document: str) -> None:
    iam = server.client("iam")
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as exc:
        iam.create_policy(PolicyName=_name(), PolicyDocument=document)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.response["Error"]["Message"]
    user = _name("u")
    iam.create_user(UserName=user)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_user_policy(UserName=user, PolicyName="x", PolicyDocument=document)
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
    iam.delete_user(UserName=user)


def test_malformed_trust_policy(iam: Any) -> None:
    no_principal = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    )
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(RoleName=_name("r"), AssumeRolePolicyDocument=no_principal)
