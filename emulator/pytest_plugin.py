"""pytest fixtures for testing against ccemu, registered through the `pytest11` entry point.

    def test_push(ccemu, tmp_path):
        ccemu.create_repository("demo")
        subprocess.run(["git", "clone", ccemu.git_url("demo"), str(tmp_path / "demo")], ...)
        branches = ccemu.client("codecommit").list_branches(repositoryName="demo")

- `ccemu_server` (session scope): one real server, a subprocess on free ports (HTTP, https and
  SSH) with its data in a temporary directory, stopped at the end of the session. Under
  pytest-xdist each worker has its own.
- `ccemu` (function scope): a `Ccemu` handle on that server, reset to an empty state before the
  test (`POST /_ccemu/reset`), so tests never see each other's repositories or users.

Options (command line, or the same name without `--` and with `_` in pytest.ini / pyproject's
`[tool.pytest.ini_options]`): `--ccemu-port`, `--ccemu-https-port`, `--ccemu-ssh-port` (default 0:
free ports), `--ccemu-data-dir` (default: a temporary directory), `--ccemu-region`,
`--ccemu-account`, `--ccemu-keep-data` (keep the data dir after the session); and switches of
`ccemu serve`: `--ccemu-aws-clone-urls` (cloneUrlHttp / cloneUrlSsh in AWS's form) and
`--ccemu-accept-any-credentials` (any access key id signs as a root user, for suites written for
moto).

The module imports only the standard library and pytest, so it costs nothing in test runs that
do not use it; boto3 is imported when a client is asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from emulator.config import DEFAULT_ACCOUNT, DEFAULT_REGION

ROOT_ACCESS_KEY = "test"
ROOT_SECRET_KEY = "test"  # noqa: S105 - ccemu's documented local default
SERVICES = ("codecommit", "iam", "sts", "kms", "sns")
START_TIMEOUT = 60.0

# A user that owns the long-lived git credentials behind `Ccemu.git_url` (made on first use
# after each reset), allowed everything in CodeCommit.
_GIT_USER = "ccemu-git"
_GIT_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}],
    }
)

_OPTIONS: tuple[tuple[str, str], ...] = (
    ("port", "HTTP port of the ccemu fixture server (0: a free port)"),
    ("https_port", "https port of the ccemu fixture server (0: a free port)"),
    ("ssh_port", "SSH port of the ccemu fixture server (0: a free port)"),
    ("data_dir", "data dir of the ccemu fixture server (default: a temporary directory)"),
    ("region", "region of the ccemu fixture server"),
    ("account", "default account of the ccemu fixture server"),
)


# Switches passed on to `ccemu serve` (the same name there, without `ccemu-`).
_SWITCHES: tuple[tuple[str, str], ...] = (
    ("aws_clone_urls", "cloneUrlHttp/cloneUrlSsh in AWS's form (ccemu serve --aws-clone-urls)"),
    (
        "accept_any_credentials",
        "any access key id signs as a root user, unchecked (ccemu serve --accept-any-credentials)",
    ),
)


# What the fixture's own options decide, whatever the environment happens to hold.
_ENV_NOT_PASSED = (
    "CCEMU_ROOT_ACCESS_KEY",
    "CCEMU_ROOT_SECRET_KEY",
    "CCEMU_AWS_CLONE_URLS",
    "CCEMU_ACCEPT_ANY_CREDENTIALS",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ccemu", "ccemu fixture server")
    for name, help_text in _OPTIONS:
        group.addoption(f"--ccemu-{name.replace('_', '-')}", dest=f"ccemu_{name}", help=help_text)
        parser.addini(f"ccemu_{name}", help_text)
    group.addoption(
        "--ccemu-keep-data",
        dest="ccemu_keep_data",
        action="store_true",
        default=None,
        help="keep the ccemu fixture server's data dir after the session",
    )
    parser.addini("ccemu_keep_data", "keep the ccemu data dir after the session", type="bool")
    for name, help_text in _SWITCHES:
        group.addoption(
            f"--ccemu-{name.replace('_', '-')}",
            dest=f"ccemu_{name}",
            action="store_true",
            default=None,
            help=help_text,
        )
        parser.addini(f"ccemu_{name}", help_text, type="bool")


def _switches(config: pytest.Config) -> tuple[str, ...]:
    """The `ccemu serve` flags of the switches that are on."""
    return tuple(
        f"--{name.replace('_', '-')}"
        for name, _ in _SWITCHES
        if config.getoption(f"ccemu_{name}") or config.getini(f"ccemu_{name}")
    )


def _option(config: pytest.Config, name: str, default: str) -> str:
    value = config.getoption(f"ccemu_{name}")
    if value is None:
        value = config.getini(f"ccemu_{name}")
    return str(value) if value else default


class CcemuServer:
    """A running ccemu: its URLs, data dir and root credentials."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        info: dict[str, str],
        data_dir: Path,
        log: Path,
        region: str,
        account: str,
        startup_seconds: float,
    ) -> None:
        self.proc = proc
        self.endpoint_url = info["http"]
        self.https_url: str | None = info.get("https")
        self.ssh_endpoint: str | None = info.get("ssh")
        self.data_dir = data_dir
        self.log = log
        self.region = region
        self.account = account
        self.access_key = ROOT_ACCESS_KEY
        self.secret_key = ROOT_SECRET_KEY
        self.startup_seconds = startup_seconds

    @property
    def ca_path(self) -> Path:
        """The CA certificate to trust for `https_url` (GIT_SSL_CAINFO, AWS_CA_BUNDLE)."""
        return self.data_dir / "tls" / "ca.pem"

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        sign: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """A request to one of ccemu's own endpoints (`/_ccemu/...`), signed as the root user;
        returns the decoded JSON answer."""
        url = self.endpoint_url + path
        headers = {"Content-Type": "application/json", **(headers or {})}
        if sign:
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.credentials import Credentials

            req = AWSRequest(method=method, url=url, data=body, headers=headers)
            SigV4Auth(Credentials(self.access_key, self.secret_key), "ccemu", self.region).add_auth(
                req
            )
            headers = dict(req.headers.items())
        http_req = urllib.request.Request(  # noqa: S310 - our own http URL
            url, data=body or None, headers=headers, method=method
        )
        with urllib.request.urlopen(http_req, timeout=60) as resp:  # noqa: S310 - our own URL
            raw = resp.read()
        return json.loads(raw) if raw else None

    def reset(self) -> None:
        # The header no web page can send without a CORS preflight (see emulator.api.ccemu_reset).
        self.request("POST", "/_ccemu/reset", headers={"X-Ccemu-Reset": "1"})

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


