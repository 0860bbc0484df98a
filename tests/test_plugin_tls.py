"""Every CodeCommit client setup over ccemu's TLS listener, through the `ccemu` fixture:
boto3 trusting ccemu's CA, git-remote-codecommit (keys in the environment, and a profile that
assumes a role in another account), the aws CLI credential helper, and `ccemu configure`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509

from emulator.configure import HELPER
from emulator.pytest_plugin import Ccemu
from tests.conftest import git, make_commits, needs_openssh

BIN = str(Path(sys.executable).parent)  # ccemu, aws and git-remote-codecommit live here
OTHER = "111122223333"


def _client_env(git_env: dict[str, str], ccemu: Ccemu, **extra: str) -> dict[str, str]:
    return {
        **git_env,
        **ccemu.environ(),
        "PATH": BIN + os.pathsep + git_env.get("PATH", os.defpath),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **extra,
    }


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_the_certificate_names_and_boto3_over_https(ccemu: Ccemu) -> None:
    assert ccemu.https_url is not None
    pem = (ccemu.server.data_dir / "tls" / "server.pem").read_bytes()
    cert = x509.load_pem_x509_certificates(pem)[0]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(sans.get_values_for_type(x509.DNSName))
    assert {
        "localhost",
        "git-codecommit.us-east-1.amazonaws.com",
        "*.us-east-1.amazonaws.com",
    } <= names
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    assert oct((ccemu.server.data_dir / "tls" / "ca-key.pem").stat().st_mode & 0o777) == "0o600"

    cc = ccemu.client("codecommit", endpoint_url=ccemu.https_url, verify=str(ccemu.ca_path))
    cc.create_repository(repositoryName="over-tls")
    assert [r["repositoryName"] for r in cc.list_repositories()["repositories"]] == ["over-tls"]
    # Without trusting the CA the connection is refused, as it should be.
    untrusting = ssl.create_default_context()
    host, port = urlsplit(ccemu.https_url).hostname, urlsplit(ccemu.https_url).port
    with (
        socket.create_connection((host or "", port or 0)) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.wrap_socket(raw, server_hostname=host)


@pytest.mark.skipif(
    shutil.which("git-remote-codecommit", path=BIN) is None, reason="git-remote-codecommit missing"
)
def test_git_remote_codecommit_with_keys_in_the_environment(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    ccemu.create_repository("grc")
    env = _client_env(git_env, ccemu)
    work = tmp_path / "work"
    [first] = make_commits(env, work)
    git(env, "push", "codecommit::us-east-1://grc", "main", cwd=work)
    clone = tmp_path / "clone"
    git(env, "clone", "codecommit::us-east-1://grc", str(clone))
    assert git(env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == first
    [second] = make_commits(env, clone)
    git(env, "push", "origin", "main", cwd=clone)
    branch = ccemu.client().get_branch(repositoryName="grc", branchName="main")["branch"]
    assert branch["commitId"] == second


@pytest.mark.skipif(
    shutil.which("git-remote-codecommit", path=BIN) is None, reason="git-remote-codecommit missing"
)
def test_git_remote_codecommit_with_a_cross_account_role_profile(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    # Account 111122223333 owns the repository and a role that trusts account 123456789012.
    theirs = ccemu.client("codecommit", aws_access_key_id=OTHER)
    theirs.create_repository(repositoryName="shared")
    b_iam = ccemu.client("iam", aws_access_key_id=OTHER)
    role_arn = b_iam.create_role(
        RoleName="committer",
        AssumeRolePolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ccemu.account}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]["Arn"]
    b_iam.attach_role_policy(
        RoleName="committer", PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    # Account 123456789012: a developer allowed to assume it, with keys in a profile.
    iam = ccemu.client("iam")
    iam.create_user(UserName="dev")
    iam.put_user_policy(
        UserName="dev",
        PolicyName="assume",
        PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
        ),
    )
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    home = Path(git_env["HOME"])
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(
        f"[dev]\naws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    (home / ".aws" / "config").write_text(
        "[profile dev]\nregion = us-east-1\n\n"
        f"[profile cross]\nrole_arn = {role_arn}\nsource_profile = dev\nregion = us-east-1\n"
    )
    env = _client_env(git_env, ccemu)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE"):
        env.pop(name)
    env.pop("AWS_SHARED_CREDENTIALS_FILE")

    work = tmp_path / "work"
    [sha] = make_commits(env, work)
    git(env, "push", "codecommit::us-east-1://cross@shared", "main", cwd=work)
    assert (
        theirs.get_branch(repositoryName="shared", branchName="main")["branch"]["commitId"] == sha
    )
    clone = tmp_path / "clone"
    git(env, "clone", "codecommit::us-east-1://cross@shared", str(clone))
    assert git(env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    # The developer's own keys do not reach the other account's repository.
    denied = git(env, "ls-remote", "codecommit::us-east-1://dev@shared", check=False)
    assert denied.returncode != 0


def test_the_aws_cli_credential_helper_over_https(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    assert ccemu.https_url is not None
    ccemu.create_repository("helper")
    env = _client_env(git_env, ccemu)
    git(
        env,
        "config",
        "--global",
        "credential.helper",
        HELPER,
    )
    git(env, "config", "--global", "credential.UseHttpPath", "true")
    url = f"{ccemu.https_url}/v1/repos/helper"
    work = tmp_path / "work"
    [sha] = make_commits(env, work)
    git(env, "push", url, "main", cwd=work)
    clone = tmp_path / "clone"
    git(env, "clone", url, str(clone))
    assert git(env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha
    # git checks the certificate: without the CA it refuses the server.
    untrusting = {k: v for k, v in env.items() if k != "GIT_SSL_CAINFO"}
    refused = git(untrusting, "ls-remote", url, check=False)
    assert refused.returncode != 0 and "certificate" in refused.stderr.lower()


def test_ca_path_prints_the_ca_the_server_uses(ccemu: Ccemu) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "ca-path", "--data-dir", str(ccemu.server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    assert Path(out) == ccemu.ca_path.resolve()


@needs_openssh
def test_ccemu_configure_output_pasted_into_a_shell_works(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    assert ccemu.https_url is not None and ccemu.server.ssh_endpoint is not None
    for name in ("by-helper", "by-grc", "by-ssh"):
        ccemu.create_repository(name)
    iam = ccemu.client("iam")
    iam.create_user(UserName="student")
    iam.attach_user_policy(
        UserName="student", PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"
    )
    key_id, identity = ccemu.ssh_identity("student", tmp_path / "keys")
    env = {
        **git_env,
        "PATH": BIN + os.pathsep + git_env.get("PATH", os.defpath),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    setup = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "configure",
            "--endpoint",
            ccemu.endpoint_url,
            "--https-endpoint",
            ccemu.https_url,
            "--ssh-endpoint",
            ccemu.server.ssh_endpoint,
            "--data-dir",
            str(ccemu.server.data_dir),
            "--ssh-key-id",
            key_id,
            "--identity-file",
            str(identity),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    ).stdout
    assert "export AWS_ENDPOINT_URL=" in setup and "Host 127.0.0.1" in setup
    work = tmp_path / "work"
    [sha] = make_commits(env, work)
    ssh_port = urlsplit(ccemu.server.ssh_endpoint).port
    # OpenSSH reads the real home's ~/.ssh, not $HOME's: point it at the files the setup wrote.
    after = f"""
