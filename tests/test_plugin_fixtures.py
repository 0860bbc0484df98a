"""The pytest plugin, used as users use it: the `ccemu` fixture comes from the installed
package's `pytest11` entry point, not from our conftest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.pytest_plugin import Ccemu, CcemuServer
from tests.conftest import git, make_commits


def test_the_plugin_is_registered_through_its_entry_point(
    pytestconfig: pytest.Config,
) -> None:
    [ep] = [ep for ep in entry_points(group="pytest11") if ep.name == "ccemu"]
    assert ep.value == "emulator.pytest_plugin"
    plugin = pytestconfig.pluginmanager.get_plugin("ccemu")
    assert plugin is not None and plugin.__name__ == "emulator.pytest_plugin"


def test_create_push_and_read_the_branch(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    meta = ccemu.create_repository("demo")
    assert meta["cloneUrlHttp"] == f"{ccemu.endpoint_url}/v1/repos/demo"
    work = tmp_path / "work"
    [sha] = make_commits(git_env, work)
    git(git_env, "push", ccemu.git_url("demo"), "main", cwd=work)
    branch = ccemu.client("codecommit").get_branch(repositoryName="demo", branchName="main")
    assert branch["branch"]["commitId"] == sha
    clone = tmp_path / "clone"
    git(git_env, "clone", ccemu.git_url("demo"), str(clone))
    assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha


def test_each_test_starts_empty_first(ccemu: Ccemu) -> None:
    # Runs in either order with the next test: each sees only what it made.
    assert ccemu.client("codecommit").list_repositories()["repositories"] == []
    ccemu.create_repository("left-behind")
    ccemu.client("iam").create_user(UserName="left-behind")


def test_each_test_starts_empty_second(ccemu: Ccemu) -> None:
    assert ccemu.client("codecommit").list_repositories()["repositories"] == []
    assert ccemu.client("iam").list_users()["Users"] == []
    ccemu.create_repository("left-behind")


def test_reset_forgets_everything_and_the_same_names_work_again(
    ccemu: Ccemu, git_env: dict[str, str], tmp_path: Path
) -> None:
    cc, iam, kms = ccemu.client("codecommit"), ccemu.client("iam"), ccemu.client("kms")
    work = tmp_path / "work"
    make_commits(git_env, work, 2)
    ccemu.create_repository("again")
    git(git_env, "push", ccemu.git_url("again"), "main", cwd=work)
    iam.create_user(UserName="alice")
    iam.create_access_key(UserName="alice")
    kms.create_key(Description="mine")
    ccemu.client("sns").create_topic(Name="pushes")
    other = ccemu.client("codecommit", aws_access_key_id="111122223333")
    other.create_repository(repositoryName="theirs")

    ccemu.reset()

    assert cc.list_repositories()["repositories"] == []
    assert other.list_repositories()["repositories"] == []
    assert iam.list_users()["Users"] == []
    assert kms.list_keys()["Keys"] == []
    assert ccemu.client("sns").list_topics()["Topics"] == []
    assert list((ccemu.server.data_dir / "repos").iterdir()) == []
    # A new repository of the same name holds only what is pushed to it now.
    ccemu.create_repository("again")
    fresh = tmp_path / "fresh"
    [sha] = make_commits(git_env, fresh)
    git(git_env, "push", ccemu.git_url("again"), "main", cwd=fresh)
    clone = tmp_path / "clone"
    git(git_env, "clone", ccemu.git_url("again"), str(clone))
    assert git(git_env, "rev-list", "--count", "HEAD", cwd=clone).stdout.strip() == "1"
    assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == sha


def _post(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=b"", headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _signed(url: str, key: str, secret: str) -> dict[str, str]:
    req = AWSRequest(method="POST", url=url, data=b"")
    SigV4Auth(Credentials(key, secret), "ccemu", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def test_moto_style_reset_unsigned_from_loopback(ccemu: Ccemu) -> None:
    ccemu.create_repository("before")
    status, body = _post(f"{ccemu.endpoint_url}/moto-api/reset", {"X-Ccemu-Reset": "1"})
    assert (status, body) == (200, {"status": "ok"})
    assert ccemu.client("codecommit").list_repositories()["repositories"] == []


def test_reset_refused_to_other_principals_and_bad_signatures(ccemu: Ccemu) -> None:
    ccemu.create_repository("kept")
    iam = ccemu.client("iam")
    iam.create_user(UserName="bob")
    iam.put_user_policy(
        UserName="bob",
        PolicyName="all",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
        ' "Action": "*", "Resource": "*"}]}',
    )
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    url = f"{ccemu.endpoint_url}/_ccemu/reset"
    for who, secret in [
        (key["AccessKeyId"], key["SecretAccessKey"]),  # an IAM user of the default account
        ("111122223333", "test"),  # the root of another account
        ("test", "wrong"),  # a bad signature
    ]:
        status, body = _post(url, _signed(url, who, secret))
        assert status == 403, (who, body)
    status, _ = _post(url, _signed(url, "test", "test"))
    assert status == 200
    assert ccemu.client("codecommit").list_repositories()["repositories"] == []


@pytest.mark.parametrize(
    ("key", "secret", "token"),
    [
        ("testing", "testing", "testing"),
        ("testing", "testing", None),
        ("FOOBARKEY", "FOOBARSECRET", None),
    ],
)
def test_motos_test_keys_are_the_default_accounts_root(
    ccemu: Ccemu, key: str, secret: str, token: str | None
) -> None:
    ccemu.create_repository("shared")
    cc = ccemu.client(
        "codecommit", aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token
    )
    assert [r["repositoryName"] for r in cc.list_repositories()["repositories"]] == ["shared"]
    sts = ccemu.client(
        "sts", aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token
    )
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ccemu.account}:root"


def test_motos_keys_with_another_session_token_are_refused(ccemu: Ccemu) -> None:
    cc = ccemu.client(
        "codecommit",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="not-testing",
    )
    with pytest.raises(cc.exceptions.ClientError) as err:
        cc.list_repositories()
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_aws_endpoint_url_variables_for_boto3_and_the_aws_cli(
    ccemu: Ccemu, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import boto3

    ccemu.create_repository("by-env")
    env = ccemu.environ()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # No endpoint_url, region or keys in code: all from the environment.
    names = [
        r["repositoryName"] for r in boto3.client("codecommit").list_repositories()["repositories"]
    ]
    assert names == ["by-env"]
    assert boto3.client("iam").list_users()["Users"] == []

    # Only the service-specific variable: it wins over the general one.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    out = subprocess.run(
        [sys.executable, "-m", "awscli", "codecommit", "list-repositories"],
        env={**os.environ, "AWS_CONFIG_FILE": os.devnull},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert [r["repositoryName"] for r in json.loads(out)["repositories"]] == ["by-env"]


def test_server_facts(ccemu_server: CcemuServer) -> None:
    assert ccemu_server.endpoint_url.startswith("http://127.0.0.1:")
    assert ccemu_server.https_url is not None and ccemu_server.https_url.startswith("https://")
    assert ccemu_server.ca_path.is_file()
    assert ccemu_server.startup_seconds > 0