def start_server(
    data_dir: Path,
    *,
    port: int = 0,
    https_port: int = 0,
    ssh_port: int = 0,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    extra_args: tuple[str, ...] = (),
    timeout: float = START_TIMEOUT,
) -> CcemuServer:
    """Start `ccemu serve` as a subprocess and wait until every listener accepts connections."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ready = data_dir.parent / f".ccemu-ready-{uuid.uuid4().hex}.json"
    log = data_dir.parent / f".ccemu-{uuid.uuid4().hex[:8]}.log"
    env = {k: v for k, v in os.environ.items() if k not in _ENV_NOT_PASSED}
    args = [
        sys.executable,
        "-m",
        "emulator",
        "serve",
        "--port",
        str(port),
        "--https-port",
        str(https_port),
        "--ssh-port",
        str(ssh_port),
        "--data-dir",
        str(data_dir),
        "--region",
        region,
        "--account",
        account,
        "--ready-file",
        str(ready),
        *extra_args,
    ]
    started = time.monotonic()
    with open(log, "wb") as logf:
        proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=env)
    deadline = started + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"ccemu exited with {proc.returncode}:\n{log.read_text()}")
            if ready.exists():
                info = json.loads(ready.read_text())
                ready.unlink()
                return CcemuServer(
                    proc, info, data_dir, log, region, account, time.monotonic() - started
                )
            time.sleep(0.005)
        raise RuntimeError(f"ccemu did not become ready in {timeout} s:\n{log.read_text()}")
    except BaseException:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise


class Ccemu:
    """What a test uses: clients, repositories, git URLs and environment for one ccemu."""

    def __init__(self, server: CcemuServer) -> None:
        self.server = server
        self._git_credential: tuple[str, str] | None = None

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def https_url(self) -> str | None:
        return self.server.https_url

    @property
    def region(self) -> str:
        return self.server.region

    @property
    def account(self) -> str:
        return self.server.account

    @property
    def ca_path(self) -> Path:
        return self.server.ca_path

    def client(self, service: str = "codecommit", **kw: Any) -> Any:
        """A boto3 client for `service`, signed as the default account's root unless
        `aws_access_key_id`/`aws_secret_access_key` are given."""
        import boto3

        kw.setdefault("endpoint_url", self.endpoint_url)
        kw.setdefault("region_name", self.region)
        kw.setdefault("aws_access_key_id", self.server.access_key)
        kw.setdefault("aws_secret_access_key", self.server.secret_key)
        return boto3.client(service, **kw)

    def create_repository(self, name: str, **kw: Any) -> dict[str, Any]:
        """CreateRepository; returns its `repositoryMetadata`."""
        meta: dict[str, Any] = self.client("codecommit").create_repository(
            repositoryName=name, **kw
        )["repositoryMetadata"]
        return meta

    def git_credentials(self) -> tuple[str, str]:
        """Long-lived git credentials (user name, password), as IAM's
        CreateServiceSpecificCredential gives them, of a user allowed all of CodeCommit."""
        if self._git_credential is None:
            iam = self.client("iam")
            try:
                iam.create_user(UserName=_GIT_USER)
                iam.put_user_policy(
                    UserName=_GIT_USER, PolicyName="codecommit", PolicyDocument=_GIT_POLICY
                )
            except iam.exceptions.EntityAlreadyExistsException:
                pass
            cred = iam.create_service_specific_credential(
                UserName=_GIT_USER, ServiceName="codecommit.amazonaws.com"
            )["ServiceSpecificCredential"]
            self._git_credential = (cred["ServiceUserName"], cred["ServicePassword"])
        return self._git_credential

    def git_url(self, name: str) -> str:
        """An http URL with git credentials in it: plain git clones and pushes with it, with no
        helper and no expiry (until the next reset)."""
        user, password = self.git_credentials()
        parts = urlsplit(self.endpoint_url)
        return (
            f"{parts.scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{parts.netloc}"
            f"/v1/repos/{name}"
        )

    def clone_url_http(self, name: str) -> str:
        """The repository's URL without credentials (for a credential helper)."""
        return f"{self.endpoint_url}/v1/repos/{name}"

    def ssh_url(self, name: str, ssh_key_id: str) -> str:
        """The repository's SSH URL for a user's SSH key id (see `ssh_identity`)."""
        if self.server.ssh_endpoint is None:
            raise RuntimeError("this ccemu serves no SSH")
        netloc = urlsplit(self.server.ssh_endpoint).netloc
        return f"ssh://{ssh_key_id}@{netloc}/v1/repos/{name}"

    def ssh_identity(self, user_name: str, directory: Path) -> tuple[str, Path]:
        """A new Ed25519 key made with ssh-keygen in `directory`, uploaded for IAM user
        `user_name` (who must exist); returns (SSH key id, private key path)."""
        directory.mkdir(parents=True, exist_ok=True)
        key = directory / f"ccemu_{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", user_name, "-f", str(key)],
            check=True,
            capture_output=True,
        )
        body = key.with_name(key.name + ".pub").read_text()
        key_id: str = self.client("iam").upload_ssh_public_key(
            UserName=user_name, SSHPublicKeyBody=body
        )["SSHPublicKey"]["SSHPublicKeyId"]
        return key_id, key

    def ssh_command(self, identity: Path, known_hosts: Path) -> str:
        """A GIT_SSH_COMMAND that uses only `identity` and trusts ccemu's host keys, which are
        written to `known_hosts`."""
        if self.server.ssh_endpoint is None:
            raise RuntimeError("this ccemu serves no SSH")
        from emulator.server import ssh_host_key_lines

        host_port = urlsplit(self.server.ssh_endpoint)
        lines = ssh_host_key_lines(
            self.server.data_dir, host_port.hostname or "127.0.0.1", host_port.port or 22
        )
        known_hosts.write_text("\n".join(lines) + "\n")
        return (
            f"ssh -i {identity} -o IdentitiesOnly=yes -o UserKnownHostsFile={known_hosts}"
            " -o StrictHostKeyChecking=yes -o BatchMode=yes -F /dev/null"
        )

    def environ(self) -> dict[str, str]:
        """Variables that point boto3, the aws CLI, git and git-remote-codecommit at ccemu, with
        the root's credentials: merge them into a copy of `os.environ` for a subprocess, or set
        them with `monkeypatch.setenv`. A stale AWS_PROFILE or AWS_SESSION_TOKEN in the
        environment would still win over them; remove those."""
        env = {
            "AWS_ACCESS_KEY_ID": self.server.access_key,
            "AWS_SECRET_ACCESS_KEY": self.server.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }
        for service in SERVICES:
            env[f"AWS_ENDPOINT_URL_{service.upper()}"] = self.endpoint_url
        if self.https_url is not None:
            env["CODE_COMMIT_ENDPOINT"] = urlsplit(self.https_url).netloc
            env["GIT_SSL_CAINFO"] = str(self.ca_path)
        return env

    def events(self, repository: str | None = None) -> Any:
        """Events and their deliveries (`GET /_ccemu/events`)."""
        path = "/_ccemu/events" + (f"?repository={quote(repository)}" if repository else "")
        return self.server.request("GET", path, sign=False)

    def reset(self) -> None:
        """Forget every repository, user, key and event; the fixture does this before a test."""
        self.server.reset()
        self._git_credential = None


