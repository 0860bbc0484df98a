"""`ccemu serve --aws-clone-urls`: cloneUrlHttp / cloneUrlSsh are AWS's own, and a URL pasted
from GetRepository works with an unchanged git once `ccemu configure --aws-clone-urls` has set
up git and ssh in the user's (here a temporary) HOME: over https (the TLS listener, with the aws
CLI credential helper signing the host git hands it) and over ssh (OpenSSH)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.pytest_plugin import Ccemu, CcemuServer, start_server
from tests.conftest import git, make_commits, needs_openssh
from tests.conftest import start_server as start_plain_server

BIN = str(Path(sys.executable).parent)  # ccemu, aws and git-remote-codecommit live here


@pytest.fixture(scope="module")
def aws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CcemuServer]:
    srv = start_server(
        tmp_path_factory.mktemp("ccemu-aws-urls") / "data", extra_args=("--aws-clone-urls",)
    )
    yield srv
    srv.stop()


@pytest.fixture
def aws(aws_server: CcemuServer) -> Ccemu:
    handle = Ccemu(aws_server)
    handle.reset()
    return handle


def _env(git_env: dict[str, str]) -> dict[str, str]:
    return {
        **git_env,
        "PATH": BIN + os.pathsep + git_env.get("PATH", os.defpath),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def _configure(aws: Ccemu, env: dict[str, str], *extra: str, http: str | None = None) -> str:
    server = aws.server
    assert server.https_url is not None and server.ssh_endpoint is not None
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "configure",
            "--endpoint",
            http or server.endpoint_url,
            "--https-endpoint",
            http or server.https_url,
            "--ssh-endpoint",
            server.ssh_endpoint,
            "--data-dir",
            str(server.data_dir),
            "--aws-clone-urls",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    ).stdout


def test_clone_urls_are_exactly_what_aws_answers(aws: Ccemu) -> None:
    for region, suffix in (
        ("us-east-1", "amazonaws.com"),
        ("eu-west-1", "amazonaws.com"),
        ("cn-north-1", "amazonaws.com.cn"),
    ):
        cc = aws.client("codecommit", region_name=region)
        made = cc.create_repository(repositoryName="demo")["repositoryMetadata"]
        host = f"git-codecommit.{region}.{suffix}"
        for meta in (
            made,
            cc.get_repository(repositoryName="demo")["repositoryMetadata"],
            cc.batch_get_repositories(repositoryNames=["demo"])["repositories"][0],
        ):
            assert meta["cloneUrlHttp"] == f"https://{host}/v1/repos/demo"
            assert meta["cloneUrlSsh"] == f"ssh://{host}/v1/repos/demo"


def test_aws_https_clone_url_pasted_into_git_after_the_configure_script(
    aws: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    meta = aws.create_repository("pasted")
    url = meta["cloneUrlHttp"]
    assert url == "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/pasted"
    env = _env(git_env)
    # An earlier run on another port left its rules: the script replaces them (git takes the
    # first of equally long insteadOf matches, so a stale rule would otherwise win).
    _configure(aws, env, "--write", http="http://127.0.0.1:9")
    setup = _configure(aws, env)
    work = tmp_path / "work"
    [first] = make_commits(env, work)
    grc = shutil.which("git-remote-codecommit", path=BIN) is not None
    after = f"""
set -e
cd {work}
git push -q {url} main
git clone -q {url} {tmp_path / "clone"}
cd {tmp_path / "clone"}
git config remote.origin.url
echo change > change.txt && git add change.txt && git commit -qm change
git push -q origin main
git rev-parse HEAD
{"git ls-remote codecommit::us-east-1://pasted main" if grc else "echo"}
"""
    proc = subprocess.run(
        ["sh", "-c", setup + after], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    origin, second, *rest = proc.stdout.split()
    assert origin == url  # git keeps the URL as given; the rewrite happens on each use
    assert second != first
    branch = aws.client().get_branch(repositoryName="pasted", branchName="main")["branch"]
    assert branch["commitId"] == second
    if grc:  # codecommit:: URLs do not change: CODE_COMMIT_ENDPOINT still names ccemu
        assert rest[0] == second
    # Only the rules of this run are left, all for the https listener.
    rules = git(env, "config", "--global", "--get-regexp", r"^url\..*\.insteadof$").stdout
    assert rules and all(line.startswith(f"url.{aws.https_url}/.") for line in rules.splitlines())


@needs_openssh
def test_aws_ssh_clone_url_pasted_into_git_after_configure_write(
    aws: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    meta = aws.create_repository("over-ssh")
    url = meta["cloneUrlSsh"]
    assert url == "ssh://git-codecommit.us-east-1.amazonaws.com/v1/repos/over-ssh"
    iam = aws.client("iam")
    iam.create_user(UserName="dev")
    iam.attach_user_policy(
        UserName="dev", PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    key_id, identity = aws.ssh_identity("dev", tmp_path / "keys")
    env = _env(git_env)
    for _ in range(2):  # a second run replaces the block, it does not add one
        _configure(aws, env, "--write", "--ssh-key-id", key_id, "--identity-file", str(identity))
    home = Path(env["HOME"])
    assert (home / ".ssh" / "config").read_text().count("Host git-codecommit.*") == 1
    # OpenSSH reads the real home's ~/.ssh, not $HOME's: point it at the files configure wrote,
    # and check the host key strictly.
    env["GIT_SSH_COMMAND"] = (
        f"ssh -F {home / '.ssh' / 'config'} -o UserKnownHostsFile={home / '.ssh' / 'known_hosts'}"
        " -o StrictHostKeyChecking=yes -o BatchMode=yes"
    )
    work = tmp_path / "work"
    [sha] = make_commits(env, work)
    git(env, "push", "-q", url, "main", cwd=work)
    git(env, "clone", "-q", url, str(tmp_path / "clone"))
    assert git(env, "rev-parse", "HEAD", cwd=tmp_path / "clone").stdout.strip() == sha
    # A host key ccemu does not have is refused: checking was not switched off.
    (home / ".ssh" / "known_hosts").write_text("")
    refused = git(env, "ls-remote", url, check=False)
    assert refused.returncode != 0 and "host key" in refused.stderr.lower()


def test_the_fixture_option_gives_aws_clone_urls(tmp_path: Path) -> None:
    (tmp_path / "test_urls.py").write_text(
        "def test_urls(ccemu):\n"
        "    meta = ccemu.create_repository('demo')\n"
        "    host = 'git-codecommit.us-east-1.amazonaws.com'\n"
        "    assert meta['cloneUrlHttp'] == f'https://{host}/v1/repos/demo'\n"
        "    assert meta['cloneUrlSsh'] == f'ssh://{host}/v1/repos/demo'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ccemu-aws-clone-urls"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_environment_variable_turns_it_on_and_the_banner_says_so(tmp_path: Path) -> None:
    srv = start_plain_server(tmp_path / "data", env={"CCEMU_AWS_CLONE_URLS": "1"})
    try:
        meta = srv.client().create_repository(repositoryName="by-env")["repositoryMetadata"]
        assert meta["cloneUrlHttp"] == (
            "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/by-env"
        )
    finally:
        srv.stop()
    assert "ccemu configure --aws-clone-urls" in srv.log.read_text()
