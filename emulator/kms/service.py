"""The local KMS: symmetric keys per account and region, their versioned material, aliases,
tags, state changes and the cryptographic operations.

Key material never leaves this module in the clear except as a data key a caller asked for. Each
version of a key's material is sealed under the master key (`MaterialBox`); rotation adds a
version and older versions keep decrypting, as on AWS. Time comes from `clock`, so a scheduled
deletion or an automatic rotation happens when its date has passed, the next time the key is
looked at.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from emulator.kms import ciphertext
from emulator.kms.ciphertext import MaterialBox
from emulator.kms.model import (
    AWS,
    AWS_ALIAS_PREFIX,
    CODECOMMIT_ALIAS,
    CUSTOMER,
    DISABLED,
    ENABLED,
    PENDING_DELETION,
    Alias,
    AlreadyExistsException,
    DisabledException,
    IncorrectKeyException,
    InvalidArnException,
    InvalidCiphertextException,
    KeyVersion,
    KMSInvalidStateException,
    KmsKey,
    LimitExceededException,
    NotFoundException,
    UnsupportedOperationException,
    alias_arn,
    key_arn,
)
from emulator.kms.store import (
    ALIAS_COLUMNS,
    KEY_COLUMNS,
    SCHEMA,
    load_key,
    row_to_alias,
    row_to_key,
    row_to_version,
    ts,
)
from emulator.state.db import Database

Clock = Callable[[], datetime]

DEFAULT_ROTATION_DAYS = 365
MAX_ON_DEMAND_ROTATIONS = 25
# The AWS managed keys ccemu knows, by alias, and the description AWS gives each.
AWS_MANAGED = {
    CODECOMMIT_ALIAS: "Default key that protects my CodeCommit repositories when no other key is"
    " defined",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_policy(account: str, region: str) -> str:
    """The key policy KMS gives a key created without one: the account's IAM policies decide."""
    partition = key_arn(region, account, "x").split(":")[1]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
        indent=2,
    )


