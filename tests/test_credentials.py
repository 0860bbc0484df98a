"""Root credentials: configurable by flag or environment, and 12-digit access key ids as
the root user of other accounts."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server


def _error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_root_credentials_from_environment_and_flag(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "data",
        "--root-access-key",
        "AKIAROOTEXAMPLE",
        env={"CCEMU_ROOT_SECRET_KEY": "s3cret-from-env"},
    )
    try:
        good = srv.client(key="AKIAROOTEXAMPLE", secret="s3cret-from-env")
        made = good.create_repository(repositoryName="envcreds")["repositoryMetadata"]
        assert made["accountId"] == "123456789012"

        with pytest.raises(ClientError) as exc:
            srv.client(key="test", secret="test").list_repositories()
        assert _error_code(exc) == "UnrecognizedClientException"
        with pytest.raises(ClientError) as exc:
            srv.client(key="AKIAROOTEXAMPLE", secret="test").list_repositories()
        assert _error_code(exc) == "InvalidSignatureException"

        # A 12-digit key id signs with the configured root secret, not the default one.
        other = srv.client(key="210987654321", secret="s3cret-from-env")
        assert other.list_repositories()["repositories"] == []
        with pytest.raises(ClientError) as exc:
            srv.client(key="210987654321", secret="test").list_repositories()
        assert _error_code(exc) == "InvalidSignatureException"
        assert [r["repositoryName"] for r in good.list_repositories()["repositories"]] == [
            "envcreds"
        ]
    finally:
        srv.stop()


def test_flag_secret_wins_over_environment(tmp_path: Path) -> None:
    srv = start_server(
        tmp_path / "data",
        "--root-secret-key",
        "from-flag",
        env={"CCEMU_ROOT_SECRET_KEY": "from-env"},
    )
    try:
        assert srv.client(secret="from-flag").list_repositories()["repositories"] == []
        with pytest.raises(ClientError):
            srv.client(secret="from-env").list_repositories()
    finally:
        srv.stop()


def test_second_account_is_its_own_world(server: Server) -> None:
    a = server.client()
    b = server.client(key="111122223333", secret="test")
    name = "shared-name-across-accounts"
    made_a = a.create_repository(repositoryName=name)["repositoryMetadata"]
    made_b = b.create_repository(repositoryName=name)["repositoryMetadata"]
    assert made_a["accountId"] == "123456789012"
    assert made_b["accountId"] == "111122223333"
    assert made_b["Arn"] == f"arn:aws:codecommit:us-east-1:111122223333:{name}"
    assert made_a["repositoryId"] != made_b["repositoryId"]
    b.delete_repository(repositoryName=name)
    assert (
        a.get_repository(repositoryName=name)["repositoryMetadata"]["repositoryId"]
        == (made_a["repositoryId"])
    )
    a.delete_repository(repositoryName=name)
