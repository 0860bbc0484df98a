"""Tags of users, roles and managed policies: at most 50 per entity, keys unique regardless
of case (IAM keeps the latest spelling), listed in the order they were first added."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from emulator.iam.entities.model import InvalidInput, LimitExceeded, Tags

MAX_TAGS = 50


def read_tags(conn: sqlite3.Connection, entity_id: str) -> Tags:
    rows = conn.execute(
        "SELECT key, value FROM iam_tags WHERE entity_id = ? ORDER BY seq", (entity_id,)
    ).fetchall()
    return tuple((str(k), str(v)) for k, v in rows)


def put_tags(conn: sqlite3.Connection, entity_id: str, tags: Tags) -> None:
    if not tags:
        return
    keys = [k.lower() for k, _ in tags]
    if len(set(keys)) != len(keys):
        raise InvalidInput(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive."
        )
    (seq,) = conn.execute(
        "SELECT COALESCE(MAX(seq), 0) FROM iam_tags WHERE entity_id = ?", (entity_id,)
    ).fetchone()
    for i, (key, value) in enumerate(tags, seq + 1):
        conn.execute(
            "INSERT INTO iam_tags (entity_id, key, key_lower, value, seq)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity_id, key_lower)"
            " DO UPDATE SET key = excluded.key, value = excluded.value",
            (entity_id, key, key.lower(), value, i),
        )
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM iam_tags WHERE entity_id = ?", (entity_id,)
    ).fetchone()
    if count > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerEntity: {MAX_TAGS}")


def remove_tags(conn: sqlite3.Connection, entity_id: str, keys: Sequence[str]) -> None:
    for key in keys:
        conn.execute(
            "DELETE FROM iam_tags WHERE entity_id = ? AND key_lower = ?",
            (entity_id, key.lower()),
        )
