"""Shared fixtures: a real ccemu server on an ephemeral port, real boto3 and git clients."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Server:
    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path
    ssh_url: str = ""
    ready_file: Path | None = None
    _known_hosts: Path | None = field(default=None, repr=False)

    @property
    def host_port(self) -> str:
        return self.url.split("://", 1)[1]

    @property
    def ssh_port(self) -> int:
        return int(self.ssh_url.rsplit(":", 1)[1])

    def known_hosts(self) -> Path:
        """A known_hosts file made with `ccemu ssh-host-key`, as a user would make it."""
        if self._known_hosts is None:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "emulator",
                    "ssh-host-key",
                    "--data-dir",
                    str(self.data_dir),
                    "--port",
                    str(self.ssh_port),
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
            path = self.data_dir.parent / f"known_hosts-{uuid.uuid4().hex[:8]}"
            path.write_text(out)
            self._known_hosts = path
        return self._known_hosts

    def ssh_command(self, identity: Path, *options: str) -> list[str]:
        """The OpenSSH client with only `identity`, checking the host key strictly."""
        return [
            "ssh",
            "-i",
            str(identity),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts()}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-F",
            "/dev/null",
            "-p",
            str(self.ssh_port),
            *options,
        ]

    def ssh_git_url(self, repo: str, key_id: str) -> str:
        return f"ssh://{key_id}@127.0.0.1:{self.ssh_port}/v1/repos/{repo}"

    def client(
        self,
        service: str = "codecommit",
        *,
        key: str = "test",
        secret: str = "test",
        region: str = REGION,
        **kw: Any,
    ) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=BotoConfig(retries={"max_attempts": 1}),
            **kw,
        )

    def git_password(
        self,
        repo: str,
        *,
        key: str = "test",
        secret: str = "test",
        region: str = REGION,
        when: datetime | None = None,
        host: str = "127.0.0.1",
    ) -> str:
        return sigv4_git_password(secret, key, region, host, f"/v1/repos/{repo}", when)

    def git_url(
        self, repo: str, *, key: str = "test", secret: str = "test", region: str = REGION
    ) -> str:
        """An http clone URL with a SigV4 git password in it, as plain `git` can use."""
        from urllib.parse import quote

        password = self.git_password(repo, key=key, secret=secret, region=region)
        return f"http://{quote(key, safe='')}:{password}@{self.host_port}/v1/repos/{repo}"

    def plain_url(self, repo: str) -> str:
        return f"{self.url}/v1/repos/{repo}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def sigv4_git_password(
    secret: str, key: str, region: str, host: str, path: str, when: datetime | None = None
) -> str:
    """The password git-remote-codecommit computes (SigV4, method GIT)."""
    when = when or datetime.now(UTC)
    signer = SigV4Auth(Credentials(key, secret), "codecommit", region)
    req = AWSRequest()
    req.method = "GIT"
    req.url = f"https://{host}{path}"
    req.context["timestamp"] = when.strftime("%Y%m%dT%H%M%S")
    canonical = f"GIT\n{path}\n\nhost:{host}\n\nhost\n"
    sts = signer.string_to_sign(req, canonical)
    return f"{req.context['timestamp']}Z{signer.signature(sts, req)}"


def start_server(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    ready = data_dir.parent / f"ready-{uuid.uuid4().hex}.json"
    log = data_dir.parent / f"server-{uuid.uuid4().hex}.log"
    full_env = {**os.environ, **(env or {})}
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                "serve",
                "--port",
                "0",
                "--ssh-port",
                "0",
                "--data-dir",
                str(data_dir),
                "--ready-file",
                str(ready),
                *args,
            ],
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ccemu exited with {proc.returncode}:\n{log.read_text()}")
        if ready.exists():
            info = json.loads(ready.read_text())
            return Server(
                url=info["http"],
                data_dir=data_dir,
                proc=proc,
                log=log,
                ssh_url=info["ssh"],
                ready_file=ready,
            )
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"ccemu did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server per test worker; tests use unique repository names."""
    srv = start_server(tmp_path_factory.mktemp("ccemu") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, for tests that restart it or need a clean state."""
    srv = start_server(tmp_path / "data")
    yield srv
    srv.stop()


@pytest.fixture
def cc(server: Server) -> Any:
    return server.client("codecommit")


@pytest.fixture
def repo_name() -> str:
    return f"repo-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """An environment where git reads no user or system config and never prompts."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "AWS_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[protocol]\n\tversion = 2\n")
    return env


def git(
    env: dict[str, str],
    *args: str,
    cwd: Path | None = None,
    check: bool = True,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        input=None if input is None else input.decode(),
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def make_commits(
    env: dict[str, str], work: Path, count: int = 1, *, branch: str = "main", prefix: str = "file"
) -> list[str]:
    """Create `count` commits in the work tree `work` (initialising it if needed)."""
    if not (work / ".git").exists():
        work.mkdir(parents=True, exist_ok=True)
        git(env, "init", "-q", "-b", branch, cwd=work)
    shas = []
    for i in range(count):
        name = f"{prefix}-{uuid.uuid4().hex[:8]}.txt"
        (work / name).write_text(f"{name} {i}\n" * 10)
        git(env, "add", name, cwd=work)
        git(env, "commit", "-q", "-m", f"add {name}", cwd=work)
        shas.append(git(env, "rev-parse", "HEAD", cwd=work).stdout.strip())
    return shas


# -- SSH identities -------------------------------------------------------------------------

needs_openssh = pytest.mark.skipif(
    shutil.which("ssh") is None or shutil.which("ssh-keygen") is None,
    reason="the OpenSSH client (ssh, ssh-keygen) is not installed",
)


def ssh_keygen(path: Path, key_type: str = "ed25519") -> Path:
    """A new unencrypted key pair made by ssh-keygen; returns the private key's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-t", key_type] + (["-b", "3072"] if key_type == "rsa" else [])
    subprocess.run(
        ["ssh-keygen", "-q", *args, "-N", "", "-C", "test", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


@dataclass
class GitUser:
    """An IAM user with an access key and an SSH key, who can use git over both doors."""

    server: Server
    name: str
    access_key: str
    secret: str
    ssh_key_id: str
    identity: Path  # the private key

    def ssh_env(self, env: dict[str, str], identity: Path | None = None) -> dict[str, str]:
        command = self.server.ssh_command(identity or self.identity)
        return {**env, "GIT_SSH_COMMAND": " ".join(command)}

    def ssh_url(self, repo: str) -> str:
        return self.server.ssh_git_url(repo, self.ssh_key_id)

    def http_url(self, repo: str) -> str:
        return self.server.git_url(repo, key=self.access_key, secret=self.secret)


MakeGitUser = Callable[..., GitUser]


@pytest.fixture
def make_git_user(server: Server, tmp_path: Path) -> MakeGitUser:
    """`make_git_user(policy=None, managed=..., key_type="ed25519", account_key="test",
    on=server)`: a new IAM user with the policy, an access key and an SSH key from ssh-keygen."""

    def make(
        policy: str | None = None,
        managed: str | None = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser",
        key_type: str = "ed25519",
        account_key: str = "test",
        on: Server | None = None,
    ) -> GitUser:
        srv = on or server
        iam = srv.client("iam", key=account_key, secret="test")
        name = f"git-{uuid.uuid4().hex[:10]}"
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
        if managed is not None:
            iam.attach_user_policy(UserName=name, PolicyArn=managed)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        identity = ssh_keygen(tmp_path / "ssh" / f"{name}_{key_type}", key_type)
        body = identity.with_name(identity.name + ".pub").read_text()
        key_id = iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=body)["SSHPublicKey"][
            "SSHPublicKeyId"
        ]
        return GitUser(srv, name, key["AccessKeyId"], key["SecretAccessKey"], key_id, identity)

    return make