set -e
cd {work}
git push -q {ccemu.endpoint_url}/v1/repos/by-helper main
git push -q codecommit::{ccemu.region}://by-grc main
GIT_SSH_COMMAND="ssh -F $HOME/.ssh/config -o UserKnownHostsFile=$HOME/.ssh/known_hosts"
export GIT_SSH_COMMAND="$GIT_SSH_COMMAND -o StrictHostKeyChecking=yes -o BatchMode=yes"
git push -q ssh://127.0.0.1:{ssh_port}/v1/repos/by-ssh main
aws codecommit get-branch --repository-name by-grc --branch-name main
"""
    proc = subprocess.run(
        ["sh", "-c", setup + after], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["branch"]["commitId"] == sha
    cc = ccemu.client()
    for name in ("by-helper", "by-grc", "by-ssh"):
        assert cc.get_branch(repositoryName=name, branchName="main")["branch"]["commitId"] == sha


def test_readme_cross_account_example_runs_as_written(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("# account 111122223333 owns the repository")
    block = readme[start : readme.index("```", start)]
    setup, clone = block.split("git clone ", 1)
    home = Path(git_env["HOME"])
    (home / ".aws").mkdir()
    env = _client_env(
        git_env,
        ccemu,
        AWS_CONFIG_FILE=str(home / ".aws" / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / ".aws" / "credentials"),
    )
    assert env["AWS_ACCESS_KEY_ID"] == "test" and ccemu.account == "123456789012"
    ran = subprocess.run(
        ["bash", "-e", "-c", setup], env=env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    # the step the README leaves to the reader: the new key into ~/.aws/credentials as [dev]
    key = json.loads(ran.stdout[ran.stdout.index('{\n    "AccessKey"') :])["AccessKey"]
    (home / ".aws" / "credentials").write_text(
        f"[dev]\naws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    theirs = ccemu.client("codecommit", aws_access_key_id=OTHER)
    work = tmp_path / "work"
    [sha] = make_commits(git_env, work)
    git(env, "push", "codecommit::us-east-1://cross@shared", "main", cwd=work)
    branch = theirs.get_branch(repositoryName="shared", branchName="main")["branch"]
    assert branch["commitId"] == sha
    target = tmp_path / "clone"
    git(env, "clone", *clone.split()[:1], str(target))
    assert git(env, "rev-parse", "HEAD", cwd=target).stdout.strip() == sha
