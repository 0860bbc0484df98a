"""Each repository's data key, wrapped by a KMS key: the seam between the local KMS and the
encrypted pack store. It lives with the repositories and uses the KMS below it, which knows
nothing of repositories.

    master key → KMS key material (versioned) → repository data key → file keys

A repository's data key is 32 random bytes, stored only as a KMS ciphertext blob (with the KMS
key id and material version beside it, and `aws:codecommit:id` as encryption context, as
CodeCommit uses). `data_key(repo)` unwraps it on every call after checking the KMS key's state,
so disabling the key stops every reader and writer at once; re-keying a repository re-wraps this
one blob and never touches a pack. The pack store derives its per-file keys from the data key.

Errors are CodeCommit's, since every caller answers a CodeCommit request or a git command:

    missing key (never created, or deleted)   EncryptionKeyNotFoundException
    Disabled                                  EncryptionKeyDisabledException
    PendingDeletion                           EncryptionKeyUnavailableException
    a stored blob that does not authenticate  EncryptionIntegrityChecksFailedException
"""

from __future__ import annotations

import threading

from emulator.codecommit_errors import error
from emulator.errors import ClientError, ServiceError
from emulator.kms.ciphertext import parse_header
from emulator.kms.model import (
    DISABLED,
    PENDING_DELETION,
    InvalidArnException,
    KmsKey,
    NotFoundException,
)
from emulator.kms.secrets import MasterKeyError
from emulator.kms.service import KmsService
from emulator.repos.model import Repository
from emulator.state.db import Database

DATA_KEY_BYTES = 32
CONTEXT_KEY = "aws:codecommit:id"

SCHEMA = """
CREATE TABLE IF NOT EXISTS repository_data_keys (
    repo_id TEXT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    kms_key_id TEXT NOT NULL,
    key_version INTEGER NOT NULL,
    wrapped BLOB NOT NULL
);
"""


def key_not_found() -> ClientError:
    return error("EncryptionKeyNotFoundException")


def key_error(key: KmsKey | None) -> ClientError | None:
    """The CodeCommit error for a repository whose KMS key is `key`, or None if it is usable."""
    if key is None:
        return key_not_found()
    if key.state == DISABLED:
        return error("EncryptionKeyDisabledException")
    if key.state == PENDING_DELETION:
        return error("EncryptionKeyUnavailableException")
    return None


def _integrity_failed() -> ClientError:
    return error("EncryptionIntegrityChecksFailedException")


def _context(repo_id: str) -> dict[str, str]:
    return {CONTEXT_KEY: repo_id}


class RepositoryDataKeys:
    """The `encrypted_files.DataKeyProvider` of a running emulator, backed by the local KMS."""

    def __init__(self, db: Database, kms: KmsService) -> None:
        self.db = db
        self.kms = kms
        self._cache: dict[tuple[str, bytes], bytes] = {}
        self._guard = threading.Lock()
        db.ensure_schema(SCHEMA)

    # -- choosing a key (CreateRepository, UpdateRepositoryEncryptionKey) ---------------------

    def choose_key(self, account: str, region: str, ref: str | None) -> KmsKey:
        """The usable KMS key a repository is to be encrypted with: `ref` (key id, key ARN,
        alias name or alias ARN) or, when absent, the account's `aws/codecommit` key in this
        region, created on first use. Raises CodeCommit's errors."""
        if ref is None:
            key = self.kms.aws_managed_key(account, region)
        else:
            try:
                key = self.kms.resolve(account, region, ref)
            except InvalidArnException:
                raise _invalid_id() from None
            except NotFoundException as exc:
                if exc.message.startswith("Invalid keyId"):
                    raise _invalid_id() from None
                raise key_not_found() from None
        problem = key_error(key)
        if problem is not None:
            raise problem
        return key

    # -- the data key -----------------------------------------------------------------------

    def create(self, repo: Repository, key: KmsKey) -> None:
        """Give a new repository its data key, wrapped by `key`."""
        plaintext, blob = self.kms.generate_data_key(key, DATA_KEY_BYTES, _context(repo.id))
        version = _blob_version(blob)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO repository_data_keys"
                " (repo_id, kms_key_id, key_version, wrapped) VALUES (?, ?, ?, ?)",
                (repo.id, key.key_id, version, blob),
            )
        with self._guard:
            self._cache[(repo.id, blob)] = plaintext

    def rewrap(self, repo: Repository, new_key: KmsKey) -> KmsKey:
        """Re-wrap the repository's data key under `new_key` (O(1): no pack is touched).
        Returns the key it was wrapped by before."""
        old_key = self.current_key(repo)
        plaintext = self.data_key(repo)
        blob = self.kms.encrypt(new_key, plaintext, _context(repo.id))
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE repository_data_keys SET kms_key_id = ?, key_version = ?, wrapped = ?"
                " WHERE repo_id = ?",
                (new_key.key_id, _blob_version(blob), blob, repo.id),
            )
        with self._guard:
            self._cache[(repo.id, blob)] = plaintext
        return old_key

    def current_key(self, repo: Repository) -> KmsKey:
        """The usable KMS key wrapping the repository's data key, or the CodeCommit error."""
        row = self._row(repo)
        key = self.kms.get(str(row[0]))
        problem = key_error(key)
        if problem is not None:
            raise problem
        assert key is not None
        return key

    def check(self, repo: Repository) -> None:
        """Raise the CodeCommit error if the repository's KMS key cannot be used now."""
        self.current_key(repo)

    def data_key(self, repo: Repository) -> bytes:
        key_id, _, wrapped = self._row(repo)
        key = self.kms.get(key_id)
        error = key_error(key)
        if error is not None:
            raise error
        with self._guard:
            cached = self._cache.get((repo.id, wrapped))
        if cached is not None:
            return cached
        try:
            plaintext, _ = self.kms.decrypt(repo.account, repo.region, wrapped, _context(repo.id))
        except MasterKeyError:
            raise _integrity_failed() from None
        except ServiceError as exc:
            if exc.code == "InvalidCiphertextException":
                raise _integrity_failed() from None
            raise
        if len(plaintext) != DATA_KEY_BYTES:
            raise _integrity_failed()
        with self._guard:
            self._cache[(repo.id, wrapped)] = plaintext
        return plaintext

    def forget(self, repo: Repository) -> None:
        """A deleted repository's data key leaves memory too."""
        with self._guard:
            for key in [k for k in self._cache if k[0] == repo.id]:
                del self._cache[key]

    def _row(self, repo: Repository) -> tuple[str, int, bytes]:
        row = (
            self.db.read()
            .execute(
                "SELECT kms_key_id, key_version, wrapped FROM repository_data_keys"
                " WHERE repo_id = ?",
                (repo.id,),
            )
            .fetchone()
        )
        if row is None:
            # A repository made before it had a data key: give it one now, under the key its
            # metadata names (the aws/codecommit key when none).
            self.create(repo, self.choose_key(repo.account, repo.region, repo.kms_key_id))
            return self._row(repo)
        return str(row[0]), int(row[1]), bytes(row[2])


def _blob_version(blob: bytes) -> int:
    return parse_header(blob).version


def _invalid_id() -> ClientError:
    return error("EncryptionKeyInvalidIdException")
