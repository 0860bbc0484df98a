"""Reset: forget every account's state without a restart (`POST /_ccemu/reset`).

A test suite resets between tests instead of starting a server per test. Everything a client
made goes: every row of every table (repositories, refs, IAM, STS sessions, KMS keys, triggers,
SNS topics, events and deliveries), every repository's packs, and every in-memory cache built
from them. What start-up made stays: the `meta` table (schema version, the master key check), the
master key, the SSH host keys, the TLS certificates, the SNS signing certificate.

A reset is meant for an idle server (between tests). A request in flight while it runs may fail
or see a half-empty world, but nothing it writes survives inconsistently: the tables are emptied
in one transaction, and a push in flight either committed before it (and is then deleted) or
fails on its missing repository.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from typing import Protocol

from emulator.core import Emulator

# Tables whose rows start-up creates; kept. `sqlite_sequence` is kept so that row ids (of
# deliveries the worker may still hold) are never reused.
_KEPT_TABLES = frozenset({"meta"})


class _Clearable(Protocol):
    def clear(self) -> None: ...


def _forget(owner: object, cache: str, lock: str, after: Callable[[], None] | None = None) -> None:
    """Empty `owner.<cache>` under `owner.<lock>`. The names are checked (AttributeError), so a
    renamed cache fails the reset tests instead of silently surviving a reset."""
    items: _Clearable = getattr(owner, cache)
    guard: threading.Lock = getattr(owner, lock)
    with guard:
        items.clear()
        if after is not None:
            after()


def _tables(emu: Emulator) -> list[str]:
    rows = (
        emu.db.read()
        .execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .fetchall()
    )
    return [str(r[0]) for r in rows if str(r[0]) not in _KEPT_TABLES]


def reset(emu: Emulator) -> None:
    """Forget all state (see the module's docstring). Blocking: run it in a worker thread."""
    tables = _tables(emu)
    with emu.db.transaction() as conn:
        # Rows reference each other (refs -> repositories, ...): check the keys at commit,
        # when every table is empty, instead of ordering the deletes.
        conn.execute("PRAGMA defer_foreign_keys = ON")
        for table in tables:
            conn.execute(f'DELETE FROM "{table}"')
    repos = emu.config.data_dir / "repos"
    if repos.is_dir():
        for child in repos.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    _forget_caches(emu)


def _forget_caches(emu: Emulator) -> None:
    # Each of these is keyed by ids a new object could not reuse, so a stale entry would only
    # waste memory; they are emptied so that a reset server is indistinguishable from a new one.
    emu.pack_cache.clear()
    _forget(emu.data_keys, "_cache", "_guard")
    _forget(emu.kms, "_material", "_guard")
    _forget(emu.keys.access, "_recorded", "_lock")
    _forget(emu.keys.service, "_verified", "_lock")
    # The policy cache is generation-checked: bumping the generation also empties it.
    emu.iam._changed()
