"""The local KMS's tables and row mapping: keys, their material versions, aliases, tags."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime

from emulator.kms.model import Alias, KeyVersion, KmsKey

SCHEMA = """
CREATE TABLE IF NOT EXISTS kms_keys (
    key_id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    description TEXT NOT NULL,
    policy TEXT NOT NULL,
    manager TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    deletion_date REAL,
    rotation_period_days INTEGER,
    next_rotation REAL,
    current_version INTEGER NOT NULL,
    on_demand_rotations INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS kms_keys_scope ON kms_keys (account, region, created);
CREATE TABLE IF NOT EXISTS kms_key_material (
    key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    created REAL NOT NULL,
    on_demand INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE IF NOT EXISTS kms_aliases (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,
    created REAL NOT NULL,
    modified REAL NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS kms_tags (
    key_id TEXT NOT NULL REFERENCES kms_keys(key_id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key_id, key)
);
"""

KEY_COLUMNS = (
    "key_id, account, region, description, policy, manager, state, created, deletion_date,"
    " rotation_period_days, next_rotation, current_version, on_demand_rotations"
)
ALIAS_COLUMNS = "name, account, region, key_id, created, modified"


def ts(when: datetime) -> float:
    return when.timestamp()


def dt(value: object) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]


def opt_dt(value: object) -> datetime | None:
    return None if value is None else dt(value)


def row_to_key(row: Sequence[object]) -> KmsKey:
    (
        kid,
        account,
        region,
        desc,
        policy,
        manager,
        state,
        created,
        deletion,
        period,
        nxt,
        ver,
        od,
    ) = row
    return KmsKey(
        key_id=str(kid),
        account=str(account),
        region=str(region),
        description=str(desc),
        policy=str(policy),
        manager=str(manager),
        state=str(state),
        created=dt(created),
        deletion_date=opt_dt(deletion),
        rotation_period_days=None if period is None else int(period),  # type: ignore[call-overload]
        next_rotation=opt_dt(nxt),
        current_version=int(ver),  # type: ignore[call-overload]
        on_demand_rotations=int(od),  # type: ignore[call-overload]
    )


def row_to_alias(row: Sequence[object]) -> Alias:
    name, account, region, key_id, created, modified = row
    return Alias(str(name), str(account), str(region), str(key_id), dt(created), dt(modified))


def row_to_version(row: Sequence[object]) -> KeyVersion:
    version, created, on_demand = row
    return KeyVersion(int(version), dt(created), bool(on_demand))  # type: ignore[call-overload]


def load_key(conn: sqlite3.Connection, key_id: str) -> KmsKey | None:
    row = conn.execute(f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = ?", (key_id,)).fetchone()
    return None if row is None else row_to_key(row)
