"""One scenario suite, run by the real git CLI over every door: smart HTTP and SSH.

Each transport supplies only how git reaches the server (a URL and an environment); the
scenarios are the same. The caller is an IAM user: over HTTP with its access key (SigV4 git
password), over SSH with its SSH key id as user name and its key from ssh-keygen.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import GitUser, MakeGitUser, Server, git, make_commits, needs_openssh
from maintenance import run_maintenance

TRANSPORTS = ["http", pytest.param("ssh", marks=needs_openssh)]


@dataclass
class Remote:
    transport: str
    user: GitUser
    env: dict[str, str]

    def url(self, repo: str) -> str:
        if self.transport == "ssh":
            return self.user.ssh_url(repo)
        return self.user.http_url(repo)


def _remote(transport: str, user: GitUser, git_env: dict[str, str]) -> Remote:
    env = user.ssh_env(git_env) if transport == "ssh" else git_env
    return Remote(transport, user, env)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture
def remote(transport: str, make_git_user: MakeGitUser, git_env: dict[str, str]) -> Remote:
    """A user allowed everything in CodeCommit, reaching the server over `transport`."""
    return _remote(transport, make_git_user(), git_env)


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def create_repo(server: Server, name: str) -> None:
    server.client().create_repository(repositoryName=name)


def remote_refs(remote: Remote, repo: str) -> dict[str, str]:
    out = git(remote.env, "ls-remote", remote.url(repo)).stdout
    return {ref: sha for sha, ref in (line.split("\t") for line in out.splitlines())}


def stored_files(server: Server, name: str) -> list[str]:
    meta = server.client().get_repository(repositoryName=name)["repositoryMetadata"]
    root = server.data_dir / "repos" / meta["repositoryId"]
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def api_refs(server: Server, name: str) -> dict[str, str]:
    cc = server.client()
    return {
        b: cc.get_branch(repositoryName=name, branchName=b)["branch"]["commitId"]
        for b in cc.list_branches(repositoryName=name)["branches"]
    }


# -- scenarios --------------------------------------------------------------------------------


def test_clone_empty_push_clone_fetch(
    server: Server, remote: Remote, repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    env, url = remote.env, remote.url(repo_name)
    first = tmp_path / "first"
    out = git(env, "clone", url, str(first))
    assert "empty repository" in out.stderr
    shas = make_commits(env, first, 3)
    git(env, "push", "origin", "main", cwd=first)
    symref = git(env, "ls-remote", "--symref", url, "HEAD").stdout
    assert "ref: refs/heads/main\tHEAD" in symref
    assert remote_refs(remote, repo_name)["refs/heads/main"] == shas[-1]

    second = tmp_path / "second"
    git(env, "clone", url, str(second))
    assert git(env, "rev-parse", "HEAD", cwd=second).stdout.strip() == shas[-1]
    git(env, "fsck", "--strict", cwd=second)

    more = make_commits(env, first, 5)
    git(env, "push", "origin", "main", cwd=first)
    git(env, "fetch", "origin", cwd=second)
    assert git(env, "rev-parse", "origin/main", cwd=second).stdout.strip() == more[-1]
    git(env, "merge", "--ff-only", "origin/main", cwd=second)
    git(env, "fsck", "--strict", cwd=second)
    # pull, and a shallow clone deepened later
    git(env, "pull", "--ff-only", cwd=first)
    shallow = tmp_path / "shallow"
    git(env, "clone", "--depth", "2", url, str(shallow))
    assert git(env, "rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "2"
    git(env, "fetch", "--unshallow", cwd=shallow)
    assert git(env, "rev-list", "--count", "HEAD", cwd=shallow).stdout.strip() == "8"
    assert not [f for f in stored_files(server, repo_name) if f.startswith("incoming/")]


def test_branches_and_tags(server: Server, remote: Remote, repo_name: str, tmp_path: Path) -> None:
    create_repo(server, repo_name)
    env, url = remote.env, remote.url(repo_name)
    work = tmp_path / "w"
    shas = make_commits(env, work, 2)
    git(env, "remote", "add", "origin", url, cwd=work)
    git(env, "push", "origin", "main", cwd=work)
    git(env, "branch", "feature", shas[0], cwd=work)
    git(env, "tag", "light", shas[0], cwd=work)
    git(env, "tag", "-a", "-m", "release one", "v1", shas[1], cwd=work)
    git(env, "push", "origin", "feature", "light", "v1", cwd=work)
    refs = remote_refs(remote, repo_name)
    tag_sha = git(env, "rev-parse", "v1", cwd=work).stdout.strip()
    assert refs["refs/heads/feature"] == shas[0]
    assert refs["refs/tags/light"] == shas[0]
    assert refs["refs/tags/v1"] == tag_sha != shas[1]
    assert refs["refs/tags/v1^{}"] == shas[1]

    clone = tmp_path / "c"
    git(env, "clone", url, str(clone))
    assert git(env, "cat-file", "-t", "v1", cwd=clone).stdout.strip() == "tag"
    assert api_refs(server, repo_name) == {"main": shas[1], "feature": shas[0]}

    git(env, "push", "origin", "--delete", "feature", "light", cwd=work)
    refs = remote_refs(remote, repo_name)
    assert "refs/heads/feature" not in refs and "refs/tags/light" not in refs
    assert refs["refs/tags/v1"] == tag_sha


def test_force_push(server: Server, remote: Remote, repo_name: str, tmp_path: Path) -> None:
    create_repo(server, repo_name)
    env = remote.env
    work = tmp_path / "w"
    shas = make_commits(env, work, 3)
    git(env, "remote", "add", "origin", remote.url(repo_name), cwd=work)
    git(env, "push", "origin", "main", cwd=work)
    git(env, "reset", "--hard", shas[0], cwd=work)
    rewritten = make_commits(env, work, 1, prefix="rewrite")[0]
    plain = git(env, "push", "origin", "main", cwd=work, check=False)
    assert plain.returncode != 0 and "rejected" in plain.stderr
    assert remote_refs(remote, repo_name)["refs/heads/main"] == shas[-1]
    git(env, "push", "--force", "origin", "main", cwd=work)
    assert remote_refs(remote, repo_name)["refs/heads/main"] == rewritten


def test_atomic_push_with_stale_lease_changes_nothing(
    server: Server, remote: Remote, repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    env = remote.env
    work = tmp_path / "w"
    shas = make_commits(env, work, 2)
    git(env, "remote", "add", "origin", remote.url(repo_name), cwd=work)
    git(env, "push", "origin", "main", cwd=work)
    before_refs = remote_refs(remote, repo_name)
    before_files = stored_files(server, repo_name)
    git(env, "reset", "--hard", shas[0], cwd=work)
    make_commits(env, work, 1, prefix="new")
    git(env, "branch", "other", cwd=work)
    out = git(
        env,
        "push",
        "--atomic",
        f"--force-with-lease=main:{shas[0]}",
        "origin",
        "main",
        "other",
        cwd=work,
        check=False,
    )
    assert out.returncode != 0
    assert remote_refs(remote, repo_name) == before_refs
    assert stored_files(server, repo_name) == before_files


def test_concurrent_pushes_one_wins(
    server: Server, remote: Remote, repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    env, url = remote.env, remote.url(repo_name)
    base = tmp_path / "base"
    make_commits(env, base, 1)
    git(env, "push", url, "main", cwd=base)
    clones = []
    for i in range(4):
        c = tmp_path / f"c{i}"
        git(env, "clone", "-q", url, str(c))
        clones.append((c, make_commits(env, c, 1, prefix=f"c{i}")[0]))
    procs = [
        subprocess.Popen(
            ["git", "push", "origin", "main"],
            cwd=c,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for c, _ in clones
    ]
    codes = [p.wait(timeout=120) for p in procs]
    errors = [p.communicate()[1].decode() for p in procs]
    assert codes.count(0) == 1
    assert api_refs(server, repo_name)["main"] == clones[codes.index(0)][1]
    # each loser is told so, not left believing its push landed
    for code, err in zip(codes, errors, strict=True):
        if code != 0:
            assert "rejected" in err or "failed" in err


def test_several_clones_at_once(
    server: Server, remote: Remote, repo_name: str, tmp_path: Path
) -> None:
    create_repo(server, repo_name)
    env, url = remote.env, remote.url(repo_name)
    work = tmp_path / "w"
    shas = make_commits(env, work, 20)
    git(env, "push", url, "main", cwd=work)
    procs = [
        subprocess.Popen(
            ["git", "clone", "-q", url, str(tmp_path / f"c{i}")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(6)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 6
    for p in procs:
        p.communicate()
    for i in range(6):
        assert git(env, "rev-parse", "HEAD", cwd=tmp_path / f"c{i}").stdout.strip() == shas[-1]


def test_unknown_repository_fails_cleanly(remote: Remote, repo_name: str, tmp_path: Path) -> None:
    proc = git(remote.env, "clone", remote.url(repo_name), str(tmp_path / "c"), check=False)
    assert proc.returncode != 0
    assert "not found" in proc.stderr
    assert not (tmp_path / "c").exists()


def test_pull_only_user_cannot_push(
    server: Server,
    transport: str,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    repo_name: str,
    tmp_path: Path,
) -> None:
    owner = _remote(transport, make_git_user(), git_env)
    reader = _remote(
        transport,
        make_git_user(managed="arn:aws:iam::aws:policy/AWSCodeCommitReadOnly"),
        git_env,
    )
    create_repo(server, repo_name)
    work = tmp_path / "w"
    [sha] = make_commits(owner.env, work, 1)
    git(owner.env, "push", owner.url(repo_name), "main", cwd=work)
    clone = tmp_path / "clone"
    git(reader.env, "clone", "-q", reader.url(repo_name), str(clone))
    assert git(reader.env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    make_commits(reader.env, clone, 1)
    proc = git(reader.env, "push", "origin", "main", cwd=clone, check=False)
    assert proc.returncode != 0
    assert "codecommit:GitPush" in proc.stderr
    assert api_refs(server, repo_name) == {"main": sha}


BRANCH_PROTECTION = {
    # AWS's documented policy: deny pushes to main; Null keeps the advertisement (which has no
    # codecommit:References) allowed.
    "Effect": "Deny",
    "Action": ["codecommit:GitPush"],
    "Resource": "*",
    "Condition": {
        "StringEqualsIfExists": {"codecommit:References": ["refs/heads/main"]},
        "Null": {"codecommit:References": "false"},
    },
}


def test_branch_protection_by_references(
    server: Server,
    transport: str,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    repo_name: str,
    tmp_path: Path,
) -> None:
    owner = _remote(transport, make_git_user(), git_env)
    dev = _remote(
        transport,
        make_git_user(
            _policy(
                {
                    "Effect": "Allow",
                    "Action": ["codecommit:GitPull", "codecommit:GitPush"],
                    "Resource": "*",
                },
                BRANCH_PROTECTION,
            ),
            managed=None,
        ),
        git_env,
    )
    create_repo(server, repo_name)
    work = tmp_path / "w"
    [sha] = make_commits(owner.env, work, 1)
    git(owner.env, "push", owner.url(repo_name), "main", cwd=work)
    run_maintenance(server)  # settle what earlier pushes scheduled
    before = stored_files(server, repo_name)

    clone = tmp_path / "clone"
    git(dev.env, "clone", "-q", dev.url(repo_name), str(clone))
    [new] = make_commits(dev.env, clone, 1)
    proc = git(dev.env, "push", "--porcelain", "origin", "main", cwd=clone, check=False)
    assert proc.returncode != 0
    assert "refs/heads/main" in proc.stdout and "rejected" in proc.stdout
    assert "codecommit:GitPush" in proc.stdout + proc.stderr
    assert api_refs(server, repo_name) == {"main": sha}
    assert stored_files(server, repo_name) == before

    git(dev.env, "push", "-q", "origin", "HEAD:refs/heads/feature", cwd=clone)
    assert api_refs(server, repo_name) == {"main": sha, "feature": new}
    [newer] = make_commits(dev.env, clone, 1)
    proc = git(
        dev.env, "push", "--atomic", "origin", "HEAD:main", "HEAD:feature", cwd=clone, check=False
    )
    assert proc.returncode != 0
    assert api_refs(server, repo_name) == {"main": sha, "feature": new}
    proc = git(dev.env, "push", "origin", "HEAD:main", "HEAD:feature", cwd=clone, check=False)
    assert proc.returncode != 0
    assert api_refs(server, repo_name) == {"main": sha, "feature": newer}


def test_unauthorized_caller_learns_nothing_about_existence(
    server: Server,
    transport: str,
    make_git_user: MakeGitUser,
    git_env: dict[str, str],
    repo_name: str,
) -> None:
    create_repo(server, repo_name)
    nobody = _remote(
        transport,
        make_git_user(
            _policy({"Effect": "Allow", "Action": "codecommit:ListRepositories", "Resource": "*"}),
            managed=None,
        ),
        git_env,
    )
    answers = []
    for name in (repo_name, f"missing-{uuid.uuid4().hex[:6]}"):
        proc = git(nobody.env, "ls-remote", nobody.url(name), check=False)
        assert proc.returncode != 0
        answers.append(proc.stderr.replace(name, "NAME"))
    assert answers[0] == answers[1]
    assert "not authorized" in answers[0] or "403" in answers[0]


@pytest.mark.parametrize(
    ("branches", "default"),
    [
        (["automatic-options", "feature/x", "main", "master"], "main"),
        (["automatic-options", "master", "zeta"], "master"),
        (["develop", "release"], "develop"),
    ],
)
def test_first_mirror_push_picks_main_then_master_as_default_branch(
    server: Server,
    git_env: dict[str, str],
    repo_name: str,
    tmp_path: Path,
    branches: list[str],
    default: str,
) -> None:
    work = tmp_path / "w"
    make_commits(git_env, work, 1)
    for branch in branches:
        if branch != "main":
            git(git_env, "branch", "-f", branch, cwd=work)
    if "main" not in branches:
        git(git_env, "checkout", "-q", branches[-1], cwd=work)
        git(git_env, "branch", "-D", "main", cwd=work)
    server.client().create_repository(repositoryName=repo_name)
    git(git_env, "push", "-q", "--mirror", server.git_url(repo_name), cwd=work)
    meta = server.client().get_repository(repositoryName=repo_name)["repositoryMetadata"]
    assert meta["defaultBranch"] == default
