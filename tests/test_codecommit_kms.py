"""CodeCommit repositories encrypted with the local KMS, through boto3 and the git CLI: the
aws/codecommit key, customer managed keys in every form CreateRepository accepts, a disabled
or deleted key stopping every API call and git command until it is usable again, and re-keying
without touching a pack."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, Server, git, make_commits


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def kms(server: Server) -> Any:
    return server.client("kms")


def new_key(kms: Any) -> dict[str, Any]:
    meta: dict[str, Any] = kms.create_key(Description="repository key")["KeyMetadata"]
    return meta


def pack_stats(server: Server, repo_id: str) -> dict[str, tuple[int, int]]:
    root = server.data_dir / "repos" / repo_id
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and "incoming" not in path.parts:
            st = path.stat()
            found[str(path.relative_to(root))] = (st.st_ino, st.st_mtime_ns)
    return found


def test_first_repository_creates_aws_codecommit_key(tmp_path: Path) -> None:
    from conftest import start_server

    srv = start_server(tmp_path / "data")
    try:
        kms = srv.client("kms")
        assert kms.list_aliases()["Aliases"] == []
        meta = srv.client().create_repository(repositoryName="first")["repositoryMetadata"]
        aliases = {a["AliasName"]: a for a in kms.list_aliases()["Aliases"]}
        key_id = aliases["alias/aws/codecommit"]["TargetKeyId"]
        key = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert key["KeyManager"] == "AWS"
        assert meta["kmsKeyId"] == key["Arn"]
        # The same key for the next repository of the account and region...
        second = srv.client().create_repository(repositoryName="second")["repositoryMetadata"]
        assert second["kmsKeyId"] == key["Arn"]
        # ...and another one in another region.
        west = srv.client(region="eu-west-1")
        third = west.create_repository(repositoryName="third")["repositoryMetadata"]
        assert third["kmsKeyId"].startswith(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/")
        assert len(kms.list_keys()["Keys"]) == 1
    finally:
        srv.stop()


@pytest.mark.parametrize("form", ["id", "arn", "alias", "alias-arn"])
def test_create_repository_with_each_key_form(
    server: Server, cc: Any, kms: Any, repo_name: str, form: str
) -> None:
    key = new_key(kms)
    alias = f"alias/repo-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    ref = {
        "id": key["KeyId"],
        "arn": key["Arn"],
        "alias": alias,
        "alias-arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}",
    }[form]
    meta = cc.create_repository(repositoryName=repo_name, kmsKeyId=ref)["repositoryMetadata"]
    assert meta["kmsKeyId"] == key["Arn"]
    assert (
        cc.get_repository(repositoryName=repo_name)["repositoryMetadata"]["kmsKeyId"]
        == (key["Arn"])
    )
    batch = cc.batch_get_repositories(repositoryNames=[repo_name])["repositories"]
    assert [r["kmsKeyId"] for r in batch] == [key["Arn"]]


def test_create_repository_with_unusable_keys(cc: Any, kms: Any, repo_name: str) -> None:
    disabled = new_key(kms)
    kms.disable_key(KeyId=disabled["KeyId"])
    pending = new_key(kms)
    kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=7)
    cases = {
        "not-a-key": "EncryptionKeyInvalidIdException",
        f"arn:aws:s3:::{uuid.uuid4()}": "EncryptionKeyInvalidIdException",
        str(uuid.uuid4()): "EncryptionKeyNotFoundException",
        "alias/no-such-alias": "EncryptionKeyNotFoundException",
        disabled["Arn"]: "EncryptionKeyDisabledException",
        pending["KeyId"]: "EncryptionKeyUnavailableException",
    }
    for ref, code in cases.items():
        with pytest.raises(ClientError) as exc:
            cc.create_repository(repositoryName=repo_name, kmsKeyId=ref)
        assert error_code(exc) == code, ref
    # Nothing was created by the refused calls.
    with pytest.raises(ClientError) as exc:
        cc.get_repository(repositoryName=repo_name)
    assert error_code(exc) == "RepositoryDoesNotExistException"


def push_some(server: Server, git_env: dict[str, str], tmp_path: Path, name: str) -> Path:
    work = tmp_path / f"work-{name}"
    make_commits(git_env, work, 2)
    git(git_env, "push", "-q", server.git_url(name), "main", cwd=work)
    return work


def test_disabled_key_stops_api_and_git_until_enabled(
    server: Server, cc: Any, kms: Any, repo_name: str, git_env: dict[str, str], tmp_path: Path
) -> None:
    key = new_key(kms)
    cc.create_repository(repositoryName=repo_name, kmsKeyId=key["KeyId"])
    work = push_some(server, git_env, tmp_path, repo_name)
    head = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    arn = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{repo_name}"

    kms.disable_key(KeyId=key["KeyId"])
    calls: dict[str, Callable[[], object]] = {
        "GetRepository": lambda: cc.get_repository(repositoryName=repo_name),
        "ListBranches": lambda: cc.list_branches(repositoryName=repo_name),
        "GetBranch": lambda: cc.get_branch(repositoryName=repo_name, branchName="main"),
        "CreateBranch": lambda: cc.create_branch(
            repositoryName=repo_name, branchName="new", commitId=head
        ),
        "UpdateRepositoryDescription": lambda: cc.update_repository_description(
            repositoryName=repo_name, repositoryDescription="changed"
        ),
        "ListTagsForResource": lambda: cc.list_tags_for_resource(resourceArn=arn),
    }
    for op, call in calls.items():
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "EncryptionKeyDisabledException", op
    batch = cc.batch_get_repositories(repositoryNames=[repo_name])
    assert batch["repositories"] == []
    assert [e["errorCode"] for e in batch["errors"]] == ["EncryptionKeyDisabledException"]

    url = server.git_url(repo_name)
    for args in (("ls-remote", url), ("clone", "-q", url, str(tmp_path / "clone-denied"))):
        proc = git(git_env, *args, check=False)
        assert proc.returncode != 0
        assert "EncryptionKeyDisabledException" in proc.stderr, proc.stderr
    make_commits(git_env, work, 1)
    proc = git(git_env, "push", "-q", url, "main", cwd=work, check=False)
    assert proc.returncode != 0 and "EncryptionKeyDisabledException" in proc.stderr

    # Nothing changed while the key was disabled.
    kms.enable_key(KeyId=key["KeyId"])
    meta = cc.get_repository(repositoryName=repo_name)["repositoryMetadata"]
    assert meta.get("repositoryDescription") is None
    assert cc.list_branches(repositoryName=repo_name)["branches"] == ["main"]
    assert git(git_env, "ls-remote", url).stdout.split()[0] == head
    git(git_env, "push", "-q", url, "main", cwd=work)
    clone = tmp_path / "clone-ok"
    git(git_env, "clone", "-q", url, str(clone))
    assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == (
        git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    )


def test_key_pending_deletion_makes_repository_unavailable(
    server: Server, cc: Any, kms: Any, repo_name: str, git_env: dict[str, str], tmp_path: Path
) -> None:
    key = new_key(kms)
    cc.create_repository(repositoryName=repo_name, kmsKeyId=key["Arn"])
    push_some(server, git_env, tmp_path, repo_name)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as exc:
        cc.get_repository(repositoryName=repo_name)
    assert error_code(exc) == "EncryptionKeyUnavailableException"
    proc = git(git_env, "ls-remote", server.git_url(repo_name), check=False)
    assert proc.returncode != 0 and "EncryptionKeyUnavailableException" in proc.stderr
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        cc.get_repository(repositoryName=repo_name)
    assert error_code(exc) == "EncryptionKeyDisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert (
        cc.get_repository(repositoryName=repo_name)["repositoryMetadata"]["kmsKeyId"]
        == (key["Arn"])
    )
    git(git_env, "clone", "-q", server.git_url(repo_name), str(tmp_path / "again"))


def test_update_repository_encryption_key_rewraps_only(
    server: Server, cc: Any, kms: Any, repo_name: str, git_env: dict[str, str], tmp_path: Path
) -> None:
    meta = cc.create_repository(repositoryName=repo_name)["repositoryMetadata"]
    default_arn = meta["kmsKeyId"]
    work = push_some(server, git_env, tmp_path, repo_name)
    url = server.git_url(repo_name)
    clone = tmp_path / "old-clone"
    git(git_env, "clone", "-q", url, str(clone))
    before = pack_stats(server, meta["repositoryId"])
    assert any(p.endswith(".pack") for p in before)

    key = new_key(kms)
    out = cc.update_repository_encryption_key(repositoryName=repo_name, kmsKeyId=key["KeyId"])
    assert out["repositoryId"] == meta["repositoryId"]
    assert out["kmsKeyId"] == key["Arn"]
    assert out["originalKmsKeyId"] == default_arn
    assert pack_stats(server, meta["repositoryId"]) == before  # no pack was rewritten
    got = cc.get_repository(repositoryName=repo_name)["repositoryMetadata"]
    assert got["kmsKeyId"] == key["Arn"]

    # The old clone keeps fetching, now through the new key.
    make_commits(git_env, work, 1)
    git(git_env, "push", "-q", url, "main", cwd=work)
    git(git_env, "pull", "-q", "--ff-only", url, "main", cwd=clone)
    assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout == (
        git(git_env, "rev-parse", "HEAD", cwd=work).stdout
    )
    # The repository now depends on the new key only.
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        cc.get_repository(repositoryName=repo_name)
    assert error_code(exc) == "EncryptionKeyDisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as exc:
        cc.update_repository_encryption_key(repositoryName=repo_name, kmsKeyId="alias/nope")
    assert error_code(exc) == "EncryptionKeyNotFoundException"


def test_rotation_keeps_repository_readable(git_env: dict[str, str], tmp_path: Path) -> None:
    from conftest import start_server

    data = tmp_path / "data"
    srv = start_server(data)
    try:
        kms = srv.client("kms")
        key = new_key(kms)
        srv.client().create_repository(repositoryName="before", kmsKeyId=key["KeyId"])
        work = push_some(srv, git_env, tmp_path, "before")
        pushed = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
        rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
        assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
        # A repository made after the rotation has its data key wrapped by the new material.
        srv.client().create_repository(repositoryName="after", kmsKeyId=key["KeyId"])
        git(git_env, "push", "-q", srv.git_url("after"), "main", cwd=work)
    finally:
        srv.stop()
    # A new process holds no unwrapped data key: each repository's key is unwrapped again,
    # the older one with the key material it was wrapped by.
    srv = start_server(data)
    try:
        for name in ("before", "after"):
            clone = tmp_path / f"clone-{name}"
            git(git_env, "clone", "-q", srv.git_url(name), str(clone))
            assert git(git_env, "rev-parse", "HEAD", cwd=clone).stdout.strip() == pushed
            got = srv.client().get_repository(repositoryName=name)["repositoryMetadata"]
            assert got["kmsKeyId"] == key["Arn"]
    finally:
        srv.stop()


def test_customer_key_needs_the_callers_kms_permissions(
    server: Server, kms: Any, repo_name: str
) -> None:
    iam = server.client("iam")
    user = f"cc-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="cc",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        '"Action":"codecommit:*","Resource":"*"}]}',
    )
    creds = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = server.client(key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
    key = new_key(kms)
    with pytest.raises(ClientError) as exc:
        theirs.create_repository(repositoryName=repo_name, kmsKeyId=key["KeyId"])
    assert error_code(exc) == "EncryptionKeyAccessDeniedException"
    # The AWS managed key needs no KMS permission of the caller's.
    theirs.create_repository(repositoryName=repo_name)


def test_packs_hold_no_plaintext(
    server: Server, cc: Any, repo_name: str, git_env: dict[str, str], tmp_path: Path
) -> None:
    meta = cc.create_repository(repositoryName=repo_name)["repositoryMetadata"]
    work = tmp_path / "plain"
    make_commits(git_env, work, 1, prefix="marker-content-1a2b3c")
    git(
        git_env,
        "-c",
        "core.compression=0",
        "push",
        "-q",
        server.git_url(repo_name),
        "main",
        cwd=work,
    )
    for path in (server.data_dir / "repos" / meta["repositoryId"]).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"marker-content-1a2b3c" not in data and not data.startswith(b"PACK"), path
    assert os.path.exists(server.data_dir / "state.db")
