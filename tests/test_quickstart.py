"""The README's walk-through, with the real aws CLI (as the API client and as git's credential
helper) and the real git CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from emulator.configure import HELPER
from tests.conftest import Server, git, make_commits


def _aws_env(git_env: dict[str, str], region: str = "us-east-1") -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)  # where `aws` is installed with the test extra
    return {
        **git_env,
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def test_readme_flow_with_aws_cli_and_its_credential_helper(
    server: Server, git_env: dict[str, str], tmp_path: Path, repo_name: str
) -> None:
    env = _aws_env(git_env)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "--endpoint-url",
            server.url,
            "codecommit",
            "create-repository",
            "--repository-name",
            repo_name,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    url = json.loads(out)["repositoryMetadata"]["cloneUrlHttp"]
    assert url == f"{server.url}/v1/repos/{repo_name}"

    git(
        env,
        "config",
        "--global",
        "credential.helper",
        HELPER,
    )
    git(env, "config", "--global", "credential.UseHttpPath", "true")
    work = tmp_path / "work"
    [sha] = make_commits(env, work, 1)
    pushed = git(env, "push", url, "main", cwd=work)
    clone = tmp_path / "clone"
    cloned = git(env, "clone", url, str(clone))
    # git calls the helper with store after each success: it must stay silent (aws CLI v1
    # complains of --ignore-host-check there)
    for proc in (pushed, cloned):
        assert "Unknown options" not in proc.stderr, proc.stderr
    assert git(env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    assert sorted(p.name for p in clone.iterdir() if p.name != ".git") == sorted(
        p.name for p in work.iterdir() if p.name != ".git"
    )
    got = subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "--endpoint-url",
            server.url,
            "codecommit",
            "get-repository",
            "--repository-name",
            repo_name,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    meta = json.loads(got)["repositoryMetadata"]
    assert meta["defaultBranch"] == "main"
    # Timestamps go out as epoch seconds; aws CLI v1 prints them as it got them.
    assert abs(float(meta["creationDate"]) - time.time()) < 600


def test_credential_helper_with_wrong_secret_is_refused(
    server: Server, git_env: dict[str, str], tmp_path: Path, repo_name: str
) -> None:
    server.client().create_repository(repositoryName=repo_name)
    env = {**_aws_env(git_env), "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    git(
        env,
        "config",
        "--global",
        "credential.helper",
        HELPER,
    )
    git(env, "config", "--global", "credential.UseHttpPath", "true")
    proc = git(env, "ls-remote", server.plain_url(repo_name), check=False)
    assert proc.returncode != 0
    assert "403" in proc.stderr
    assert server.alive()


def test_readme_sets_up_the_helper_configure_writes() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert f"git config --global credential.helper '{HELPER}'" in readme
