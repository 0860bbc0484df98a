"""IAM decides every door: API calls, git pulls and pushes, and each ref of a push, for IAM
users (access keys and git credentials) and assumed roles, across accounts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, Server, git, make_commits

OTHER = "111122223333"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _user(server: Server, policy: str | None = None, managed: str | None = None) -> dict[str, Any]:
    """A new IAM user with an access key; returns name, arn, key, secret."""
    iam = server.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    if managed is not None:
        iam.attach_user_policy(UserName=name, PolicyArn=managed)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"name": name, "arn": arn, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def _repo_with_commit(server: Server, git_env: dict[str, str], work: Path) -> tuple[str, str]:
    name = f"r-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=name)
    [sha] = make_commits(git_env, work, 1)
    git(git_env, "push", "-q", server.git_url(name), "main", cwd=work)
    return name, sha


def _refs(server: Server, name: str) -> dict[str, str]:
    cc = server.client()
    return {
        b: cc.get_branch(repositoryName=name, branchName=b)["branch"]["commitId"]
        for b in cc.list_branches(repositoryName=name)["branches"]
    }


def test_api_calls_follow_the_users_policy(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name, _ = _repo_with_commit(server, git_env, tmp_path / "w")
    arn = f"arn:aws:codecommit:us-east-1:{ACCOUNT}:{name}"
    u = _user(
        server, _policy({"Effect": "Allow", "Action": "codecommit:GetRepository", "Resource": arn})
    )
    cc = server.client(key=u["key"], secret=u["secret"])
    assert cc.get_repository(repositoryName=name)["repositoryMetadata"]["Arn"] == arn
    with pytest.raises(ClientError) as exc:
        cc.list_branches(repositoryName=name)
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert err["Message"].startswith(
        f"User: {u['arn']} is not authorized to perform: codecommit:ListBranches on resource: {arn}"
    )
    with pytest.raises(ClientError) as exc:
        cc.create_repository(repositoryName=f"nope-{uuid.uuid4().hex[:6]}")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    assert server.client().list_repositories()  # nothing broke for root


def test_unauthorized_caller_learns_nothing_about_existence(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name, _ = _repo_with_commit(server, git_env, tmp_path / "w")
    u = _user(
        server,
        _policy({"Effect": "Allow", "Action": "codecommit:ListRepositories", "Resource": "*"}),
    )
    cc = server.client(key=u["key"], secret=u["secret"])
    answers = []
    for repo in (name, f"missing-{uuid.uuid4().hex[:6]}"):
        with pytest.raises(ClientError) as exc:
            cc.get_repository(repositoryName=repo)
        answers.append(exc.value.response["Error"]["Code"])
        proc = git(
            git_env,
            "ls-remote",
            server.git_url(repo, key=u["key"], secret=u["secret"]),
            check=False,
        )
        answers.append("403" if "403" in proc.stderr else proc.stderr)
    assert answers == ["AccessDeniedException", "403", "AccessDeniedException", "403"]


def test_pull_only_user_cannot_push_even_after_the_advertisement(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name, sha = _repo_with_commit(server, git_env, tmp_path / "w")
    u = _user(server, managed="arn:aws:iam::aws:policy/AWSCodeCommitReadOnly")
    url = server.git_url(name, key=u["key"], secret=u["secret"])
    clone = tmp_path / "clone"
    git(git_env, "clone", "-q", url, str(clone))
    assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    make_commits(git_env, clone, 1)
    proc = git(git_env, "push", url, "main", cwd=clone, check=False)
    assert proc.returncode != 0 and "403" in proc.stderr
    # The POST itself is authorized on its own, not only the advertisement before it.
    password = server.git_password(name, key=u["key"], secret=u["secret"])
    resp = httpx.post(
        f"{server.plain_url(name)}/git-receive-pack",
        content=b"0000",
        headers={"Content-Type": "application/x-git-receive-pack-request"},
        auth=(u["key"], password),
    )
    assert resp.status_code == 403
    assert "codecommit:GitPush" in resp.text
    assert _refs(server, name) == {"main": sha}


BRANCH_PROTECTION = {
    # AWS's documented policy: deny pushes to main, with Null so the advertisement (which has no
    # codecommit:References) stays allowed.
    "Effect": "Deny",
    "Action": [
        "codecommit:GitPush",
        "codecommit:DeleteBranch",
        "codecommit:PutFile",
        "codecommit:MergeBranchesByFastForward",
    ],
    "Resource": "*",
    "Condition": {
        "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
        "Null": {"codecommit:References": "false"},
    },
}


def test_branch_protection_stops_main_but_not_a_feature_branch(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name, sha = _repo_with_commit(server, git_env, tmp_path / "w")
    u = _user(
        server,
        _policy(
            {
                "Effect": "Allow",
                "Action": [
                    "codecommit:GitPull",
                    "codecommit:GitPush",
                    "codecommit:GetBranch",
                    "codecommit:ListBranches",
                ],
                "Resource": "*",
            },
            BRANCH_PROTECTION,
        ),
    )
    url = server.git_url(name, key=u["key"], secret=u["secret"])
    clone = tmp_path / "clone"
    git(git_env, "clone", "-q", url, str(clone))
    repo_dir = (
        server.data_dir
        / "repos"
        / server.client().get_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]
    )
    packs_before = sorted(p.name for p in (repo_dir / "objects" / "pack").iterdir())

    [new] = make_commits(git_env, clone, 1)
    proc = git(git_env, "push", "--porcelain", url, "main", cwd=clone, check=False)
    assert proc.returncode != 0
    assert "refs/heads/main" in proc.stdout and "rejected" in proc.stdout
    assert "codecommit:GitPush" in proc.stdout + proc.stderr
    assert _refs(server, name) == {"main": sha}
    assert sorted(p.name for p in (repo_dir / "objects" / "pack").iterdir()) == packs_before

    git(git_env, "push", "-q", url, "HEAD:refs/heads/feature", cwd=clone)
    assert _refs(server, name) == {"main": sha, "feature": new}
    # A push of both: the feature ref lands, main is refused; with --atomic neither.
    [newer] = make_commits(git_env, clone, 1)
    proc = git(
        git_env, "push", "--atomic", url, "HEAD:main", "HEAD:feature", cwd=clone, check=False
    )
    assert proc.returncode != 0
    assert _refs(server, name) == {"main": sha, "feature": new}
    proc = git(git_env, "push", url, "HEAD:main", "HEAD:feature", cwd=clone, check=False)
    assert proc.returncode != 0
    assert _refs(server, name) == {"main": sha, "feature": newer}


def test_git_credentials_work_until_deactivated(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name, sha = _repo_with_commit(server, git_env, tmp_path / "w")
    u = _user(server, managed="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser")
    iam = server.client("iam")
    cred = iam.create_service_specific_credential(
        UserName=u["name"], ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    assert cred["ServiceUserName"] == f"{u['name']}-at-{ACCOUNT}"
    host = server.host_port
    url = (
        f"http://{quote(cred['ServiceUserName'], safe='')}:"
        f"{quote(cred['ServicePassword'], safe='')}@{host}/v1/repos/{name}"
    )
    clone = tmp_path / "clone"
    git(git_env, "clone", "-q", url, str(clone))
    [new] = make_commits(git_env, clone, 1)
    git(git_env, "push", "-q", url, "main", cwd=clone)
    assert _refs(server, name) == {"main": new}
    wrong = url.replace(quote(cred["ServicePassword"], safe=""), "x" * 44)
    assert "403" in git(git_env, "ls-remote", wrong, check=False).stderr

    iam.update_service_specific_credential(
        UserName=u["name"],
        ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"],
        Status="Inactive",
    )
    proc = git(git_env, "ls-remote", url, check=False)
    assert proc.returncode != 0 and "403" in proc.stderr
    # Reactivated, it works again: nothing about it was lost.
    iam.update_service_specific_credential(
        UserName=u["name"],
        ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"],
        Status="Active",
    )
    assert git(git_env, "ls-remote", url).stdout.split()[0] == new
    assert sha != new


def test_inactive_and_deleted_access_keys_stop_git_at_once(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name, _ = _repo_with_commit(server, git_env, tmp_path / "w")
    u = _user(server, managed="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser")
    iam = server.client("iam")
    url = server.git_url(name, key=u["key"], secret=u["secret"])
    git(git_env, "ls-remote", url)
    used = iam.get_access_key_last_used(AccessKeyId=u["key"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "codecommit" and used["Region"] == "us-east-1"
    iam.update_access_key(UserName=u["name"], AccessKeyId=u["key"], Status="Inactive")
    assert "403" in git(git_env, "ls-remote", url, check=False).stderr
    iam.update_access_key(UserName=u["name"], AccessKeyId=u["key"], Status="Active")
    git(git_env, "ls-remote", url)
    iam.delete_access_key(UserName=u["name"], AccessKeyId=u["key"])
    assert "403" in git(git_env, "ls-remote", url, check=False).stderr


def test_cross_account_through_assume_role(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    # Account B: a repository and a role that trusts account A.
    b_cc = server.client(key=OTHER, secret="test")
    b_iam = server.client("iam", key=OTHER, secret="test")
    name = f"b-{uuid.uuid4().hex[:8]}"
    b_cc.create_repository(repositoryName=name)
    role = f"dev-{uuid.uuid4().hex[:6]}"
    role_arn = b_iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]["Arn"]
    b_iam.attach_role_policy(
        RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    # Account A: a user who may assume it, and one who may not.
    allowed = _user(
        server, _policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn})
    )
    other = _user(server, _policy({"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}))
    with pytest.raises(ClientError) as exc:
        server.client("sts", key=other["key"], secret=other["secret"]).assume_role(
            RoleArn=role_arn, RoleSessionName="nope"
        )
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    # Even codecommit:* in A does not reach B's repository directly.
    with pytest.raises(ClientError) as exc:
        server.client(key=other["key"], secret=other["secret"]).get_repository(repositoryName=name)
    assert exc.value.response["Error"]["Code"] in (
        "AccessDeniedException",
        "RepositoryDoesNotExistException",
    )

    creds = server.client("sts", key=allowed["key"], secret=allowed["secret"]).assume_role(
        RoleArn=role_arn, RoleSessionName="ci", DurationSeconds=900
    )["Credentials"]
    tmp = dict(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
    assert tmp["key"].startswith("ASIA")
    who = server.client("sts", aws_session_token=creds["SessionToken"], **tmp)
    assert who.get_caller_identity()["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/{role}/ci"
    b_as_a = server.client(aws_session_token=creds["SessionToken"], **tmp)
    assert b_as_a.get_repository(repositoryName=name)["repositoryMetadata"]["accountId"] == OTHER

    # git with the temporary credentials: user AKID%token, as git-remote-codecommit sends.
    user = f"{creds['AccessKeyId']}%{creds['SessionToken']}"
    password = server.git_password(name, **tmp)
    url = f"http://{quote(user, safe='')}:{password}@{server.host_port}/v1/repos/{name}"
    work = tmp_path / "work"
    [sha] = make_commits(git_env, work, 1)
    git(git_env, "push", "-q", url, "main", cwd=work)
    clone = tmp_path / "clone"
    git(git_env, "clone", "-q", url, str(clone))
    assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    assert b_cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == sha
    # Without the session token the key is not accepted.
    bare = server.git_url(name, **tmp)
    assert git(git_env, "ls-remote", bare, check=False).returncode != 0


def test_iam_api_is_decided_by_policy_too(server: Server) -> None:
    admin = _user(server, _policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}))
    reader = _user(
        server, _policy({"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"})
    )
    a = server.client("iam", key=admin["key"], secret=admin["secret"])
    r = server.client("iam", key=reader["key"], secret=reader["secret"])
    name = f"made-by-admin-{uuid.uuid4().hex[:6]}"
    a.create_user(UserName=name)
    assert r.get_user(UserName=name)["User"]["UserName"] == name
    with pytest.raises(ClientError) as exc:
        r.delete_user(UserName=name)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert (
        f"iam:DeleteUser on resource: arn:aws:iam::{ACCOUNT}:user/{name}"
        in (exc.value.response["Error"]["Message"])
    )
    # AWS managed policies belong to no account: readable by anyone allowed iam:GetPolicy.
    managed = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly"
    assert r.get_policy(PolicyArn=managed)["Policy"]["Arn"] == managed
    a.attach_user_policy(UserName=name, PolicyArn=managed)
    a.detach_user_policy(UserName=name, PolicyArn=managed)
    a.delete_user(UserName=name)


def test_global_condition_keys_reach_the_policy(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name, sha = _repo_with_commit(server, git_env, tmp_path / "w")

    def user_with(condition: dict[str, Any]) -> dict[str, Any]:
        return _user(
            server,
            _policy(
                {
                    "Effect": "Allow",
                    "Action": ["codecommit:GitPull", "codecommit:GetRepository"],
                    "Resource": "*",
                    "Condition": condition,
                }
            ),
        )

    loopback = user_with({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})
    elsewhere = user_with({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
    tls_only = user_with({"Bool": {"aws:SecureTransport": "true"}})
    named = user_with({"StringLike": {"aws:username": "u-*"}})
    for u, allowed in ((loopback, True), (elsewhere, False), (tls_only, False), (named, True)):
        cc = server.client(key=u["key"], secret=u["secret"])
        proc = git(
            git_env,
            "ls-remote",
            server.git_url(name, key=u["key"], secret=u["secret"]),
            check=False,
        )
        if allowed:
            assert cc.get_repository(repositoryName=name)["repositoryMetadata"]
            assert sha in proc.stdout
        else:
            with pytest.raises(ClientError):
                cc.get_repository(repositoryName=name)
            assert proc.returncode != 0 and "403" in proc.stderr


def test_forwarded_for_header_cannot_fake_the_source_ip(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    # A user allowed only from 192.0.2.0/24, calling from loopback with X-Forwarded-For naming
    # an address in that range: ccemu is no proxy's backend, so the header decides nothing.
    name, _ = _repo_with_commit(server, git_env, tmp_path / "w")
    u = _user(
        server,
        _policy(
            {
                "Effect": "Allow",
                "Action": ["codecommit:GitPull", "codecommit:GetRepository"],
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
            }
        ),
    )
    forged = {"X-Forwarded-For": "192.0.2.7", "Forwarded": "for=192.0.2.7"}
    cc = server.client(key=u["key"], secret=u["secret"])

    def forge(request: Any, **_: Any) -> None:
        for k, v in forged.items():
            request.headers[k] = v

    cc.meta.events.register("before-sign.codecommit.*", forge)
    with pytest.raises(ClientError) as exc:
        cc.get_repository(repositoryName=name)
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    proc = git(
        git_env,
        "-c",
        "http.extraHeader=X-Forwarded-For: 192.0.2.7",
        "ls-remote",
        server.git_url(name, key=u["key"], secret=u["secret"]),
        check=False,
    )
    assert proc.returncode != 0 and "403" in proc.stderr
