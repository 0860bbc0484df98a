"""`ccemu serve --accept-any-credentials`, for suites written for moto: any access key id that IAM
or STS did not issue signs as a root user (of the default account, or of the account a 12-digit
key names) whatever the secret, session token or time, through the API and git's SigV4
passwords; keys ccemu issued are still verified; and only on a loopback address."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from emulator.config import Config
from tests.conftest import ACCOUNT, Server, git, make_commits, start_server

OTHER = "111122223333"


def _random_key(prefix: str = "AKIA") -> tuple[str, str]:
    return prefix + uuid.uuid4().hex[:16].upper(), uuid.uuid4().hex


@pytest.fixture(scope="module")
def anykey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("ccemu-any") / "data", "--accept-any-credentials")
    yield srv
    srv.stop()


def test_random_keys_sign_as_the_default_accounts_root(anykey: Server) -> None:
    key, secret = _random_key()
    cc = anykey.client("codecommit", key=key, secret=secret)
    name = f"r-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=name)
    # Another random key, now with a session token as moto's documentation exports: same root.
    other, other_secret = _random_key("ASIA")
    sts = anykey.client("sts", key=other, secret=other_secret, aws_session_token="testing")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    names = [
        r["repositoryName"]
        for r in anykey.client("codecommit", key=other, secret=other_secret).list_repositories()[
            "repositories"
        ]
    ]
    assert name in names
    # The root's own key with a wrong secret is accepted too.
    assert (
        anykey.client("codecommit", key="test", secret="wrong")
        .get_repository(repositoryName=name)["repositoryMetadata"]["Arn"]
        .endswith(f":{ACCOUNT}:{name}")
    )


def test_a_twelve_digit_key_is_the_root_of_that_account_with_any_secret(anykey: Server) -> None:
    sts = anykey.client("sts", key=OTHER, secret=uuid.uuid4().hex)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{OTHER}:root"
    theirs = anykey.client("codecommit", key=OTHER, secret="anything")
    name = f"r-{uuid.uuid4().hex[:8]}"
    theirs.create_repository(repositoryName=name)
    mine = anykey.client("codecommit", key=_random_key()[0], secret="x")
    with pytest.raises(ClientError) as err:
        mine.get_repository(repositoryName=name)
    assert err.value.response["Error"]["Code"] == "RepositoryDoesNotExistException"


def test_a_signature_hours_old_is_accepted(anykey: Server) -> None:
    # moto checks no time: suites that freeze the clock still sign with the frozen one.
    body = b"{}"
    req = AWSRequest(
        method="POST",
        url=anykey.url + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "CodeCommit_20150413.ListRepositories",
        },
    )
    SigV4Auth(Credentials(*_random_key()), "codecommit", "us-east-1").add_auth(req)
    old = datetime.now(UTC) - timedelta(hours=5)
    req.headers.replace_header("X-Amz-Date", old.strftime("%Y%m%dT%H%M%SZ"))
    http = urllib.request.Request(
        anykey.url + "/", data=body, headers=dict(req.headers.items()), method="POST"
    )
    with urllib.request.urlopen(http, timeout=30) as resp:
        assert resp.status == 200
        assert "repositories" in json.loads(resp.read())


def test_keys_iam_issued_are_still_verified_and_their_policies_apply(anykey: Server) -> None:
    iam = anykey.client("iam", key=_random_key()[0], secret="x")
    user = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = anykey.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert as_user.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{user}"
    # No policy: the user is denied, not promoted to root.
    cc = anykey.client("codecommit", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with pytest.raises(ClientError) as err:
        cc.list_repositories()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    wrong = anykey.client("codecommit", key=key["AccessKeyId"], secret="not-its-secret")
    with pytest.raises(ClientError) as err:
        wrong.list_repositories()
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    # The server still serves the next request.
    assert anykey.client("codecommit").list_repositories() is not None


def test_git_sigv4_passwords_of_any_key_are_the_root(
    anykey: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"r-{uuid.uuid4().hex[:8]}"
    anykey.client("codecommit").create_repository(repositoryName=name)
    key, secret = _random_key()
    work = tmp_path / "work"
    [sha] = make_commits(git_env, work)
    git(git_env, "push", "-q", anykey.git_url(name, key=key, secret=secret), "main", cwd=work)
    branch = anykey.client("codecommit").get_branch(repositoryName=name, branchName="main")
    assert branch["branch"]["commitId"] == sha
    # A password that is not of the SigV4 form is still refused.
    bad = f"http://{key}:not-a-signature@{anykey.host_port}/v1/repos/{name}"
    refused = git(git_env, "ls-remote", bad, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr


def test_the_banner_announces_it(anykey: Server) -> None:
    assert "WARNING: --accept-any-credentials" in anykey.log.read_text()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com"])  # noqa: S104
def test_accepting_any_credentials_off_loopback_is_refused_at_start(
    tmp_path: Path, host: str
) -> None:
    for args, env in (
        (["--accept-any-credentials"], {}),
        ([], {"CCEMU_ACCEPT_ANY_CREDENTIALS": "1"}),
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "emulator",
                "serve",
                "--host",
                host,
                "--port",
                "0",
                "--ssh-port",
                "0",
                "--data-dir",
                str(tmp_path / "data"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env={**_base_env(), **env},
        )
        assert proc.returncode != 0
        assert "--accept-any-credentials is refused when listening on" in proc.stderr
        assert not (tmp_path / "data").exists()  # refused before anything was made
    with pytest.raises(ValueError, match="refused"):
        Config(host=host, accept_any_credentials=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_may_accept_any_credentials(host: str) -> None:
    assert Config(host=host, accept_any_credentials=True).accept_any_credentials


def test_random_keys_are_refused_without_the_option(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data")
    try:
        with pytest.raises(ClientError) as err:
            srv.client("codecommit", key=_random_key()[0], secret="x").list_repositories()
        assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        srv.stop()


def test_the_fixture_option_accepts_any_credentials(tmp_path: Path) -> None:
    (tmp_path / "test_any.py").write_text(
        "def test_any(ccemu):\n"
        "    cc = ccemu.client(aws_access_key_id='AKIAFAKEFAKEFAKE',"
        " aws_secret_access_key='fake')\n"
        "    cc.create_repository(repositoryName='demo')\n"
        "    names = [r['repositoryName'] for r in ccemu.client().list_repositories()"
        "['repositories']]\n"
        "    assert names == ['demo']\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ccemu-accept-any-credentials",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CCEMU_")}
