"""Service-specific credentials: the HTTPS git user name and password CodeCommit hands out
(`alice-at-123456789012` + a 44-character password), at most two per user and service.

Only a salted scrypt hash of the password is stored, sealed under the master key. git sends the
password on every request of an operation, so a verified (credential id, password) pair is
remembered in memory under an HMAC with a key that lives only in this process; the entry names
the credential's version, which a reset, deactivation or deletion changes or removes, so a
stale entry never matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from emulator.iam.keys.common import (
    ACTIVE,
    Clock,
    IAMUser,
    LimitExceeded,
    NoSuchEntity,
    NotSupportedService,
    UserDirectory,
    check_status,
    find_user,
    from_epoch,
    new_id,
    to_epoch,
    utcnow,
)
from emulator.kms.secrets import SecretBox
from emulator.state.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS iam_service_credentials (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    user_name TEXT NOT NULL,
    service TEXT NOT NULL,
    service_user_name TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS iam_service_credentials_owner
    ON iam_service_credentials (account, user_name);
CREATE INDEX IF NOT EXISTS iam_service_credentials_login
    ON iam_service_credentials (service_user_name, service);
"""

CODECOMMIT = "codecommit.amazonaws.com"
SUPPORTED_SERVICES = (CODECOMMIT,)
MAX_PER_USER_AND_SERVICE = 2
# scrypt at n=2**15, r=8, p=1: 32 MiB and tens of milliseconds per guess (OWASP's minimum is
# n=2**17 with r=8 for interactive logins; a git password is 256 random bits, so guessing is
# hopeless anyway and the hash only has to make a stolen database useless).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class ServiceCredential:
    account: str
    user_name: str
    credential_id: str
    service_name: str
    service_user_name: str
    status: str
    created: datetime


@dataclass(frozen=True)
class NewServiceCredential:
    credential: ServiceCredential
    password: str


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=_SCRYPT_MAXMEM,
        dklen=_HASH_BYTES,
    )


_HASH_BYTES = 32


def _hash_aad(cred_id: str) -> bytes:
    return f"iam service credential hash {cred_id}".encode()


def _new_password() -> str:
    # AWS's passwords are 44 base64 characters: 32 random bytes.
    return base64.b64encode(secrets.token_bytes(32)).decode()


def service_user_name(user_name: str, account: str) -> str:
    return f"{user_name}-at-{account}"


_COLUMNS = "account, user_name, id, service, service_user_name, status, created"


def _credential(row: tuple[str, str, str, str, str, str, float]) -> ServiceCredential:
    return ServiceCredential(*row[:6], from_epoch(row[6]))


