"""The local KMS core with a controlled clock: a key is deleted once its waiting period has
passed (and a repository wrapped by it then answers EncryptionKeyNotFoundException), automatic
rotation happens when it is due, and a blob moved to another repository does not open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from emulator.errors import ClientError
from emulator.kms.service import KmsService
from emulator.repos.data_keys import RepositoryDataKeys
from emulator.repos.service import RepositoryService
from emulator.state.db import Database

ACCOUNT = "123456789012"
REGION = "us-east-1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "state.db")
    yield database
    database.close()


def test_deleted_key_after_waiting_period(db: Database, tmp_path: Path) -> None:
    clock = Clock()
    kms = KmsService(db, b"m" * 32, clock)
    data_keys = RepositoryDataKeys(db, kms)
    repos = RepositoryService(db, tmp_path / "repos")
    key = kms.create_key(ACCOUNT, REGION)
    kms.create_alias(ACCOUNT, REGION, "alias/doomed", key)
    repo = repos.create(ACCOUNT, REGION, "r", kms_key_id=key.arn)
    data_keys.create(repo, key)
    plain = data_keys.data_key(repo)
    kms.schedule_deletion(key, 7)
    with pytest.raises(ClientError) as exc:
        data_keys.data_key(repo)
    assert exc.value.code == "EncryptionKeyUnavailableException"
    clock.now += timedelta(days=7, seconds=1)
    with pytest.raises(ClientError) as exc:
        data_keys.data_key(repo)
    assert exc.value.code == "EncryptionKeyNotFoundException"
    assert kms.list_keys(ACCOUNT, REGION) == []
    assert kms.list_aliases(ACCOUNT, REGION) == []
    with pytest.raises(ClientError) as exc:
        kms.resolve(ACCOUNT, REGION, key.key_id)
    assert exc.value.code == "NotFoundException"
    assert len(plain) == 32


def test_automatic_rotation_when_due(db: Database) -> None:
    clock = Clock()
    kms = KmsService(db, b"m" * 32, clock)
    key = kms.enable_rotation(kms.create_key(ACCOUNT, REGION), 90)
    old = kms.encrypt(key, b"before")
    clock.now += timedelta(days=91)
    new = kms.encrypt(kms.resolve(ACCOUNT, REGION, key.key_id), b"after")
    rotated = kms.resolve(ACCOUNT, REGION, key.key_id)
    assert rotated.current_version == 2
    assert rotated.next_rotation == clock.now + timedelta(days=90)
    assert [v.on_demand for v in kms.versions(rotated)] == [False, False]
    assert kms.decrypt(ACCOUNT, REGION, old)[0] == b"before"
    assert kms.decrypt(ACCOUNT, REGION, new)[0] == b"after"


def test_wrapped_data_key_is_bound_to_its_repository(db: Database, tmp_path: Path) -> None:
    kms = KmsService(db, b"m" * 32)
    data_keys = RepositoryDataKeys(db, kms)
    repos = RepositoryService(db, tmp_path / "repos")
    one = repos.create(ACCOUNT, REGION, "one")
    two = repos.create(ACCOUNT, REGION, "two")
    assert data_keys.data_key(one) != data_keys.data_key(two)
    with db.transaction() as conn:
        conn.execute(
            "UPDATE repository_data_keys SET wrapped ="
            " (SELECT wrapped FROM repository_data_keys WHERE repo_id = ?) WHERE repo_id = ?",
            (one.id, two.id),
        )
    fresh = RepositoryDataKeys(db, kms)  # no cached plaintext
    with pytest.raises(ClientError) as exc:
        fresh.data_key(two)
    assert exc.value.code == "EncryptionIntegrityChecksFailedException"


def test_material_does_not_open_under_another_master_key(db: Database) -> None:
    kms = KmsService(db, b"m" * 32)
    key = kms.create_key(ACCOUNT, REGION)
    blob = kms.encrypt(key, b"x")
    other = KmsService(db, b"n" * 32)
    with pytest.raises(Exception, match="master key"):
        other.decrypt(ACCOUNT, REGION, blob)
