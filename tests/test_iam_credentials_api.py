"""IAM credential operations with boto3 against a real server: access keys (and signing with
them), SSH public keys in every encoding `ssh-keygen` writes, service-specific credentials."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Server

ACCOUNT = "123456789012"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def iam(server: Server) -> Any:
    return server.client("iam")


@pytest.fixture
def user(iam: Any) -> str:
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name, Path="/eng/")
    return name


def test_access_keys_sign_requests_until_deactivated_or_deleted(
    server: Server, iam: Any, user: str
) -> None:
    made = iam.create_access_key(UserName=user)["AccessKey"]
    key, secret = made["AccessKeyId"], made["SecretAccessKey"]
    assert key.startswith("AKIA") and len(key) == 20 and len(secret) == 40
    assert made["Status"] == "Active" and made["UserName"] == user

    sts = server.client("sts", key=key, secret=secret)
    who = sts.get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/{user}"
    assert who["UserId"].startswith("AIDA") and who["Account"] == ACCOUNT

    # The key is recognised at the CodeCommit door too; what it may do there is up to policy.
    cc = server.client("codecommit", key=key, secret=secret)
    with pytest.raises(ClientError) as exc:
        cc.list_repositories()
    assert _code(exc) == "AccessDeniedException"
    assert f"user/eng/{user}" in exc.value.response["Error"]["Message"]

    used = iam.get_access_key_last_used(AccessKeyId=key)
    assert used["UserName"] == user
    assert used["AccessKeyLastUsed"]["ServiceName"] in ("sts", "codecommit")
    assert used["AccessKeyLastUsed"]["Region"] == "us-east-1"
    assert "LastUsedDate" in used["AccessKeyLastUsed"]

    second = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName=user)
    assert _code(exc) == "LimitExceeded"
    listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([key, second["AccessKeyId"]])
    assert all("SecretAccessKey" not in k for k in listed)

    iam.update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert _code(exc) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        cc.list_repositories()
    assert _code(exc) == "UnrecognizedClientException"
    iam.update_access_key(UserName=user, AccessKeyId=key, Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(f"/{user}")

    iam.delete_access_key(UserName=user, AccessKeyId=key)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert _code(exc) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as exc:
        iam.delete_access_key(UserName=user, AccessKeyId=key)
    assert _code(exc) == "NoSuchEntity"

    # DeleteUser is refused while the user still has a key.
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert _code(exc) == "DeleteConflict"
    iam.delete_access_key(UserName=user, AccessKeyId=second["AccessKeyId"])
    iam.delete_user(UserName=user)


def test_access_keys_errors_and_root_keys(iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName="no-such-user")
    assert _code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.update_access_key(AccessKeyId="AKIAAAAAAAAAAAAAAAAA", Status="Inactive")
    assert _code(exc) == "NoSuchEntity"
    # Without UserName the root user acts on its own keys.
    made = iam.create_access_key()["AccessKey"]
    try:
        listed = [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]]
        assert made["AccessKeyId"] in listed
    finally:
        iam.delete_access_key(AccessKeyId=made["AccessKeyId"])


def test_never_used_key_reads_n_a(iam: Any, user: str) -> None:
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    last = iam.get_access_key_last_used(AccessKeyId=key)["AccessKeyLastUsed"]
    assert last == {"ServiceName": "N/A", "Region": "N/A"}


def test_user_acts_on_itself_without_user_name(server: Server, iam: Any, user: str) -> None:
    made = iam.create_access_key(UserName=user)["AccessKey"]
    own = server.client("iam", key=made["AccessKeyId"], secret=made["SecretAccessKey"])
    # The gate decides whether a user may manage its own keys; until a policy allows it, the
    # answer names the user's own ARN as the resource.
    with pytest.raises(ClientError) as exc:
        own.list_access_keys()
    assert f"user/eng/{user}" in exc.value.response["Error"]["Message"]


# -- SSH public keys ------------------------------------------------------------------------


def _keygen(tmp_path: Path, kind: str, *extra: str) -> Path:
    path = tmp_path / f"id_{kind}_{uuid.uuid4().hex[:6]}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *extra, "-N", "", "-C", "me@host", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub")


def _export(pub: Path, fmt: str) -> str:
    return subprocess.run(
        ["ssh-keygen", "-e", "-m", fmt, "-f", str(pub)], check=True, capture_output=True, text=True
    ).stdout


def _md5(pub: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(pub)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()[1].removeprefix("MD5:")


@pytest.mark.parametrize(
    ("kind", "encodings"),
    [
        ("ed25519", ["openssh", "RFC4716"]),
        ("rsa", ["openssh", "RFC4716", "PEM", "PKCS8"]),
        ("ecdsa", ["openssh", "RFC4716", "PKCS8"]),
    ],
)
def test_ssh_keys_in_every_encoding(
    tmp_path: Path, iam: Any, user: str, kind: str, encodings: list[str]
) -> None:
    pub = _keygen(tmp_path, kind)
    fingerprint = _md5(pub)
    openssh = " ".join(pub.read_text().split()[:2])
    for encoding in encodings:
        body = pub.read_text() if encoding == "openssh" else _export(pub, encoding)
        key = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)["SSHPublicKey"]
        key_id = key["SSHPublicKeyId"]
        assert key_id.startswith("APKA") and len(key_id) == 20
        assert key["Fingerprint"] == fingerprint, encoding
        assert key["Status"] == "Active"
        got = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="SSH")
        assert got["SSHPublicKey"]["SSHPublicKeyBody"] == openssh
        pem = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key_id, Encoding="PEM")
        assert pem["SSHPublicKey"]["SSHPublicKeyBody"].startswith("-----BEGIN PUBLIC KEY-----")
        # The same key again, in whatever encoding, is a duplicate.
        with pytest.raises(ClientError) as exc:
            iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh)
        assert _code(exc) == "DuplicateSSHPublicKey"
        iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key_id)


def test_ssh_key_management(tmp_path: Path, iam: Any, user: str) -> None:
    ids = []
    for _ in range(5):
        body = _keygen(tmp_path, "ed25519").read_text()
        key = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)["SSHPublicKey"]
        ids.append(key["SSHPublicKeyId"])
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(
            UserName=user, SSHPublicKeyBody=_keygen(tmp_path, "ed25519").read_text()
        )
    assert _code(exc) == "LimitExceeded"
    listed = iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]
    assert [k["SSHPublicKeyId"] for k in listed] == ids
    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=ids[0], Status="Inactive")
    got = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=ids[0], Encoding="SSH")
    assert got["SSHPublicKey"]["Status"] == "Inactive"
    iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=ids[0])
    with pytest.raises(ClientError) as exc:
        iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=ids[0], Encoding="SSH")
    assert _code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert _code(exc) == "DeleteConflict"


def test_invalid_ssh_keys(tmp_path: Path, iam: Any, user: str) -> None:
    good = _keygen(tmp_path, "ed25519").read_text().split()
    short_rsa = _keygen(tmp_path, "rsa", "-b", "1024").read_text()
    bad_bodies = [
        "not a key",
        f"{good[0]} {good[1][:-8]}",  # truncated blob
        f"ssh-rsa {good[1]}",  # the blob says ed25519
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "---- BEGIN SSH2 PUBLIC KEY ----\n!!!!\n---- END SSH2 PUBLIC KEY ----\n",
        short_rsa,  # IAM wants at least 2048 bits
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        "---- BEGIN SSH2 PUBLIC KEY ----\n",
    ]
    for body in bad_bodies:
        with pytest.raises(ClientError) as exc:
            iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=body)
        assert _code(exc) == "InvalidPublicKey", body
    assert iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"] == []


# -- service-specific credentials -----------------------------------------------------------


def test_service_specific_credentials(server: Server, iam: Any, user: str) -> None:
    made = iam.create_service_specific_credential(
        UserName=user, ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    assert made["ServiceUserName"] == f"{user}-at-{ACCOUNT}"
    assert made["ServiceSpecificCredentialId"].startswith("ACCA")
    assert len(made["ServicePassword"]) == 44 and made["Status"] == "Active"
    cred_id = made["ServiceSpecificCredentialId"]

    iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(
            UserName=user, ServiceName="codecommit.amazonaws.com"
        )
    assert _code(exc) == "LimitExceeded"
    with pytest.raises(ClientError) as exc:
        iam.create_service_specific_credential(UserName=user, ServiceName="s3.amazonaws.com")
    assert _code(exc) == "NotSupportedService"

    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert len(listed) == 2 and all("ServicePassword" not in c for c in listed)

    reset = iam.reset_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=cred_id
    )["ServiceSpecificCredential"]
    assert reset["ServicePassword"] != made["ServicePassword"]
    iam.update_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=cred_id, Status="Inactive"
    )
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert {c["ServiceSpecificCredentialId"]: c["Status"] for c in listed}[cred_id] == "Inactive"
    iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)
    with pytest.raises(ClientError) as exc:
        iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)
    assert _code(exc) == "NoSuchEntity"
    # No password appears anywhere in the data dir.
    for path in server.data_dir.rglob("state.db*"):
        data = path.read_bytes()
        assert made["ServicePassword"].encode() not in data
        assert reset["ServicePassword"].encode() not in data