@pytest.fixture(scope="session")
def ccemu_server(request: pytest.FixtureRequest) -> Iterator[CcemuServer]:
    """One ccemu per session (per xdist worker), on free ports unless configured."""
    config = request.config
    configured = _option(config, "data_dir", "")
    keep = config.getoption("ccemu_keep_data") or config.getini("ccemu_keep_data")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if configured:
        data_dir = Path(configured) / worker if worker else Path(configured)
        scratch = None
    else:
        scratch = Path(tempfile.mkdtemp(prefix="ccemu-"))
        data_dir = scratch / "data"
    server = start_server(
        data_dir,
        port=int(_option(config, "port", "0")),
        https_port=int(_option(config, "https_port", "0")),
        ssh_port=int(_option(config, "ssh_port", "0")),
        region=_option(config, "region", DEFAULT_REGION),
        account=_option(config, "account", DEFAULT_ACCOUNT),
        extra_args=_switches(config),
    )
    try:
        yield server
    finally:
        server.stop()
        if scratch is not None and not keep:
            shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def ccemu(ccemu_server: CcemuServer) -> Ccemu:
    """A handle on the session's ccemu, reset to an empty state for this test."""
    if not ccemu_server.alive():
        raise RuntimeError(f"the ccemu server has exited:\n{ccemu_server.log.read_text()}")
    handle = Ccemu(ccemu_server)
    try:
        handle.reset()
    except urllib.error.URLError as exc:
        raise RuntimeError(f"cannot reset ccemu at {ccemu_server.endpoint_url}: {exc}") from exc
    return handle
