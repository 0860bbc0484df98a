"""`ccemu serve --access-log`: one JSON line per API call and git request (HTTP and SSH) with the
principal, the action, the resource and the outcome, written by real clients' requests, and no
secret in it: not a secret key, a git password, a SigV4 signature or a session token."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ACCOUNT,
    Server,
    git,
    make_commits,
    needs_openssh,
    ssh_keygen,
    start_server,
)

PROTECT_MAIN = {
    "Effect": "Deny",
    "Action": "codecommit:GitPush",
    "Resource": "*",
    "Condition": {
        "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
        "Null": {"codecommit:References": "false"},
    },
}


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _user(srv: Server, tmp_path: Path) -> dict[str, str]:
    iam = srv.client("iam")
    name = f"alice-{uuid.uuid4().hex[:6]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.attach_user_policy(
        UserName=name, PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    PROTECT_MAIN,
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    cred = iam.create_service_specific_credential(
        UserName=name, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    identity = ssh_keygen(tmp_path / "ssh" / name)
    body = identity.with_name(identity.name + ".pub").read_text()
    key_id = iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=body)["SSHPublicKey"][
        "SSHPublicKeyId"
    ]
    return {
        "name": name,
        "arn": arn,
        "key": key["AccessKeyId"],
        "secret": key["SecretAccessKey"],
        "git_user": cred["ServiceUserName"],
        "git_password": cred["ServicePassword"],
        "ssh_key_id": key_id,
        "identity": str(identity),
    }


@needs_openssh
def test_access_log_records_every_door_and_no_secret(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    log = tmp_path / "access.log"
    srv = start_server(tmp_path / "data", "--access-log", str(log))
    try:
        _scenario(srv, log, tmp_path, git_env)
        # the server still serves after all of it
        assert srv.client().list_repositories()["repositories"]
    finally:
        srv.stop()


def _scenario(srv: Server, log: Path, tmp_path: Path, git_env: dict[str, str]) -> None:
    repo = f"logged-{uuid.uuid4().hex[:6]}"
    arn = f"arn:aws:codecommit:us-east-1:{ACCOUNT}:{repo}"
    root = f"arn:aws:iam::{ACCOUNT}:root"
    srv.client().create_repository(repositoryName=repo)
    u = _user(srv, tmp_path)
    seen = len(_lines(log))

    def new_lines(count: int, *, challenges: bool = False) -> list[dict[str, Any]]:
        """The lines of the requests made since the last call: each is written before its
        client has the whole answer, so no waiting. Without `challenges`, git's first
        request of each command is left out (git sends credentials only once asked: 401)."""
        nonlocal seen
        lines = _lines(log)
        fresh, seen = lines[seen:], len(lines)
        if not challenges:
            fresh = [x for x in fresh if not (x["door"] == "git-http" and x["status"] == 401)]
        assert len(fresh) == count, fresh
        return fresh

    # API: allowed, denied, an error code, a bad signature
    cc = srv.client(key=u["key"], secret=u["secret"])
    cc.get_repository(repositoryName=repo)
    with pytest.raises(ClientError):
        cc.delete_repository(repositoryName=repo)  # PowerUser may not delete
    with pytest.raises(ClientError):
        cc.get_repository(repositoryName="no-such-repo")
    with pytest.raises(ClientError):
        srv.client(key=u["key"], secret="not-" + u["secret"]).list_repositories()
    got, denied, missing, forged = new_lines(4)
    assert got["door"] == "api" and got["source"] == "127.0.0.1"
    assert (got["principal"], got["action"], got["resource"]) == (
        u["arn"],
        "codecommit:GetRepository",
        [arn],
    )
    assert (got["outcome"], got["status"]) == ("allowed", 200)
    assert (denied["action"], denied["resource"], denied["outcome"]) == (
        "codecommit:DeleteRepository",
        [arn],
        "denied",
    )
    assert denied["status"] == 400 and denied["principal"] == u["arn"]
    assert missing["outcome"] == "RepositoryDoesNotExistException"
    assert forged["principal"] is None and forged["outcome"] in (
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    )
    assert forged["status"] >= 400

    # git over HTTP with a git credential: a push to a branch, one to the protected main
    url = (
        f"http://{quote(u['git_user'], safe='')}:{quote(u['git_password'], safe='')}"
        f"@{srv.host_port}/v1/repos/{repo}"
    )
    work = tmp_path / "work"
    make_commits(git_env, work, 1)
    git(git_env, "push", "-q", url, "HEAD:refs/heads/feature", cwd=work)
    adv, push = new_lines(2)
    for line in (adv, push):
        assert (line["door"], line["principal"], line["action"]) == (
            "git-http",
            u["arn"],
            "codecommit:GitPush",
        )
        assert (line["resource"], line["repository"], line["status"]) == ([arn], repo, 200)
        assert line["outcome"] == "allowed"
    proc = git(git_env, "push", url, "HEAD:main", cwd=work, check=False)
    assert proc.returncode != 0
    _, refused = new_lines(2)
    assert (refused["outcome"], refused["refs"], refused["resource"]) == (
        "denied",
        ["refs/heads/main"],
        [arn],
    )
    # no credentials: git is asked for them and has none
    assert git(git_env, "ls-remote", srv.plain_url(repo), check=False).returncode != 0
    (anonymous,) = new_lines(1, challenges=True)
    assert (anonymous["principal"], anonymous["outcome"], anonymous["status"]) == (
        None,
        "unauthenticated",
        401,
    )

    # git over SSH with the user's key
    env = {**git_env, "GIT_SSH_COMMAND": " ".join(srv.ssh_command(Path(u["identity"])))}
    ssh_url = srv.ssh_git_url(repo, u["ssh_key_id"])
    git(env, "clone", "-q", ssh_url, str(tmp_path / "clone"))
    (pulled,) = new_lines(1)
    assert (pulled["door"], pulled["principal"], pulled["action"]) == (
        "git-ssh",
        u["arn"],
        "codecommit:GitPull",
    )
    assert (pulled["resource"], pulled["outcome"], pulled["status"]) == ([arn], "allowed", 0)
    assert git(env, "ls-remote", srv.ssh_git_url("no-such-repo", u["ssh_key_id"]), check=False)
    (nothing,) = new_lines(1)
    assert (nothing["outcome"], nothing["status"]) == ("RepositoryDoesNotExistException", 128)

    # temporary credentials: AssumeRole, then git with AKID%token (git-remote-codecommit's form)
    iam = srv.client("iam")
    role = f"dev-{uuid.uuid4().hex[:6]}"
    role_arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    sts = srv.client("sts", key=u["key"], secret=u["secret"])
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="ci")["Credentials"]
    tmp = {"key": creds["AccessKeyId"], "secret": creds["SecretAccessKey"]}
    password = srv.git_password(repo, **tmp)
    user = quote(f"{creds['AccessKeyId']}%{creds['SessionToken']}", safe="")
    git(git_env, "ls-remote", f"http://{user}:{password}@{srv.host_port}/v1/repos/{repo}")
    _, _, assume, session = new_lines(4)  # CreateRole, AttachRolePolicy, AssumeRole, git
    assert assume["action"] == "sts:AssumeRole"
    assert assume["principal"] == u["arn"] and assume["outcome"] == "allowed"
    assert session["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/ci"
    assert session["action"] == "codecommit:GitPull" and session["outcome"] == "allowed"

    # not one secret, whole or as its signature
    text = log.read_text()
    for secret in (
        u["secret"],
        u["git_password"],
        quote(u["git_password"], safe=""),
        creds["SecretAccessKey"],
        creds["SessionToken"],
        quote(creds["SessionToken"], safe=""),
        password,
        password[17:],  # the SigV4 signature after the timestamp
    ):
        assert secret not in text


def _serve(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "emulator", "serve", "--port", "0", "--ssh-port", "0"]
    return subprocess.run(
        [*command, "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_access_log_is_off_by_default_and_dash_is_stderr(tmp_path: Path) -> None:
    quiet = start_server(tmp_path / "quiet")
    loud = start_server(tmp_path / "loud", "--access-log", "-")
    try:
        for srv in (quiet, loud):
            srv.client().create_repository(repositoryName="r")
    finally:
        quiet.stop()
        loud.stop()
    assert '"action":' not in quiet.log.read_text()
    (line,) = [ln for ln in loud.log.read_text().splitlines() if ln.startswith("{")]
    record = json.loads(line)
    assert record["action"] == "codecommit:CreateRepository" and record["outcome"] == "allowed"


def test_access_log_that_cannot_be_opened_is_refused_with_nothing_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = _serve(data, "--access-log", str(tmp_path / "no" / "such" / "dir" / "log"))
    assert proc.returncode == 2
    assert "cannot open the access log" in proc.stderr and "Traceback" not in proc.stderr
    assert [p.name for p in data.iterdir()] == ["ccemu.lock"]  # no state, no key