class KmsService:
    def __init__(self, db: Database, master_key: bytes, clock: Clock | None = None) -> None:
        self.db = db
        self._box = MaterialBox(master_key)
        self._clock = clock or _utcnow
        self._material: dict[tuple[str, int], bytes] = {}
        self._guard = threading.Lock()
        db.ensure_schema(SCHEMA)

    # -- finding keys -----------------------------------------------------------------------

    def _load(self, key_id: str) -> KmsKey | None:
        """The key, or None; a key whose deletion date has passed is deleted now."""
        key = load_key(self.db.read(), key_id)
        if key is not None and key.state == PENDING_DELETION and key.deletion_date is not None:
            if key.deletion_date <= self._clock():
                with self.db.transaction() as conn:
                    conn.execute("DELETE FROM kms_keys WHERE key_id = ?", (key.key_id,))
                with self._guard:
                    for cached in [k for k in self._material if k[0] == key.arn]:
                        del self._material[cached]
                return None
        return key

    def get(self, key_id: str) -> KmsKey | None:
        """The key with this id, whatever its account (for the repositories' data keys)."""
        return self._load(key_id)

    def find_alias(self, account: str, region: str, name: str) -> Alias | None:
        row = (
            self.db.read()
            .execute(
                f"SELECT {ALIAS_COLUMNS} FROM kms_aliases"
                " WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            )
            .fetchone()
        )
        if row is None:
            return None
        alias = row_to_alias(row)
        return alias if self._load(alias.key_id) is not None else None

    def resolve(self, account: str, region: str, ref: str, *, aliases: bool = True) -> KmsKey:
        """The key `ref` names: a key id, a key ARN and (with `aliases`) an alias name or alias
        ARN, in the caller's account and region. Naming an AWS managed key's alias creates the
        key if it does not exist yet, as KMS does."""
        kind, value = self._parse_ref(account, region, ref, aliases)
        if kind == "alias":
            alias = self.find_alias(account, region, value)
            if alias is None and value in AWS_MANAGED:
                return self.aws_managed_key(account, region, value)
            if alias is None:
                raise NotFoundException(f"Alias {alias_arn(region, account, value)} is not found.")
            value = alias.key_id
        key = self._load(value)
        if key is None or key.account != account or key.region != region:
            raise NotFoundException(f"Key '{key_arn(region, account, value)}' does not exist")
        return key

    @staticmethod
    def _parse_ref(account: str, region: str, ref: str, aliases: bool) -> tuple[str, str]:
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)
            if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith(("key/", "alias/")):
                raise InvalidArnException(f"ARN {ref[:300]} is not a valid KMS key or alias ARN.")
            if parts[5].startswith("alias/") and not aliases:
                raise InvalidArnException(f"{ref[:300]} is an alias ARN; specify a key.")
            if parts[3] != region or parts[4] != account:
                # Cross-account and cross-region use of keys is not emulated: the key is not here.
                raise NotFoundException(f"Key '{ref[:300]}' does not exist")
            if parts[5].startswith("alias/"):
                return "alias", parts[5]
            return "key", _check_uuid(parts[5][len("key/") :])
        if ref.startswith("alias/"):
            if not aliases:
                raise NotFoundException(f"Invalid keyId '{ref[:300]}'")
            return "alias", ref
        return "key", _check_uuid(ref)

    def list_keys(self, account: str, region: str) -> list[KmsKey]:
        rows = (
            self.db.read()
            .execute(
                f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE account = ? AND region = ?"
                " ORDER BY created, key_id",
                (account, region),
            )
            .fetchall()
        )
        keys = [row_to_key(r) for r in rows]
        return [k for k in keys if self._load(k.key_id) is not None]

    # -- creating keys ----------------------------------------------------------------------

    def create_key(
        self,
        account: str,
        region: str,
        *,
        description: str = "",
        policy: str | None = None,
        tags: Mapping[str, str] | None = None,
        manager: str = CUSTOMER,
        conn: sqlite3.Connection | None = None,
    ) -> KmsKey:
        key_id = str(uuid.uuid4())
        now = self._clock()
        arn = key_arn(region, account, key_id)
        _, sealed = self._box.new(arn, 1)
        params = (
            key_id,
            account,
            region,
            description,
            policy if policy is not None else default_policy(account, region),
            manager,
            ENABLED,
            ts(now),
            None,
            # AWS rotates the material of AWS managed keys every year.
            DEFAULT_ROTATION_DAYS if manager == AWS else None,
            ts(now + timedelta(days=DEFAULT_ROTATION_DAYS)) if manager == AWS else None,
            1,
            0,
        )

        def insert(c: sqlite3.Connection) -> None:
            c.execute(
                f"INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES ({', '.join('?' * 13)})", params
            )
            c.execute(
                "INSERT INTO kms_key_material (key_id, version, sealed, created, on_demand)"
                " VALUES (?, 1, ?, ?, 0)",
                (key_id, sealed, ts(now)),
            )
            c.executemany(
                "INSERT INTO kms_tags (key_id, key, value) VALUES (?, ?, ?)",
                [(key_id, k, v) for k, v in (tags or {}).items()],
            )

        if conn is not None:
            insert(conn)
        else:
            with self.db.transaction() as c:
                insert(c)
        key = load_key(conn if conn is not None else self.db.read(), key_id)
        assert key is not None
        return key

    def aws_managed_key(self, account: str, region: str, alias: str = CODECOMMIT_ALIAS) -> KmsKey:
        """The AWS managed key behind `alias` (e.g. `alias/aws/codecommit`), created on first use.
        Two callers racing both end with the same key: the alias is claimed in the transaction
        that creates it."""
        existing = self.find_alias(account, region, alias)
        if existing is not None:
            key = self._load(existing.key_id)
            if key is not None:
                return key
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT key_id FROM kms_aliases WHERE account = ? AND region = ? AND name = ?",
                (account, region, alias),
            ).fetchone()
            if row is not None:
                found = load_key(conn, str(row[0]))
                if found is not None:
                    return found
            key = self.create_key(
                account,
                region,
                description=AWS_MANAGED.get(alias, ""),
                manager=AWS,
                conn=conn,
            )
            now = ts(self._clock())
            conn.execute(
                f"INSERT OR REPLACE INTO kms_aliases ({ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (alias, account, region, key.key_id, now, now),
            )
        return key

    # -- state ------------------------------------------------------------------------------

    def _set(self, key: KmsKey, **fields: object) -> KmsKey:
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self.db.transaction() as conn:
            conn.execute(
                f"UPDATE kms_keys SET {assignments} WHERE key_id = ?",
                (*fields.values(), key.key_id),
            )
            updated = load_key(conn, key.key_id)
        assert updated is not None
        return updated

    def enable(self, key: KmsKey) -> KmsKey:
        _not_pending(key)
        return self._set(key, state=ENABLED)

    def disable(self, key: KmsKey) -> KmsKey:
        _not_pending(key)
        return self._set(key, state=DISABLED)

    def schedule_deletion(self, key: KmsKey, days: int) -> KmsKey:
        _not_pending(key)
        when = self._clock() + timedelta(days=days)
        return self._set(key, state=PENDING_DELETION, deletion_date=ts(when))

    def cancel_deletion(self, key: KmsKey) -> KmsKey:
        if key.state != PENDING_DELETION:
            raise KMSInvalidStateException(f"{key.arn} is not pending deletion.")
        # AWS leaves a key whose deletion was cancelled disabled.
        return self._set(key, state=DISABLED, deletion_date=None)

    def update_description(self, key: KmsKey, description: str) -> KmsKey:
        _not_pending(key)
        return self._set(key, description=description)

    # -- rotation ---------------------------------------------------------------------------

    def enable_rotation(self, key: KmsKey, period_days: int | None) -> KmsKey:
        _usable(key)
        period = period_days or key.rotation_period_days or DEFAULT_ROTATION_DAYS
        nxt = self._clock() + timedelta(days=period)
        return self._set(key, rotation_period_days=period, next_rotation=ts(nxt))

    def disable_rotation(self, key: KmsKey) -> KmsKey:
        _usable(key)
        return self._set(key, rotation_period_days=None, next_rotation=None)

    def rotate_on_demand(self, key: KmsKey) -> KmsKey:
        _usable(key)
        if key.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS:
            raise LimitExceededException(
                f"{key.arn} has reached its limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations."
            )
        return self._rotate(key, on_demand=True)

    def _rotate(self, key: KmsKey, *, on_demand: bool) -> KmsKey:
        now = self._clock()
        with self.db.transaction() as conn:
            current = load_key(conn, key.key_id)
            assert current is not None
            version = current.current_version + 1
            _, sealed = self._box.new(key.arn, version)
            conn.execute(
                "INSERT INTO kms_key_material (key_id, version, sealed, created, on_demand)"
                " VALUES (?, ?, ?, ?, ?)",
                (key.key_id, version, sealed, ts(now), int(on_demand)),
            )
            nxt = current.next_rotation
            if not on_demand and current.rotation_period_days is not None:
                nxt = now + timedelta(days=current.rotation_period_days)
            conn.execute(
                "UPDATE kms_keys SET current_version = ?, on_demand_rotations ="
                " on_demand_rotations + ?, next_rotation = ? WHERE key_id = ?",
                (version, int(on_demand), None if nxt is None else ts(nxt), key.key_id),
            )
            rotated = load_key(conn, key.key_id)
        assert rotated is not None
        return rotated

    def versions(self, key: KmsKey) -> list[KeyVersion]:
        rows = (
            self.db.read()
            .execute(
                "SELECT version, created, on_demand FROM kms_key_material WHERE key_id = ?"
                " ORDER BY version",
                (key.key_id,),
            )
            .fetchall()
        )
        return [row_to_version(r) for r in rows]

    # -- cryptography -----------------------------------------------------------------------

    def _material_for(self, key: KmsKey, version: int) -> bytes:
        cache_key = (key.arn, version)
        with self._guard:
            cached = self._material.get(cache_key)
        if cached is not None:
            return cached
        row = (
            self.db.read()
            .execute(
                "SELECT sealed FROM kms_key_material WHERE key_id = ? AND version = ?",
                (key.key_id, version),
            )
            .fetchone()
        )
        if row is None:
            raise InvalidCiphertextException("The ciphertext is not valid.")
        material = self._box.open(key.arn, version, bytes(row[0]))
        with self._guard:
            self._material[cache_key] = material
        return material

    def _for_crypto(self, key: KmsKey) -> KmsKey:
        _usable(key)
        if key.next_rotation is not None and key.next_rotation <= self._clock():
            key = self._rotate(key, on_demand=False)
        return key

    def encrypt(
        self, key: KmsKey, plaintext: bytes, context: Mapping[str, str] | None = None
    ) -> bytes:
        key = self._for_crypto(key)
        material = self._material_for(key, key.current_version)
        return ciphertext.seal(material, key.key_id, key.current_version, plaintext, context)

    def decrypt(
        self,
        account: str,
        region: str,
        blob: bytes,
        context: Mapping[str, str] | None = None,
        expected: KmsKey | None = None,
    ) -> tuple[bytes, KmsKey]:
        """The plaintext of `blob` and the key that made it (named by the blob itself)."""
        header = ciphertext.parse_header(blob)
        if expected is not None and expected.key_id != header.key_id:
            raise IncorrectKeyException(
                "The key ID in the request does not identify a KMS key that can perform this"
                " operation."
            )
        key = self.blob_key(account, region, blob)
        _usable(key)
        material = self._material_for(key, header.version)
        return ciphertext.open_blob(material, blob, context), key

    def blob_key(self, account: str, region: str, blob: bytes) -> KmsKey:
        """The key a ciphertext blob names (for authorization before it is opened)."""
        header = ciphertext.parse_header(blob)
        key = self._load(header.key_id)
        if key is None or key.account != account or key.region != region:
            raise InvalidCiphertextException("The ciphertext is not valid.")
        return key

    def generate_data_key(
        self, key: KmsKey, length: int, context: Mapping[str, str] | None = None
    ) -> tuple[bytes, bytes]:
        """A fresh data key: (plaintext, ciphertext blob)."""
        plaintext = secrets.token_bytes(length)
        return plaintext, self.encrypt(key, plaintext, context)

    # -- aliases ----------------------------------------------------------------------------

    def create_alias(self, account: str, region: str, name: str, key: KmsKey) -> None:
        _not_pending(key)
        now = ts(self._clock())
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    f"INSERT INTO kms_aliases ({ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, account, region, key.key_id, now, now),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExistsException(
                f"An alias with the name {alias_arn(region, account, name)} already exists"
            ) from None

    def update_alias(self, account: str, region: str, name: str, key: KmsKey) -> None:
        _not_pending(key)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE kms_aliases SET key_id = ?, modified = ?"
                " WHERE account = ? AND region = ? AND name = ?",
                (key.key_id, ts(self._clock()), account, region, name),
            )
        if cur.rowcount == 0:
            raise NotFoundException(f"Alias {alias_arn(region, account, name)} is not found.")

    @staticmethod
    def alias_arn(account: str, region: str, name: str) -> str:
        return alias_arn(region, account, name)

    def delete_alias(self, account: str, region: str, name: str) -> None:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM kms_aliases WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            )
        if cur.rowcount == 0:
            raise NotFoundException(f"Alias {alias_arn(region, account, name)} is not found.")

    def list_aliases(self, account: str, region: str, key: KmsKey | None = None) -> list[Alias]:
        sql = f"SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE account = ? AND region = ?"
        params: tuple[str, ...] = (account, region)
        if key is not None:
            sql += " AND key_id = ?"
            params += (key.key_id,)
        rows = self.db.read().execute(sql + " ORDER BY name", params).fetchall()
        found = [row_to_alias(r) for r in rows]
        return [a for a in found if self._load(a.key_id) is not None]

    # -- tags -------------------------------------------------------------------------------

    def tags(self, key: KmsKey) -> dict[str, str]:
        rows = (
            self.db.read()
            .execute("SELECT key, value FROM kms_tags WHERE key_id = ? ORDER BY key", (key.key_id,))
            .fetchall()
        )
        return {str(k): str(v) for k, v in rows}

    def tag(self, key: KmsKey, tags: Mapping[str, str]) -> None:
        _not_pending(key)
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO kms_tags (key_id, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (key_id, key) DO UPDATE SET value = excluded.value",
                [(key.key_id, k, v) for k, v in tags.items()],
            )

    def untag(self, key: KmsKey, keys: list[str]) -> None:
        _not_pending(key)
        with self.db.transaction() as conn:
            conn.executemany(
                "DELETE FROM kms_tags WHERE key_id = ? AND key = ?",
                [(key.key_id, k) for k in keys],
            )


def _check_uuid(value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise NotFoundException(f"Invalid keyId '{value[:300]}'") from None
    if str(parsed) != value.lower():
        raise NotFoundException(f"Invalid keyId '{value[:300]}'")
    return str(parsed)


def _not_pending(key: KmsKey) -> None:
    if key.state == PENDING_DELETION:
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")


def _usable(key: KmsKey) -> None:
    """Cryptographic use and rotation need an enabled key (KMS's key-state table)."""
    _not_pending(key)
    if key.state == DISABLED:
        raise DisabledException(f"{key.arn} is disabled.")


def customer_managed(key: KmsKey, operation: str) -> None:
    """AWS managed keys are managed by AWS: their state, rotation and tags are not the
    caller's to change."""
    if key.manager == AWS:
        raise UnsupportedOperationException(
            f"{key.arn} is an AWS managed key; {operation} is not supported on it."
        )


def is_reserved_alias(name: str) -> bool:
    return name.startswith(AWS_ALIAS_PREFIX)
