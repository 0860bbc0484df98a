"""IAM access keys: AKIA ids with a 40-character secret, at most two per user (or per root).

The secret is shown once, at creation, and is stored sealed under the master key with the key id
as associated data: SigV4 verification needs the secret itself, so a hash will not do. Last use
(service, region, time) is recorded at most once a minute per key, so a busy key costs no write
per request.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from emulator.iam.keys.common import (
    ACTIVE,
    Clock,
    LimitExceeded,
    NoSuchEntity,
    UserDirectory,
    check_status,
    from_epoch,
    new_id,
    to_epoch,
    utcnow,
)
from emulator.kms.secrets import SecretBox
from emulator.state.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS iam_access_keys (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    user_name TEXT,               -- NULL: the account's root user
    sealed_secret BLOB NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL,
    last_service TEXT,
    last_region TEXT
);
CREATE INDEX IF NOT EXISTS iam_access_keys_owner ON iam_access_keys (account, user_name);
"""

MAX_KEYS_PER_USER = 2
# AWS writes last-used information lazily too; a minute keeps GetAccessKeyLastUsed useful.
LAST_USED_INTERVAL = 60.0
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class AccessKey:
    account: str
    user_name: str | None  # None for the root user's keys
    access_key_id: str
    status: str
    created: datetime


@dataclass(frozen=True)
class NewAccessKey:
    key: AccessKey
    secret_access_key: str


@dataclass(frozen=True)
class LastUsed:
    account: str
    user_name: str | None
    when: datetime | None
    service: str | None
    region: str | None


@dataclass(frozen=True)
class KeySecret:
    """An active key and its secret: what signature verification needs."""

    account: str
    user_name: str | None
    access_key_id: str
    secret_access_key: str


def _key(row: tuple[str, str, str | None, str, float]) -> AccessKey:
    return AccessKey(row[1], row[2], row[0], row[3], from_epoch(row[4]))


def _aad(access_key_id: str) -> bytes:
    return b"iam access key:" + access_key_id.encode()


class AccessKeys:
    def __init__(
        self, db: Database, box: SecretBox, users: UserDirectory, clock: Clock = utcnow
    ) -> None:
        self._db = db
        self._box = box
        self._users = users
        self._clock = clock
        self._recorded: dict[str, float] = {}  # key id -> monotonic time of last write
        self._lock = threading.Lock()
        db.ensure_schema(SCHEMA)

    def _owner(self, account: str, user_name: str | None) -> str | None:
        # IAM user names are case-insensitive: rows hold the name as the user has it.
        return None if user_name is None else self._users.get_user(account, user_name).name

    def create(self, account: str, user_name: str | None) -> NewAccessKey:
        user_name = self._owner(account, user_name)
        key_id = new_id("AKIA", 16)
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        now = self._clock()
        with self._db.transaction() as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM iam_access_keys WHERE account = ? AND user_name IS ?",
                (account, user_name),
            ).fetchone()
            if count >= MAX_KEYS_PER_USER:
                raise LimitExceeded(
                    f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
                )
            conn.execute(
                "INSERT INTO iam_access_keys (id, account, user_name, sealed_secret, status,"
                " created) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    account,
                    user_name,
                    self._box.seal(secret.encode(), _aad(key_id)),
                    ACTIVE,
                    to_epoch(now),
                ),
            )
        return NewAccessKey(
            AccessKey(account, user_name, key_id, ACTIVE, from_epoch(to_epoch(now))), secret
        )

    def list(self, account: str, user_name: str | None) -> list[AccessKey]:
        user_name = self._owner(account, user_name)
        rows = self._db.read().execute(
            "SELECT id, account, user_name, status, created FROM iam_access_keys"
            " WHERE account = ? AND user_name IS ? ORDER BY created, id",
            (account, user_name),
        )
        return [_key(r) for r in rows]

    def _get(self, account: str, user_name: str | None, key_id: str) -> AccessKey:
        user_name = self._owner(account, user_name)
        row = (
            self._db.read()
            .execute(
                "SELECT id, account, user_name, status, created FROM iam_access_keys"
                " WHERE id = ? AND account = ? AND user_name IS ?",
                (key_id, account, user_name),
            )
            .fetchone()
        )
        if row is None:
            raise NoSuchEntity(f"The Access Key with id {key_id[:128]} cannot be found.")
        return _key(row)

    def update(self, account: str, user_name: str | None, key_id: str, status: str) -> None:
        check_status(status)
        self._get(account, user_name, key_id)
        with self._db.transaction() as conn:
            conn.execute("UPDATE iam_access_keys SET status = ? WHERE id = ?", (status, key_id))

    def delete(self, account: str, user_name: str | None, key_id: str) -> None:
        self._get(account, user_name, key_id)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM iam_access_keys WHERE id = ?", (key_id,))
        with self._lock:
            self._recorded.pop(key_id, None)

    def last_used(self, key_id: str) -> LastUsed | None:
        """Last use of a key of any account; None if there is no such key (IAM answers for a
        key id without its owner's name, and the caller's authorization decides the rest)."""
        row = (
            self._db.read()
            .execute(
                "SELECT account, user_name, last_used, last_service, last_region"
                " FROM iam_access_keys WHERE id = ?",
                (key_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        account, user_name, when, service, region = row
        return LastUsed(
            account, user_name, None if when is None else from_epoch(when), service, region
        )

    def secret(self, key_id: str) -> KeySecret | None:
        """The secret of an active key, or None if the key does not exist or is inactive."""
        row = (
            self._db.read()
            .execute(
                "SELECT account, user_name, sealed_secret FROM iam_access_keys"
                " WHERE id = ? AND status = ?",
                (key_id, ACTIVE),
            )
            .fetchone()
        )
        if row is None:
            return None
        account, user_name, sealed = row
        secret = self._box.open(sealed, _aad(key_id)).decode()
        return KeySecret(account, user_name, key_id, secret)

    def record_use(self, key_id: str, service: str, region: str) -> None:
        """Note that `key_id` signed a request to `service` in `region` (throttled)."""
        now = time.monotonic()
        with self._lock:
            previous = self._recorded.get(key_id)
            if previous is not None and now - previous < LAST_USED_INTERVAL:
                return
            self._recorded[key_id] = now
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE iam_access_keys SET last_used = ?, last_service = ?, last_region = ?"
                " WHERE id = ?",
                (to_epoch(self._clock()), service, region, key_id),
            )
