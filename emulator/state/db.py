"""SQLite (WAL) state: one database file, one connection per thread, explicit transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from emulator.datadir import create_private_file

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS repositories (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    default_branch TEXT,
    kms_key_id TEXT,
    created REAL NOT NULL,
    modified REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS repositories_name
    ON repositories (account, region, name);
CREATE TABLE IF NOT EXISTS repository_tags (
    repo_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (repo_id, key)
);
CREATE TABLE IF NOT EXISTS refs (
    repo_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name BLOB NOT NULL,
    sha BLOB NOT NULL,
    PRIMARY KEY (repo_id, name)
);
"""


class Database:
    """Thread-safe access to the state database.

    Each thread gets its own connection (sqlite3 connections must not be shared across threads
    while in use). Writers use `BEGIN IMMEDIATE` so a compare-and-swap reads and writes under
    the same lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Private whatever the umask; SQLite gives its WAL and -shm files the database's mode.
        create_private_file(path)
        conn = self.connection()
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )

    def ensure_schema(self, script: str) -> None:
        """Create a service's tables if they do not exist yet (each service owns its DDL)."""
        self.connection().executescript(script)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; commits on success, rolls back on any exception."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read(self) -> sqlite3.Connection:
        """A connection for autocommit reads (each statement sees a consistent snapshot)."""
        return self.connection()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
