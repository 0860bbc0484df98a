"""IAM SSH public keys (`APKA…` ids), at most five per user, for git over SSH.

The SSH door identifies a caller by the key id it uses as SSH user name; `find` is its lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.iam.keys.common import (
    ACTIVE,
    Clock,
    DuplicateSSHPublicKey,
    LimitExceeded,
    NoSuchEntity,
    UnrecognizedPublicKeyEncoding,
    UserDirectory,
    check_status,
    from_epoch,
    new_id,
    to_epoch,
    utcnow,
)
from emulator.iam.keys.ssh_format import parse_public_key
from emulator.state.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS iam_ssh_keys (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    user_name TEXT NOT NULL,
    openssh TEXT NOT NULL,        -- normalised "type base64", no comment
    pem TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    uploaded REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS iam_ssh_keys_owner ON iam_ssh_keys (account, user_name);
"""

MAX_KEYS_PER_USER = 5
ENCODINGS = ("SSH", "PEM")


@dataclass(frozen=True)
class SSHPublicKey:
    account: str
    user_name: str
    key_id: str
    fingerprint: str
    openssh: str
    pem: str
    status: str
    uploaded: datetime

    def body(self, encoding: str = "SSH") -> str:
        return self.pem if encoding == "PEM" else self.openssh


_COLUMNS = "account, user_name, id, fingerprint, openssh, pem, status, uploaded"


def _key(row: tuple[str, str, str, str, str, str, str, float]) -> SSHPublicKey:
    return SSHPublicKey(*row[:7], from_epoch(row[7]))


class SSHKeys:
    def __init__(self, db: Database, users: UserDirectory, clock: Clock = utcnow) -> None:
        self._db = db
        self._users = users
        self._clock = clock
        db.ensure_schema(SCHEMA)

    def upload(self, account: str, user_name: str, body: str) -> SSHPublicKey:
        user_name = self._users.get_user(account, user_name).name
        parsed = parse_public_key(body)
        key = SSHPublicKey(
            account,
            user_name,
            new_id("APKA", 16),
            parsed.fingerprint,
            parsed.openssh,
            parsed.pem,
            ACTIVE,
            from_epoch(to_epoch(self._clock())),
        )
        with self._db.transaction() as conn:
            fingerprints = [
                fp
                for (fp,) in conn.execute(
                    "SELECT fingerprint FROM iam_ssh_keys WHERE account = ? AND user_name = ?",
                    (account, user_name),
                )
            ]
            if key.fingerprint in fingerprints:
                raise DuplicateSSHPublicKey(
                    "The request was rejected because the SSH public key is already associated"
                    " with the specified IAM user."
                )
            if len(fingerprints) >= MAX_KEYS_PER_USER:
                raise LimitExceeded(
                    f"Cannot exceed quota for PublicKeysPerUser: {MAX_KEYS_PER_USER}"
                )
            conn.execute(
                f"INSERT INTO iam_ssh_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.account,
                    key.user_name,
                    key.key_id,
                    key.fingerprint,
                    key.openssh,
                    key.pem,
                    key.status,
                    to_epoch(key.uploaded),
                ),
            )
        return key

    def get(self, account: str, user_name: str, key_id: str) -> SSHPublicKey:
        user_name = self._users.get_user(account, user_name).name
        row = (
            self._db.read()
            .execute(
                f"SELECT {_COLUMNS} FROM iam_ssh_keys WHERE id = ? AND account = ?"
                " AND user_name = ?",
                (key_id, account, user_name),
            )
            .fetchone()
        )
        if row is None:
            raise NoSuchEntity(f"The Public Key with id {key_id[:128]} cannot be found.")
        return _key(row)

    def list(self, account: str, user_name: str) -> list[SSHPublicKey]:
        user_name = self._users.get_user(account, user_name).name
        rows = self._db.read().execute(
            f"SELECT {_COLUMNS} FROM iam_ssh_keys WHERE account = ? AND user_name = ?"
            " ORDER BY uploaded, id",
            (account, user_name),
        )
        return [_key(r) for r in rows]

    def update(self, account: str, user_name: str, key_id: str, status: str) -> None:
        check_status(status)
        self.get(account, user_name, key_id)
        with self._db.transaction() as conn:
            conn.execute("UPDATE iam_ssh_keys SET status = ? WHERE id = ?", (status, key_id))

    def delete(self, account: str, user_name: str, key_id: str) -> None:
        self.get(account, user_name, key_id)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM iam_ssh_keys WHERE id = ?", (key_id,))

    def find(self, key_id: str) -> SSHPublicKey | None:
        """The key with this id in any account, whatever its status (the SSH door checks the
        status and that the offered key equals `openssh`)."""
        row = (
            self._db.read()
            .execute(f"SELECT {_COLUMNS} FROM iam_ssh_keys WHERE id = ?", (key_id,))
            .fetchone()
        )
        return None if row is None else _key(row)


def check_encoding(encoding: str) -> str:
    if encoding not in ENCODINGS:
        raise UnrecognizedPublicKeyEncoding(
            f"The encoding {encoding[:40]} is not recognized; use SSH or PEM."
        )
    return encoding
