"""IAM users and groups with boto3: create/get/list/update/delete, paths, tags, membership,
Marker/MaxItems paging, DeleteConflict, and accounts kept apart."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

ALLOW_ALL = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


@pytest.fixture
def iam(server: Server) -> Any:
    return server.client("iam")


def _name(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_user_lifecycle_with_path_and_tags(iam: Any) -> None:
    name = _name()
    made = iam.create_user(
        UserName=name, Path="/eng/team/", Tags=[{"Key": "dept", "Value": "eng"}]
    )["User"]
    assert made["Arn"] == f"arn:aws:iam::123456789012:user/eng/team/{name}"
    assert made["UserId"].startswith("AIDA") and len(made["UserId"]) == 21
    assert made["UserId"].isupper() and made["UserId"].isalnum()
    assert made["Path"] == "/eng/team/"
    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == made["UserId"]
    assert got["Tags"] == [{"Key": "dept", "Value": "eng"}]
    assert got["CreateDate"].tzinfo is not None

    listed = iam.list_users(PathPrefix="/eng/")["Users"]
    assert name in [u["UserName"] for u in listed]
    assert name not in [u["UserName"] for u in iam.list_users(PathPrefix="/ops/")["Users"]]

    new = _name()
    iam.update_user(UserName=name, NewUserName=new, NewPath="/ops/")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=name)
    assert iam.get_user(UserName=new)["User"]["Arn"].endswith(f":user/ops/{new}")
    iam.delete_user(UserName=new)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as exc:
        iam.get_user(UserName=new)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert exc.value.response["Error"]["Message"] == f"The user with name {new} cannot be found."


def test_user_names_are_unique_regardless_of_case(iam: Any) -> None:
    name = _name("Case")
    iam.create_user(UserName=name)
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException) as exc:
        iam.create_user(UserName=name.upper())
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert iam.get_user(UserName=name.lower())["User"]["UserName"] == name
    iam.delete_user(UserName=name)


@pytest.mark.parametrize(
    "bad",
    [{"UserName": "has space"}, {"UserName": "x" * 65}, {"UserName": "ok", "Path": "no-slash"}],
)
def test_invalid_user_input(iam: Any, bad: dict[str, str]) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_user(**bad)
    assert exc.value.response["Error"]["Code"] in ("ValidationError", "InvalidInput")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_validation_error_names_member_in_camel_case(server: Server) -> None:
    iam = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="x" * 65)
    err = exc.value.response["Error"]
    assert err["Code"] == "ValidationError"
    assert "at 'userName' failed to satisfy constraint" in err["Message"]
    assert err["Message"].startswith("1 validation error detected: ")


def test_tags(iam: Any) -> None:
    name = _name()
    iam.create_user(UserName=name)
    iam.tag_user(UserName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
    iam.tag_user(UserName=name, Tags=[{"Key": "A", "Value": "2"}])  # keys ignore case
    assert iam.list_user_tags(UserName=name)["Tags"] == [
        {"Key": "A", "Value": "2"},
        {"Key": "b", "Value": ""},
    ]
    iam.untag_user(UserName=name, TagKeys=["a"])
    assert iam.list_user_tags(UserName=name)["Tags"] == [{"Key": "b", "Value": ""}]
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.tag_user(UserName=name, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert len(iam.list_user_tags(UserName=name)["Tags"]) == 1
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.tag_user(UserName=_name(), Tags=[{"Key": "a", "Value": "b"}])
    iam.delete_user(UserName=name)


def test_list_users_pagination(fresh_server: Server) -> None:
    iam = fresh_server.client("iam")
    names = sorted(f"page-{i:02d}" for i in range(7))
    for n in names:
        iam.create_user(UserName=n)
    first = iam.list_users(MaxItems=3)
    assert first["IsTruncated"] is True
    assert [u["UserName"] for u in first["Users"]] == names[:3]
    second = iam.list_users(MaxItems=3, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == names[3:6]
    third = iam.list_users(MaxItems=3, Marker=second["Marker"])
    assert [u["UserName"] for u in third["Users"]] == names[6:]
    assert third["IsTruncated"] is False and "Marker" not in third
    paged = [
        u["UserName"]
        for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2})
        for u in p["Users"]
    ]
    assert paged == names
    with pytest.raises(iam.exceptions.InvalidInputException):
        iam.list_users(Marker="not-a-marker")
    # A marker from another listing is refused.
    with pytest.raises(iam.exceptions.InvalidInputException):
        iam.list_groups(Marker=first["Marker"])


def test_groups_and_membership(iam: Any) -> None:
    user, group = _name(), _name("g")
    iam.create_user(UserName=user)
    made = iam.create_group(GroupName=group, Path="/teams/")["Group"]
    assert made["GroupId"].startswith("AGPA")
    assert made["Arn"] == f"arn:aws:iam::123456789012:group/teams/{group}"
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_group(GroupName=group.upper())
    iam.add_user_to_group(GroupName=group, UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)  # idempotent, as IAM is
    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    assert group in [g["GroupName"] for g in iam.list_groups(PathPrefix="/teams/")["Groups"]]

    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_group(GroupName=group)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=user)
    iam.remove_user_from_group(GroupName=group, UserName=user)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.put_group_policy(GroupName=group, PolicyName="p", PolicyDocument=ALLOW_ALL)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_group(GroupName=group)
    iam.delete_group_policy(GroupName=group, PolicyName="p")
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_group(GroupName=group)


def test_delete_user_conflicts(iam: Any) -> None:
    user = _name()
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="inline", PolicyDocument=ALLOW_ALL)
    with pytest.raises(iam.exceptions.DeleteConflictException) as exc:
        iam.delete_user(UserName=user)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.delete_user_policy(UserName=user, PolicyName="inline")
    arn = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly"
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=user)
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    if hasattr(iam, "create_access_key"):
        try:
            key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        except ClientError:
            key = None
        if key is not None:
            with pytest.raises(iam.exceptions.DeleteConflictException):
                iam.delete_user(UserName=user)
            iam.delete_access_key(UserName=user, AccessKeyId=key)
    iam.delete_user(UserName=user)


def test_accounts_are_isolated(server: Server) -> None:
    a = server.client("iam")
    b = server.client("iam", key="444455556666", secret="test")
    name = _name()
    a.create_user(UserName=name)
    with pytest.raises(b.exceptions.NoSuchEntityException):
        b.get_user(UserName=name)
    made = b.create_user(UserName=name)["User"]
    assert made["Arn"] == f"arn:aws:iam::444455556666:user/{name}"
    assert name not in [u["UserName"] for u in b.list_users()["Users"] if u["UserName"] != name]
    b.delete_user(UserName=name)
    assert a.get_user(UserName=name)["User"]["Arn"].startswith("arn:aws:iam::123456789012:")
    a.delete_user(UserName=name)


def test_renamed_user_keeps_its_access_keys(iam: Any) -> None:
    old, new = _name(), _name()
    iam.create_user(UserName=old)
    key = iam.create_access_key(UserName=old)["AccessKey"]["AccessKeyId"]
    iam.update_user(UserName=old, NewUserName=new)
    keys = iam.list_access_keys(UserName=new)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName=new)
    iam.delete_access_key(UserName=new, AccessKeyId=key)
    iam.delete_user(UserName=new)
