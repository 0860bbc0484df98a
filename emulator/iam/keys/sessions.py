"""Temporary credentials (`ASIA…` key, secret, session token) issued by STS, until they expire.

The secret is sealed under the master key (SigV4 needs it); the session token is stored only as
its SHA-256, since it is a long random value that is presented, never used as a key. The
principal a session acts as is stored whole, so a request signed with it needs one SELECT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from emulator.iam.keys.common import Clock, from_epoch, new_id, to_epoch, utcnow
from emulator.iam.principal import Principal
from emulator.kms.secrets import SecretBox
from emulator.state.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS sts_sessions (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    token_sha256 BLOB NOT NULL,
    principal TEXT NOT NULL,      -- JSON of the Principal the session acts as
    source_key TEXT,              -- the access key that asked for it
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sts_sessions_expires ON sts_sessions (expires);
"""

_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
# Expired sessions are kept a day, so a late request gets ExpiredToken rather than "invalid".
KEEP_EXPIRED = timedelta(days=1)


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


@dataclass(frozen=True)
class StoredSession:
    access_key_id: str
    secret_access_key: str
    token_sha256: bytes
    principal: Principal  # `expires` set, `access_key_id` the session's key

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self.token_sha256)


def _aad(access_key_id: str) -> bytes:
    return b"sts session:" + access_key_id.encode()


def _principal_json(p: Principal) -> str:
    return json.dumps(
        {
            "account": p.account,
            "arn": p.arn,
            "user_id": p.user_id,
            "kind": p.kind,
            "name": p.name,
            "role_arn": p.role_arn,
            "session_name": p.session_name,
            "tags": [list(t) for t in p.tags],
            "session_policies": list(p.session_policies),
        }
    )


def _principal(text: str, access_key_id: str, expires: datetime) -> Principal:
    d = json.loads(text)
    return Principal(
        account=d["account"],
        arn=d["arn"],
        user_id=d["user_id"],
        kind=d["kind"],
        access_key_id=access_key_id,
        name=d["name"],
        role_arn=d["role_arn"],
        session_name=d["session_name"],
        tags=tuple((k, v) for k, v in d["tags"]),
        session_policies=tuple(d["session_policies"]),
        expires=expires,
    )


class Sessions:
    def __init__(self, db: Database, box: SecretBox, clock: Clock = utcnow) -> None:
        self._db = db
        self._box = box
        self._clock = clock
        db.ensure_schema(SCHEMA)

    def issue(
        self, principal: Principal, duration: timedelta, source_key: str | None
    ) -> TemporaryCredentials:
        """Store a new session acting as `principal` for `duration`, and return its keys."""
        key_id = new_id("ASIA", 16)
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))
        token = base64.b64encode(secrets.token_bytes(144)).decode()
        now = self._clock()
        expires = from_epoch(float(int(to_epoch(now + duration))))
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM sts_sessions WHERE expires < ?", (to_epoch(now - KEEP_EXPIRED),)
            )
            conn.execute(
                "INSERT INTO sts_sessions (id, account, sealed_secret, token_sha256, principal,"
                " source_key, created, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    principal.account,
                    self._box.seal(secret.encode(), _aad(key_id)),
                    hashlib.sha256(token.encode()).digest(),
                    _principal_json(principal),
                    source_key,
                    to_epoch(now),
                    to_epoch(expires),
                ),
            )
        return TemporaryCredentials(key_id, secret, token, expires)

    def find(self, access_key_id: str) -> StoredSession | None:
        """The session with this key id, expired or not (the caller decides what expiry means
        for its door)."""
        row = (
            self._db.read()
            .execute(
                "SELECT sealed_secret, token_sha256, principal, expires FROM sts_sessions"
                " WHERE id = ?",
                (access_key_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        sealed, token_sha, principal, expires = row
        secret = self._box.open(sealed, _aad(access_key_id)).decode()
        return StoredSession(
            access_key_id,
            secret,
            bytes(token_sha),
            _principal(principal, access_key_id, from_epoch(expires)),
        )

    def now(self) -> datetime:
        return self._clock()
