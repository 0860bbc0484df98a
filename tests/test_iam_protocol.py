"""The query protocol as raw HTTP and through the aws CLI: XML shapes, IAM's error document,
bad requests answered with the right code, and the server serving on after each."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import Server

NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"


def _post(server: Server, body: str | bytes, service: str = "iam") -> httpx.Response:
    req = AWSRequest(
        method="POST",
        url=f"{server.url}/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials("test", "test"), service, "us-east-1").add_auth(req)
    return httpx.post(f"{server.url}/", content=req.body, headers=dict(req.headers.items()))


def _xml(data: bytes) -> ET.Element:
    # Our own server's answer, parsed in a test.
    return ET.fromstring(data)  # noqa: S314


def _error(resp: httpx.Response) -> tuple[str, str]:
    root = _xml(resp.content)
    assert root.tag == f"{NS}ErrorResponse"
    err = root.find(f"{NS}Error")
    assert err is not None
    assert root.findtext(f"{NS}RequestId")
    return err.findtext(f"{NS}Code") or "", err.findtext(f"{NS}Type") or ""


def test_xml_response_shape(server: Server) -> None:
    name = f"x+y=z,a.b@c-{uuid.uuid4().hex[:6]}"
    resp = _post(
        server,
        urlencode(
            {
                "Action": "CreateUser",
                "Version": "2010-05-08",
                "UserName": name,
                "Tags.member.1.Key": "a<&>",
                "Tags.member.1.Value": "\"'",
            }
        ),
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/xml")
    root = _xml(resp.content)
    assert root.tag == f"{NS}CreateUserResponse"
    user = root.find(f"{NS}CreateUserResult/{NS}User")
    assert user is not None
    assert user.findtext(f"{NS}UserName") == name
    created = user.findtext(f"{NS}CreateDate") or ""
    assert created.endswith("Z") and "T" in created
    tag = user.find(f"{NS}Tags/{NS}member")
    assert tag is not None and tag.findtext(f"{NS}Key") == "a<&>"
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId")
    listed = _post(server, "Action=ListUsers&Version=2010-05-08&MaxItems=1000")
    root = _xml(listed.content)
    assert root.findtext(f"{NS}ListUsersResult/{NS}IsTruncated") == "false"
    assert server.client("iam").get_user(UserName=name)["User"]["Tags"] == [
        {"Key": "a<&>", "Value": "\"'"}
    ]
    _post(server, urlencode({"Action": "DeleteUser", "UserName": name}))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("Action=NoSuchAction&Version=2010-05-08", 400, "InvalidAction"),
        ("Version=2010-05-08", 400, "InvalidAction"),
        ("Action=ListUsers&Version=1999-01-01", 400, "InvalidAction"),
        ("Action=GetUser&UserName=nobody-here", 404, "NoSuchEntity"),
        ("Action=ListUsers&MaxItems=lots", 400, "MalformedInput"),
        ("Action=ListUsers&MaxItems=0", 400, "ValidationError"),
        ("Action=CreateUser", 400, "ValidationError"),
        ("Action=CreatePolicy&PolicyName=x&PolicyDocument=%7B", 400, "MalformedPolicyDocument"),
        (b"Action=ListUsers&Path=\xff\xfe", 400, "MalformedInput"),
    ],
)
def test_bad_requests(server: Server, body: str | bytes, status: int, code: str) -> None:
    before = _iam_state(server)
    resp = _post(server, body)
    assert resp.status_code == status, resp.text
    got, kind = _error(resp)
    assert got == code
    assert kind == "Sender"
    # Nothing changed, and the server serves the next request with the same answer.
    assert _iam_state(server) == before


def _iam_state(server: Server) -> tuple[list[str], list[str]]:
    """The account's users and its own managed policies, every page of each."""
    iam = server.client("iam")
    users = [u["Arn"] for page in iam.get_paginator("list_users").paginate() for u in page["Users"]]
    policies = [
        p["Arn"]
        for page in iam.get_paginator("list_policies").paginate(Scope="Local")
        for p in page["Policies"]
    ]
    return users, policies


def test_bad_signature_is_an_xml_error(server: Server) -> None:
    iam = server.client("iam", secret="wrong")
    with pytest.raises(Exception) as exc:
        iam.list_users()
    assert getattr(exc.value, "response", {})["Error"]["Code"] == "SignatureDoesNotMatch"
    # The server serves on: a good signature gets the caller's identity.
    assert server.client("iam").get_user()["User"]["Arn"] == "arn:aws:iam::123456789012:root"


def test_empty_list_and_boolean_members(server: Server) -> None:
    iam = server.client("iam")
    resp = iam.list_policies(OnlyAttached=False, Scope="AWS", MaxItems=2)
    assert resp["IsTruncated"] is True and len(resp["Policies"]) == 2
    assert resp["Policies"][0]["IsAttachable"] is True


def _aws(server: Server, *args: str) -> Any:
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "iam", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return proc


def test_aws_cli(server: Server) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    made = _aws(server, "create-user", "--user-name", name, "--path", "/cli/")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["User"]["Arn"].endswith(f":user/cli/{name}")
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "codecommit:Get*", "Resource": "*"}],
        }
    )
    put = _aws(
        server, "put-user-policy", "--user-name", name, "--policy-name", "p",
        "--policy-document", doc,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    got = _aws(server, "get-user-policy", "--user-name", name, "--policy-name", "p")
    assert json.loads(got.stdout)["PolicyDocument"]["Statement"][0]["Action"] == "codecommit:Get*"
    missing = _aws(server, "get-user", "--user-name", f"{name}-missing")
    assert missing.returncode != 0 and "NoSuchEntity" in missing.stderr
    _aws(server, "delete-user-policy", "--user-name", name, "--policy-name", "p")
    assert _aws(server, "delete-user", "--user-name", name).returncode == 0