class ServiceCredentials:
    def __init__(
        self,
        db: Database,
        users: UserDirectory,
        clock: Clock = utcnow,
        box: SecretBox | None = None,
    ) -> None:
        self._db = db
        self._box = box
        self._users = users
        self._clock = clock
        self._cache_key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()
        db.ensure_schema(SCHEMA)

    # -- management ---------------------------------------------------------------------------

    def create(self, account: str, user_name: str, service: str) -> NewServiceCredential:
        user = self._users.get_user(account, user_name)
        check_service(service)
        password = _new_password()
        salt = secrets.token_bytes(16)
        cred_id = new_id("ACCA", 17)
        digest = self._seal(cred_id, _hash(password, salt))
        cred = ServiceCredential(
            account,
            user.name,
            cred_id,
            service,
            service_user_name(user.name, account),
            ACTIVE,
            from_epoch(to_epoch(self._clock())),
        )
        with self._db.transaction() as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM iam_service_credentials"
                " WHERE account = ? AND user_name = ? AND service = ?",
                (account, user.name, service),
            ).fetchone()
            if count >= MAX_PER_USER_AND_SERVICE:
                raise LimitExceeded(
                    "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService:"
                    f" {MAX_PER_USER_AND_SERVICE}"
                )
            conn.execute(
                "INSERT INTO iam_service_credentials (id, account, user_name, service,"
                " service_user_name, salt, hash, version, status, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    cred.credential_id,
                    account,
                    user.name,
                    service,
                    cred.service_user_name,
                    salt,
                    digest,
                    ACTIVE,
                    to_epoch(cred.created),
                ),
            )
        return NewServiceCredential(cred, password)

    def list(
        self, account: str, user_name: str | None, service: str | None = None
    ) -> list[ServiceCredential]:
        """A user's credentials, or those of every user of the account (`user_name` None)."""
        if user_name is not None:
            user_name = self._users.get_user(account, user_name).name
        if service is not None:
            check_service(service)
        rows = self._db.read().execute(
            f"SELECT {_COLUMNS} FROM iam_service_credentials WHERE account = ?"
            " AND (? IS NULL OR user_name = ?) AND (? IS NULL OR service = ?)"
            " ORDER BY created, id",
            (account, user_name, user_name, service, service),
        )
        return [_credential(r) for r in rows]

    def get(self, account: str, user_name: str, credential_id: str) -> ServiceCredential:
        user_name = self._users.get_user(account, user_name).name
        row = (
            self._db.read()
            .execute(
                f"SELECT {_COLUMNS} FROM iam_service_credentials"
                " WHERE id = ? AND account = ? AND user_name = ?",
                (credential_id, account, user_name),
            )
            .fetchone()
        )
        if row is None:
            raise NoSuchEntity(
                f"The Service Specific Credential with id {credential_id[:128]} cannot be found."
            )
        return _credential(row)

    def reset(self, account: str, user_name: str, credential_id: str) -> NewServiceCredential:
        cred = self.get(account, user_name, credential_id)
        password = _new_password()
        salt = secrets.token_bytes(16)
        digest = self._seal(credential_id, _hash(password, salt))
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE iam_service_credentials SET salt = ?, hash = ?, version = version + 1"
                " WHERE id = ?",
                (salt, digest, credential_id),
            )
        self._forget(credential_id)
        return NewServiceCredential(cred, password)

    def update(self, account: str, user_name: str, credential_id: str, status: str) -> None:
        check_status(status)
        self.get(account, user_name, credential_id)
        with self._db.transaction() as conn:
            # A status change bumps the version too, so no remembered verification survives it.
            conn.execute(
                "UPDATE iam_service_credentials SET status = ?, version = version + 1 WHERE id = ?",
                (status, credential_id),
            )
        self._forget(credential_id)

    def delete(self, account: str, user_name: str, credential_id: str) -> None:
        self.get(account, user_name, credential_id)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM iam_service_credentials WHERE id = ?", (credential_id,))
        self._forget(credential_id)

    def verify(self, username: str, password: str, service: str = CODECOMMIT) -> IAMUser | None:
        """The IAM user whose active credential this is, or None.

        `username` is the ServiceUserName (`alice-at-123456789012`). A correct password costs
        one indexed SELECT once it has been verified before; a wrong one costs a scrypt per
        active credential of that user.
        """
        if not username or not password or len(password) > 1024 or len(username) > 256:
            return None
        rows = (
            self._db.read()
            .execute(
                "SELECT id, account, user_name, salt, hash, version FROM iam_service_credentials"
                " WHERE service_user_name = ? AND service = ? AND status = ?",
                (username, service, ACTIVE),
            )
            .fetchall()
        )
        for cred_id, account, user_name, salt, digest, version in rows:
            token = hmac.digest(
                self._cache_key, cred_id.encode() + b"\0" + password.encode(), "sha256"
            )
            with self._lock:
                hit = self._verified.get(token)
                if hit is not None:
                    self._verified.move_to_end(token)
            # The version check is what makes a reset, deactivation or delete effective at once
            # even for a cache entry _forget missed (another process, a race with verify).
            ok = hit == (cred_id, version) or hmac.compare_digest(
                _hash(password, salt), self._open(cred_id, bytes(digest))
            )
            if not ok:
                continue
            with self._lock:
                self._verified[token] = (cred_id, version)
                while len(self._verified) > _CACHE_SIZE:
                    self._verified.popitem(last=False)
            return find_user(self._users, account, user_name)
        return None

    # The scrypt hash is sealed under the master key, so a copied database alone does not
    # even allow guessing passwords offline. A 32-byte value is a hash stored before sealing.
    def _seal(self, cred_id: str, digest: bytes) -> bytes:
        return digest if self._box is None else self._box.seal(digest, _hash_aad(cred_id))

    def _open(self, cred_id: str, stored: bytes) -> bytes:
        if self._box is None or len(stored) == _HASH_BYTES:
            return stored
        return self._box.open(stored, _hash_aad(cred_id))

    def _forget(self, credential_id: str) -> None:
        with self._lock:
            for token in [t for t, (cid, _) in self._verified.items() if cid == credential_id]:
                del self._verified[token]


def check_service(service: str) -> str:
    if service not in SUPPORTED_SERVICES:
        raise NotSupportedService(
            f"The service {service[:128]} is not supported for service-specific credentials;"
            f" supported: {', '.join(SUPPORTED_SERVICES)}."
        )
    return service
