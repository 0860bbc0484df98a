"""STS with boto3 against a real server: GetCallerIdentity, GetSessionToken, AssumeRole, and
temporary credentials at the API and git doors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.exceptions import ClientError
from conftest import Server

ACCOUNT = "123456789012"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _user_keys(server: Server) -> tuple[str, str, str]:
    iam = server.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["SecretAccessKey"]


def _trust(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _temporary(server: Server, creds: dict[str, Any], service: str = "sts", **kw: Any) -> Any:
    return server.client(
        service,
        key=creds["AccessKeyId"],
        secret=creds["SecretAccessKey"],
        aws_session_token=kw.pop("token", creds["SessionToken"]),
        **kw,
    )


def test_caller_identity_of_root(server: Server) -> None:
    who = server.client("sts").get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == (
        ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT
    )  # fmt: skip


def test_session_token_for_a_user(server: Server) -> None:
    name, key, secret = _user_keys(server)
    sts = server.client("sts", key=key, secret=secret)
    before = datetime.now(UTC)
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    expires = creds["Expiration"].astimezone(UTC)
    assert before + timedelta(seconds=895) <= expires <= before + timedelta(seconds=905)

    who = _temporary(server, creds).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"

    for token in (creds["SessionToken"][:-4] + "AAAA", None):
        with pytest.raises(ClientError) as exc:
            _temporary(server, creds, token=token).get_caller_identity()
        assert _code(exc) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        _temporary(server, creds, "codecommit", token=None).list_repositories()
    assert _code(exc) == "UnrecognizedClientException"

    # Session credentials cannot ask for another session token.
    with pytest.raises(ClientError) as exc:
        _temporary(server, creds).get_session_token()
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        sts.get_session_token(DurationSeconds=129601)
    assert _code(exc) == "ValidationError"
    default = sts.get_session_token()["Credentials"]["Expiration"].astimezone(UTC)
    assert abs((default - datetime.now(UTC)).total_seconds() - 43200) < 10


def test_assume_role(server: Server) -> None:
    name, key, secret = _user_keys(server)
    iam = server.client("iam")
    role_name = f"r-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{ACCOUNT}:user/{name}"),
        MaxSessionDuration=7200,
    )["Role"]
    sts = server.client("sts", key=key, secret=secret)
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build-42", DurationSeconds=900)
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/build-42"
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:build-42",
        "Arn": arn,
    }
    who = _temporary(server, out["Credentials"]).get_caller_identity()
    assert who["Arn"] == arn and who["UserId"] == f"{role['RoleId']}:build-42"

    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7201)
    assert _code(exc) == "ValidationError"
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", Policy='{"Statement": 5}')
    assert _code(exc) == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as exc:
        server.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="root-try")
    assert _code(exc) == "AccessDenied"

    # A trust policy naming only the account needs the user's own policy to allow it too.
    closed = iam.create_role(
        RoleName=f"r-{uuid.uuid4().hex[:8]}",
        AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{ACCOUNT}:root"),
    )["Role"]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=closed["Arn"], RoleSessionName="s1")
    assert _code(exc) == "AccessDenied"
    assert exc.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform:"
        f" sts:AssumeRole on resource: {closed['Arn']}"
    )


def test_git_password_with_session_token(server: Server, repo_name: str) -> None:
    name, key, secret = _user_keys(server)
    server.client("codecommit").create_repository(repositoryName=repo_name)
    creds = server.client("sts", key=key, secret=secret).get_session_token()["Credentials"]
    url = f"{server.url}/v1/repos/{repo_name}/info/refs?service=git-upload-pack"

    def get(user: str) -> httpx.Response:
        password = server.git_password(
            repo_name, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"]
        )
        return httpx.get(url, auth=(user, password))

    # The right token is recognised (the gate then decides: the user has no policy yet).
    good = get(f"{creds['AccessKeyId']}%{creds['SessionToken']}")
    assert good.status_code == 403 and f"user/{name}" in good.text
    for user in (creds["AccessKeyId"], f"{creds['AccessKeyId']}%{quote('x' * 40)}"):
        bad = get(user)
        assert bad.status_code == 403 and "not valid" in bad.text
