"""A caller refused a repository learns nothing of the region it is in: the git doors authorize
the region the caller addressed before looking anywhere, over HTTP (git credentials and SigV4
passwords) and SSH alike."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import (
    ACCOUNT,
    GitUser,
    MakeGitUser,
    Server,
    git,
    make_commits,
    needs_openssh,
)

WEST = "eu-west-1"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _repo_in_west(server: Server, git_env: dict[str, str], tmp_path: Path) -> tuple[str, str]:
    """A repository with one commit that exists in eu-west-1 only."""
    name = f"west-{uuid.uuid4().hex[:10]}"
    server.client(region=WEST).create_repository(repositoryName=name)
    work = tmp_path / f"w-{name}"
    [sha] = make_commits(git_env, work, 1)
    git(git_env, "push", "-q", server.git_url(name, region=WEST), "main", cwd=work)
    return name, sha


def _git_credential(server: Server, user: GitUser) -> tuple[str, str]:
    cred = server.client("iam").create_service_specific_credential(
        UserName=user.name, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    return cred["ServiceUserName"], cred["ServicePassword"]


def _http_answer(server: Server, repo: str, auth: tuple[str, str]) -> tuple[int, str]:
    resp = httpx.get(
        f"{server.plain_url(repo)}/info/refs", params={"service": "git-upload-pack"}, auth=auth
    )
    return resp.status_code, resp.text.replace(repo, "<repo>")


def _ssh_answer(user: GitUser, env: dict[str, str], repo: str) -> tuple[int, str]:
    proc = git(user.ssh_env(env), "ls-remote", user.ssh_url(repo), check=False)
    return proc.returncode, proc.stderr.replace(repo, "<repo>")


# Allowed nothing on any repository: refused in the region it addresses.
NOTHING = _policy({"Effect": "Allow", "Action": "codecommit:ListRepositories", "Resource": "*"})
# Allowed in the endpoint's region only.
EAST_ONLY = _policy(
    {
        "Effect": "Allow",
        "Action": ["codecommit:GitPull", "codecommit:GitPush"],
        "Resource": f"arn:aws:codecommit:us-east-1:{ACCOUNT}:*",
    }
)


@pytest.mark.parametrize("policy", [NOTHING, EAST_ONLY], ids=["refused", "east-only"])
def test_refused_http_caller_cannot_tell_which_region_holds_the_repository(
    server: Server,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    tmp_path: Path,
    policy: str,
) -> None:
    west, _ = _repo_in_west(server, git_env, tmp_path)
    nowhere = f"west-{uuid.uuid4().hex[:10]}"
    user = make_git_user(policy=policy, managed=None)
    credential = _git_credential(server, user)
    answer = _http_answer(server, west, credential)
    assert answer == _http_answer(server, nowhere, credential)
    assert WEST not in answer[1]
    if policy is NOTHING:
        # Refused for the ARN the caller addressed: the endpoint's region.
        assert answer[0] == 403
        assert f"arn:aws:codecommit:us-east-1:{ACCOUNT}:<repo>" in answer[1]
    else:
        assert answer[0] == 404  # allowed where it asked, and nothing is there for it

    # A SigV4 password signed for a region: the same answer whether the repository is there,
    # in another region, or nowhere.
    for region in (WEST, "ap-south-1"):
        answers = {
            _http_answer(
                server,
                repo,
                (
                    user.access_key,
                    server.git_password(
                        repo, key=user.access_key, secret=user.secret, region=region
                    ),
                ),
            )
            for repo in (west, nowhere)
        }
        assert len(answers) == 1, answers
    # The server still serves the next request.
    assert server.client(region=WEST).get_repository(repositoryName=west)


@needs_openssh
@pytest.mark.parametrize("policy", [NOTHING, EAST_ONLY], ids=["refused", "east-only"])
def test_refused_ssh_caller_cannot_tell_which_region_holds_the_repository(
    server: Server,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    tmp_path: Path,
    policy: str,
) -> None:
    west, _ = _repo_in_west(server, git_env, tmp_path)
    nowhere = f"west-{uuid.uuid4().hex[:10]}"
    user = make_git_user(policy=policy, managed=None)
    answer = _ssh_answer(user, git_env, west)
    assert answer == _ssh_answer(user, git_env, nowhere)
    assert answer[0] != 0 and WEST not in answer[1]
    if policy is NOTHING:
        assert f"arn:aws:codecommit:us-east-1:{ACCOUNT}:<repo>" in answer[1]
    else:
        assert "not found" in answer[1]


@needs_openssh
def test_allowed_caller_still_reaches_a_repository_of_another_region_without_naming_it(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    """Git credentials and SSH keys are not region-bound: a caller allowed in both regions
    still finds the repository where it is, as before."""
    west, sha = _repo_in_west(server, git_env, tmp_path)
    user = make_git_user()  # AWSCodeCommitPowerUser: every region
    out = git(user.ssh_env(git_env), "ls-remote", user.ssh_url(west)).stdout
    assert f"{sha}\trefs/heads/main" in out
    name, password = _git_credential(server, user)
    url = f"http://{quote(name, safe='')}:{quote(password, safe='')}@{server.host_port}"
    out = git(git_env, "ls-remote", f"{url}/v1/repos/{west}").stdout
    assert f"{sha}\trefs/heads/main" in out


WEST_ONLY = _policy(
    {
        "Effect": "Allow",
        "Action": ["codecommit:GitPull", "codecommit:GitPush"],
        "Resource": f"arn:aws:codecommit:{WEST}:{ACCOUNT}:*",
    }
)


@needs_openssh
def test_caller_allowed_only_in_another_region_reaches_its_repository_and_learns_nothing_more(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    """Refused in the endpoint's region but allowed where the repository is: served there. For a
    name that is nowhere (or in a region the caller may not use) the answer is the endpoint
    region's denial, the same as for a caller allowed nowhere."""
    west, sha = _repo_in_west(server, git_env, tmp_path)
    user = make_git_user(policy=WEST_ONLY, managed=None)
    out = git(user.ssh_env(git_env), "ls-remote", user.ssh_url(west)).stdout
    assert f"{sha}\trefs/heads/main" in out
    name, password = _git_credential(server, user)
    url = f"http://{quote(name, safe='')}:{quote(password, safe='')}@{server.host_port}"
    assert f"{sha}\trefs/heads/main" in git(git_env, "ls-remote", f"{url}/v1/repos/{west}").stdout

    nowhere = f"west-{uuid.uuid4().hex[:10]}"
    east = f"east-{uuid.uuid4().hex[:10]}"
    server.client().create_repository(repositoryName=east)
    code, text = _ssh_answer(user, git_env, nowhere)
    assert code != 0 and f"arn:aws:codecommit:us-east-1:{ACCOUNT}:<repo>" in text
    assert _ssh_answer(user, git_env, east) == (code, text)
