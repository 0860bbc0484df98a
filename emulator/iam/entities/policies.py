"""Inline policies of users, groups and roles; customer managed policies and their versions;
attachments. AWS managed policies are data (`emulator.iam.managed_policies`), attachable in every
account."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable

from emulator.iam.entities.documents import (
    INLINE_LIMITS,
    MANAGED_LIMIT,
    check_document,
    check_size,
)
from emulator.iam.entities.model import (
    POLICY_PREFIX,
    DeleteConflict,
    EntityAlreadyExists,
    InlinePolicy,
    InvalidInput,
    LimitExceeded,
    ManagedPolicy,
    NoSuchEntity,
    PolicyVersion,
    Tags,
    check_name,
    check_path,
    new_id,
)
from emulator.iam.entities.store import EntityStore, when
from emulator.iam.managed_policies import AWS_MANAGED, BY_ARN
from emulator.state.db import Database

MAX_VERSIONS = 5
MAX_ATTACHED = 10
_QUOTA = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}
_POLICY_ARN = re.compile(r"arn:aws:iam::(\d{12}|aws):policy(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]+)")
_VERSION = re.compile(r"v[1-9][0-9]*")


class PolicyStore:
    def __init__(self, db: Database, entities: EntityStore, changed: Callable[[], None]) -> None:
        self.db = db
        self.entities = entities
        self._changed = changed

    # -- inline -------------------------------------------------------------------------------

    def put_inline(
        self, kind: str, owner_id: str, owner_name: str, name: str, document: str
    ) -> None:
        check_name("policyName", name, 128)
        limit = INLINE_LIMITS[kind]
        check_size(
            document,
            limit,
            f"Maximum policy size of {limit} bytes exceeded for {kind} {owner_name}",
        )
        check_document(document, "identity")
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO iam_inline_policies (owner_id, name, document) VALUES (?, ?, ?)"
                " ON CONFLICT (owner_id, name) DO UPDATE SET document = excluded.document",
                (owner_id, name, document),
            )
        self._changed()

    def get_inline(self, kind: str, owner_id: str, owner_name: str, name: str) -> InlinePolicy:
        row = (
            self.db.read()
            .execute(
                "SELECT name, document FROM iam_inline_policies WHERE owner_id = ? AND name = ?",
                (owner_id, name),
            )
            .fetchone()
        )
        if row is None:
            raise NoSuchEntity(f"The {kind} policy with name {name} cannot be found.")
        return InlinePolicy(str(row[0]), str(row[1]))

    def delete_inline(self, kind: str, owner_id: str, name: str) -> None:
        with self.db.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM iam_inline_policies WHERE owner_id = ? AND name = ?",
                (owner_id, name),
            ).rowcount
        if not gone:
            raise NoSuchEntity(f"The {kind} policy with name {name} cannot be found.")
        self._changed()

    def inline(self, owner_id: str) -> list[InlinePolicy]:
        rows = (
            self.db.read()
            .execute(
                "SELECT name, document FROM iam_inline_policies WHERE owner_id = ? ORDER BY name",
                (owner_id,),
            )
            .fetchall()
        )
        return [InlinePolicy(str(n), str(d)) for n, d in rows]

    # -- managed ------------------------------------------------------------------------------

    _COLS = "id, account, name, path, default_version, created, updated, description"

    def _counts(self, account: str, arn: str) -> tuple[int, int]:
        conn = self.db.read()
        (attached,) = conn.execute(
            "SELECT COUNT(*) FROM iam_attachments WHERE account = ? AND policy_arn = ?",
            (account, arn),
        ).fetchone()
        (bounds,) = conn.execute(
            "SELECT (SELECT COUNT(*) FROM iam_users WHERE account = ? AND boundary_arn = ?)"
            " + (SELECT COUNT(*) FROM iam_roles WHERE account = ? AND boundary_arn = ?)",
            (account, arn, account, arn),
        ).fetchone()
        return int(attached), int(bounds)

    def _managed(self, row: tuple[object, ...]) -> ManagedPolicy:
        pid, account, name, path, default, created, updated, desc = row
        arn = f"arn:aws:iam::{account}:policy{path}{name}"
        attached, bounds = self._counts(str(account), arn)
        return ManagedPolicy(
            str(account),
            str(pid),
            str(name),
            str(path),
            str(default),
            when(float(created)),  # type: ignore[arg-type]
            when(float(updated)),  # type: ignore[arg-type]
            None if desc is None else str(desc),
            attached,
            bounds,
            self.entities.tags(str(pid)),
        )

    def _aws(self, account: str, arn: str) -> ManagedPolicy:
        p = BY_ARN[arn]
        attached, bounds = self._counts(account, arn)
        return ManagedPolicy(
            "aws",
            p.id,
            p.name,
            "/",
            p.version,
            p.created,
            p.updated,
            p.description,
            attached,
            bounds,
        )

    def create_policy(
        self,
        account: str,
        name: str,
        document: str,
        path: str | None = None,
        description: str | None = None,
        tags: Tags = (),
    ) -> ManagedPolicy:
        check_name("policyName", name, 128)
        path = check_path(path)
        check_size(document, MANAGED_LIMIT, f"Cannot exceed quota for PolicySize: {MANAGED_LIMIT}")
        check_document(document, "identity")
        pid, now = new_id(POLICY_PREFIX), time.time()
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO iam_policies (id, account, name, name_key, path, description,"
                    " default_version, next_version, created, updated)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'v1', 2, ?, ?)",
                    (pid, account, name, name.lower(), path, description, now, now),
                )
                conn.execute(
                    "INSERT INTO iam_policy_versions (policy_id, version_id, document, created)"
                    " VALUES (?, 'v1', ?, ?)",
                    (pid, document, now),
                )
                self.entities._put_tags(conn, pid, tags)
        except sqlite3.IntegrityError:
            raise EntityAlreadyExists(
                f"A policy called {name} already exists. Duplicate names are not allowed."
            ) from None
        return self.get_policy(account, f"arn:aws:iam::{account}:policy{path}{name}")

    def get_policy(self, account: str, arn: str) -> ManagedPolicy:
        """A policy `account` can see: its own or an AWS managed one."""
        missing = NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        m = _POLICY_ARN.fullmatch(arn)
        if m is None:
            raise InvalidInput(f"ARN {arn} is not valid.")
        owner, path, name = m.groups()
        if owner == "aws":
            if arn not in BY_ARN:
                raise missing
            return self._aws(account, arn)
        if owner != account:
            raise missing
        row = (
            self.db.read()
            .execute(
                f"SELECT {self._COLS} FROM iam_policies WHERE account = ? AND name_key = ?"
                " AND path = ?",
                (account, name.lower(), path),
            )
            .fetchone()
        )
        if row is None or str(row[2]) != name:
            raise missing
        return self._managed(row)

    def list_policies(self, account: str) -> list[ManagedPolicy]:
        rows = (
            self.db.read()
            .execute(f"SELECT {self._COLS} FROM iam_policies WHERE account = ?", (account,))
            .fetchall()
        )
        found = [self._aws(account, p.arn) for p in AWS_MANAGED]
        found += [self._managed(r) for r in rows]
        return sorted(found, key=lambda p: (p.name.lower(), p.account))

    def versions(self, account: str, arn: str) -> list[PolicyVersion]:
        policy = self.get_policy(account, arn)
        if policy.aws_managed:
            p = BY_ARN[arn]
            return [PolicyVersion(p.version, p.document, True, p.updated)]
        rows = (
            self.db.read()
            .execute(
                "SELECT version_id, document, created FROM iam_policy_versions"
                " WHERE policy_id = ? ORDER BY created DESC, version_id DESC",
                (policy.id,),
            )
            .fetchall()
        )
        return [
            PolicyVersion(str(v), str(d), str(v) == policy.default_version, when(float(c)))
            for v, d, c in rows
        ]

    def get_version(self, account: str, arn: str, version_id: str) -> PolicyVersion:
        for version in self.versions(account, arn):
            if version.version_id == version_id:
                return version
        raise NoSuchEntity(
            f"Policy {arn} version {version_id} does not exist or is not attachable."
        )

    def default_document(self, account: str, arn: str) -> str:
        return next(v.document for v in self.versions(account, arn) if v.is_default)

    def _own(self, account: str, arn: str) -> ManagedPolicy:
        policy = self.get_policy(account, arn)
        if policy.aws_managed:
            raise InvalidInput(f"Cannot modify an AWS managed policy: {arn}")
        return policy

    def create_version(
        self, account: str, arn: str, document: str, set_as_default: bool
    ) -> PolicyVersion:
        policy = self._own(account, arn)
        check_size(document, MANAGED_LIMIT, f"Cannot exceed quota for PolicySize: {MANAGED_LIMIT}")
        check_document(document, "identity")
        now = time.time()
        with self.db.transaction() as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM iam_policy_versions WHERE policy_id = ?", (policy.id,)
            ).fetchone()
            if count >= MAX_VERSIONS:
                raise LimitExceeded(
                    f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create"
                    " a new version, you must delete an existing version."
                )
            (number,) = conn.execute(
                "SELECT next_version FROM iam_policies WHERE id = ?", (policy.id,)
            ).fetchone()
            version = f"v{number}"
            conn.execute(
                "INSERT INTO iam_policy_versions (policy_id, version_id, document, created)"
                " VALUES (?, ?, ?, ?)",
                (policy.id, version, document, now),
            )
            conn.execute(
                "UPDATE iam_policies SET next_version = next_version + 1, updated = ?,"
                " default_version = CASE WHEN ? THEN ? ELSE default_version END WHERE id = ?",
                (now, set_as_default, version, policy.id),
            )
        self._changed()
        return PolicyVersion(version, document, set_as_default, when(now))

    def set_default_version(self, account: str, arn: str, version_id: str) -> None:
        policy = self._own(account, arn)
        if not _VERSION.fullmatch(version_id):
            raise InvalidInput(f"Invalid version id: {version_id}")
        self.get_version(account, arn, version_id)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE iam_policies SET default_version = ?, updated = ? WHERE id = ?",
                (version_id, time.time(), policy.id),
            )
        self._changed()

    def delete_version(self, account: str, arn: str, version_id: str) -> None:
        policy = self._own(account, arn)
        if version_id == policy.default_version:
            raise DeleteConflict("Cannot delete the default version of a policy.")
        with self.db.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM iam_policy_versions WHERE policy_id = ? AND version_id = ?",
                (policy.id, version_id),
            ).rowcount
        if not gone:
            raise NoSuchEntity(
                f"Policy {arn} version {version_id} does not exist or is not attachable."
            )

    def delete_policy(self, account: str, arn: str) -> None:
        policy = self._own(account, arn)
        if policy.attachment_count or policy.boundary_count:
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        if len(self.versions(account, arn)) > 1:
            raise DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must"
                " delete the policy's versions. The default version is deleted with the policy."
            )
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM iam_policies WHERE id = ?", (policy.id,))
            conn.execute("DELETE FROM iam_tags WHERE entity_id = ?", (policy.id,))
        self._changed()

    # -- attachments --------------------------------------------------------------------------

    def attach(self, account: str, kind: str, owner_id: str, arn: str) -> None:
        self.get_policy(account, arn)
        with self.db.transaction() as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM iam_attachments WHERE owner_id = ?", (owner_id,)
            ).fetchone()
            exists = conn.execute(
                "SELECT 1 FROM iam_attachments WHERE owner_id = ? AND policy_arn = ?",
                (owner_id, arn),
            ).fetchone()
            if exists:
                return
            if count >= MAX_ATTACHED:
                raise LimitExceeded(f"Cannot exceed quota for {_QUOTA[kind]}: {MAX_ATTACHED}")
            conn.execute(
                "INSERT INTO iam_attachments (owner_id, owner_kind, account, policy_arn, seq)"
                " VALUES (?, ?, ?, ?, ?)",
                (owner_id, kind, account, arn, time.time_ns()),
            )
        self._changed()

    def detach(self, account: str, owner_id: str, arn: str) -> None:
        self.get_policy(account, arn)
        with self.db.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM iam_attachments WHERE owner_id = ? AND policy_arn = ?",
                (owner_id, arn),
            ).rowcount
        if not gone:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        self._changed()

    def attached(self, owner_id: str) -> list[str]:
        rows = (
            self.db.read()
            .execute(
                "SELECT policy_arn FROM iam_attachments WHERE owner_id = ? ORDER BY seq",
                (owner_id,),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def attached_to(self, account: str, arn: str) -> list[tuple[str, str]]:
        """(kind, owner id) of every user, group and role `arn` is attached to in `account`."""
        rows = (
            self.db.read()
            .execute(
                "SELECT owner_kind, owner_id FROM iam_attachments WHERE account = ?"
                " AND policy_arn = ? ORDER BY seq",
                (account, arn),
            )
            .fetchall()
        )
        return [(str(k), str(o)) for k, o in rows]
