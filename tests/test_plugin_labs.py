"""The data in fixtures/ (policies, the sample bundle, the lab setup script) against ccemu,
through the `ccemu` fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from emulator.pytest_plugin import Ccemu
from tests.conftest import git, make_commits

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
POLICIES = sorted((FIXTURES / "policies").glob("*.json"))


def _url(ccemu: Ccemu, repo: str, user: str, password: str) -> str:
    host = ccemu.endpoint_url.split("://", 1)[1]
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{host}/v1/repos/{repo}"


@pytest.mark.parametrize("path", POLICIES, ids=[p.stem for p in POLICIES])
def test_every_example_policy_is_a_valid_iam_policy(ccemu: Ccemu, path: Path) -> None:
    iam = ccemu.client("iam")
    if path.stem.endswith("-trust"):  # a role's trust policy names principals
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=path.read_text())["Role"]
        assert role["Arn"] == f"arn:aws:iam::{ccemu.account}:role/r"
        return
    arn = iam.create_policy(PolicyName=path.stem, PolicyDocument=path.read_text())["Policy"]["Arn"]
    assert arn == f"arn:aws:iam::{ccemu.account}:policy/{path.stem}"


def test_branch_protection_policy_keeps_main_but_not_other_branches(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    ccemu.create_repository("guarded")
    work = tmp_path / "work"
    make_commits(git_env, work)
    git(git_env, "push", ccemu.git_url("guarded"), "main", cwd=work)
    iam = ccemu.client("iam")
    iam.create_user(UserName="dev")
    for name in ("power-user", "branch-protection"):
        doc = (FIXTURES / "policies" / f"{name}.json").read_text()
        iam.put_user_policy(UserName="dev", PolicyName=name, PolicyDocument=doc)
    cred = iam.create_service_specific_credential(
        UserName="dev", ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    url = _url(ccemu, "guarded", cred["ServiceUserName"], cred["ServicePassword"])
    make_commits(git_env, work)
    refused = git(git_env, "push", url, "main", cwd=work, check=False)
    assert refused.returncode != 0
    git(git_env, "push", url, "main:feature/x", cwd=work)
    branches = ccemu.client().list_branches(repositoryName="guarded")["branches"]
    assert sorted(branches) == ["feature/x", "main"]


def test_lab_setup_gives_each_student_their_own_seeded_repository(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "lab.json"
    subprocess.run(
        [
            sys.executable,
            str(FIXTURES / "lab_setup.py"),
            "--endpoint",
            ccemu.endpoint_url,
            "--students",
            "2",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={**git_env, **ccemu.environ()},
    )
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    one, two = json.loads(out.read_text())
    assert (one["user"], one["repository"]) == ("student01", "student01-lab")
    heads = subprocess.run(
        ["git", "bundle", "list-heads", str(FIXTURES / "repos" / "sample.bundle")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    want = {ref: sha for sha, ref in (ln.split() for ln in heads.splitlines()) if ref != "HEAD"}

    mine = _url(ccemu, one["repository"], one["git_user"], one["git_password"])
    got = git(git_env, "ls-remote", mine).stdout
    advertised = {ref: sha for sha, ref in (ln.split() for ln in got.splitlines())}
    assert {r: sha for r, sha in advertised.items() if r != "HEAD" and "^" not in r} == want
    clone = tmp_path / "clone"
    git(git_env, "clone", "-q", mine, str(clone))
    assert (clone / "src" / "hello.py").is_file()
    # Another student's repository is out of reach, by git and by the API.
    theirs = _url(ccemu, two["repository"], one["git_user"], one["git_password"])
    assert git(git_env, "ls-remote", theirs, check=False).returncode != 0
    cc = ccemu.client(
        aws_access_key_id=one["access_key_id"], aws_secret_access_key=one["secret_access_key"]
    )
    meta = cc.get_repository(repositoryName=one["repository"])["repositoryMetadata"]
    # the bundle's HEAD, not the first of its branches in git's order (feature/greeting)
    assert meta["defaultBranch"] == "main"
    with pytest.raises(cc.exceptions.ClientError):
        cc.get_repository(repositoryName=two["repository"])
