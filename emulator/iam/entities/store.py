"""Users, groups and roles of each account: create, read, update, delete, tags, membership."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from emulator.iam.entities.documents import TRUST_LIMIT, check_document, check_size
from emulator.iam.entities.model import (
    GROUP_PREFIX,
    ROLE_PREFIX,
    USER_PREFIX,
    EntityAlreadyExists,
    Group,
    InvalidInput,
    LimitExceeded,
    NoSuchEntity,
    Role,
    Tags,
    User,
    check_name,
    check_path,
    new_id,
)
from emulator.iam.entities.tags import put_tags, read_tags, remove_tags
from emulator.iam.keys import rename_user as rename_credentials
from emulator.state.db import Database

MAX_GROUPS_PER_USER = 10
MIN_SESSION, MAX_SESSION = 3600, 43200


def when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class EntityStore:
    """Rows of iam_users, iam_groups, iam_roles and what hangs off them.

    `changed` is called after every write that can change what a principal may do, so cached
    policy resolutions are dropped.
    """

    def __init__(self, db: Database, changed: Callable[[], None]) -> None:
        self.db = db
        self._changed = changed

    # -- users --------------------------------------------------------------------------------

    def _user(self, row: sqlite3.Row | tuple[object, ...]) -> User:
        uid, account, name, path, created, boundary = row
        return User(
            str(account),
            str(uid),
            str(name),
            str(path),
            when(float(created)),  # type: ignore[arg-type]
            None if boundary is None else str(boundary),
            self.tags(str(uid)),
        )

    _USER_COLS = "id, account, name, path, created, boundary_arn"

    def create_user(
        self, account: str, name: str, path: str | None = None, tags: Tags = ()
    ) -> User:
        check_name("userName", name, 64)
        path = check_path(path)
        uid = new_id(USER_PREFIX)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO iam_users (id, account, name, name_key, path, created)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (uid, account, name, name.lower(), path, time.time()),
                )
                self._put_tags(conn, uid, tags)
        except sqlite3.IntegrityError:
            raise EntityAlreadyExists(f"User with name {name} already exists.") from None
        return self.get_user(account, name)

    def find_user(self, account: str, name: str) -> User | None:
        row = (
            self.db.read()
            .execute(
                f"SELECT {self._USER_COLS} FROM iam_users WHERE account = ? AND name_key = ?",
                (account, name.lower()),
            )
            .fetchone()
        )
        return None if row is None else self._user(row)

    def get_user(self, account: str, name: str) -> User:
        user = self.find_user(account, name)
        if user is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return user

    def list_users(self, account: str, path_prefix: str = "/") -> list[User]:
        rows = (
            self.db.read()
            .execute(
                f"SELECT {self._USER_COLS} FROM iam_users WHERE account = ? AND substr(path, 1, ?)"
                " = ? ORDER BY name_key",
                (account, len(path_prefix), path_prefix),
            )
            .fetchall()
        )
        return [self._user(r) for r in rows]

    def update_user(
        self, account: str, name: str, new_name: str | None, new_path: str | None
    ) -> User:
        user = self.get_user(account, name)
        target = check_name("newUserName", new_name, 64) if new_name is not None else user.name
        path = check_path(new_path) if new_path is not None else user.path
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE iam_users SET name = ?, name_key = ?, path = ? WHERE id = ?",
                    (target, target.lower(), path, user.id),
                )
                # Access keys, SSH keys and git credentials follow the user to its new name.
                rename_credentials(conn, account, user.name, target)
        except sqlite3.IntegrityError:
            raise EntityAlreadyExists(f"User with name {target} already exists.") from None
        self._changed()
        return self.get_user(account, target)

    def delete_user_row(self, conn: sqlite3.Connection, user: User) -> None:
        conn.execute("DELETE FROM iam_users WHERE id = ?", (user.id,))
        conn.execute("DELETE FROM iam_tags WHERE entity_id = ?", (user.id,))
        conn.execute("DELETE FROM iam_inline_policies WHERE owner_id = ?", (user.id,))
        conn.execute("DELETE FROM iam_attachments WHERE owner_id = ?", (user.id,))

    def set_boundary(self, table: str, entity_id: str, arn: str | None) -> None:
        assert table in ("iam_users", "iam_roles")
        with self.db.transaction() as conn:
            conn.execute(f"UPDATE {table} SET boundary_arn = ? WHERE id = ?", (arn, entity_id))
        self._changed()

    # -- groups -------------------------------------------------------------------------------

    _GROUP_COLS = "id, account, name, path, created"

    @staticmethod
    def _group(row: tuple[object, ...]) -> Group:
        gid, account, name, path, created = row
        return Group(str(account), str(gid), str(name), str(path), when(float(created)))  # type: ignore[arg-type]

    def create_group(self, account: str, name: str, path: str | None = None) -> Group:
        check_name("groupName", name, 128)
        path = check_path(path)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO iam_groups (id, account, name, name_key, path, created)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (new_id(GROUP_PREFIX), account, name, name.lower(), path, time.time()),
                )
        except sqlite3.IntegrityError:
            raise EntityAlreadyExists(f"Group with name {name} already exists.") from None
        return self.get_group(account, name)

    def get_group(self, account: str, name: str) -> Group:
        row = (
            self.db.read()
            .execute(
                f"SELECT {self._GROUP_COLS} FROM iam_groups WHERE account = ? AND name_key = ?",
                (account, name.lower()),
            )
            .fetchone()
        )
        if row is None:
            raise NoSuchEntity(f"The group with name {name} cannot be found.")
        return self._group(row)

    def list_groups(self, account: str, path_prefix: str = "/") -> list[Group]:
        rows = (
            self.db.read()
            .execute(
                f"SELECT {self._GROUP_COLS} FROM iam_groups WHERE account = ?"
                " AND substr(path, 1, ?) = ? ORDER BY name_key",
                (account, len(path_prefix), path_prefix),
            )
            .fetchall()
        )
        return [self._group(r) for r in rows]

    def update_group(
        self, account: str, name: str, new_name: str | None, new_path: str | None
    ) -> Group:
        group = self.get_group(account, name)
        target = check_name("newGroupName", new_name, 128) if new_name is not None else group.name
        path = check_path(new_path) if new_path is not None else group.path
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE iam_groups SET name = ?, name_key = ?, path = ? WHERE id = ?",
                    (target, target.lower(), path, group.id),
                )
        except sqlite3.IntegrityError:
            raise EntityAlreadyExists(f"Group with name {target} already exists.") from None
        self._changed()
        return self.get_group(account, target)

    def group_members(self, group: Group) -> list[User]:
        rows = (
            self.db.read()
            .execute(
                "SELECT u.id, u.account, u.name, u.path, u.created, u.boundary_arn FROM iam_users u"
                " JOIN iam_group_members m ON m.user_id = u.id WHERE m.group_id = ?"
                " ORDER BY u.name_key",
                (group.id,),
            )
            .fetchall()
        )
        return [self._user(r) for r in rows]

    def groups_for_user(self, user: User) -> list[Group]:
        rows = (
            self.db.read()
            .execute(
                "SELECT g.id, g.account, g.name, g.path, g.created FROM iam_groups g"
                " JOIN iam_group_members m ON m.group_id = g.id WHERE m.user_id = ?"
                " ORDER BY m.added, g.name_key",
                (user.id,),
            )
            .fetchall()
        )
        return [self._group(r) for r in rows]

    def add_user_to_group(self, account: str, group_name: str, user_name: str) -> None:
        group = self.get_group(account, group_name)
        user = self.get_user(account, user_name)
        with self.db.transaction() as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM iam_group_members WHERE user_id = ?", (user.id,)
            ).fetchone()
            if count >= MAX_GROUPS_PER_USER:
                raise LimitExceeded(f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
            conn.execute(
                "INSERT OR IGNORE INTO iam_group_members (group_id, user_id, added)"
                " VALUES (?, ?, ?)",
                (group.id, user.id, time.time()),
            )
        self._changed()

    def remove_user_from_group(self, account: str, group_name: str, user_name: str) -> None:
        group = self.get_group(account, group_name)
        user = self.get_user(account, user_name)
        with self.db.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM iam_group_members WHERE group_id = ? AND user_id = ?",
                (group.id, user.id),
            ).rowcount
        if not gone:
            raise NoSuchEntity(
                f"The user with name {user.name} cannot be found in group {group.name}."
            )
        self._changed()

    # -- roles --------------------------------------------------------------------------------

    _ROLE_COLS = (
        "id, account, name, path, created, trust_policy, description, max_session_duration,"
        " boundary_arn"
    )

    def _role(self, row: tuple[object, ...]) -> Role:
        rid, account, name, path, created, trust, desc, max_s, boundary = row
        return Role(
            str(account),
            str(rid),
            str(name),
            str(path),
            when(float(created)),  # type: ignore[arg-type]
            str(trust),
            None if desc is None else str(desc),
            int(max_s),  # type: ignore[call-overload]
            None if boundary is None else str(boundary),
            self.tags(str(rid)),
        )

    @staticmethod
    def check_session_duration(value: int | None) -> int:
        if value is None:
            return MIN_SESSION
        if not MIN_SESSION <= value <= MAX_SESSION:
            raise InvalidInput(
                f"The specified value for maxSessionDuration is invalid: {value}. It must be"
                f" between {MIN_SESSION} and {MAX_SESSION} seconds."
            )
        return value

    @staticmethod
    def check_trust(document: str) -> None:
        check_size(document, TRUST_LIMIT, f"Cannot exceed quota for ACLSizePerRole: {TRUST_LIMIT}")
        check_document(document, "trust")

    def create_role(
        self,
        account: str,
        name: str,
        trust_policy: str,
        path: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
        tags: Tags = (),
    ) -> Role:
        check_name("roleName", name, 64)
        path = check_path(path)
        duration = self.check_session_duration(max_session_duration)
        self.check_trust(trust_policy)
        rid = new_id(ROLE_PREFIX)
        try:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO iam_roles (id, account, name, name_key, path, created,"
                    " trust_policy, description, max_session_duration)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        rid,
                        account,
                        name,
                        name.lower(),
                        path,
                        time.time(),
                        trust_policy,
                        description,
                        duration,
                    ),
                )
                self._put_tags(conn, rid, tags)
        except sqlite3.IntegrityError:
            raise EntityAlreadyExists(f"Role with name {name} already exists.") from None
        return self.get_role(account, name)

    def find_role(self, account: str, name: str) -> Role | None:
        row = (
            self.db.read()
            .execute(
                f"SELECT {self._ROLE_COLS} FROM iam_roles WHERE account = ? AND name_key = ?",
                (account, name.lower()),
            )
            .fetchone()
        )
        return None if row is None else self._role(row)

    def get_role(self, account: str, name: str) -> Role:
        role = self.find_role(account, name)
        if role is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return role

    def list_roles(self, account: str, path_prefix: str = "/") -> list[Role]:
        rows = (
            self.db.read()
            .execute(
                f"SELECT {self._ROLE_COLS} FROM iam_roles WHERE account = ?"
                " AND substr(path, 1, ?) = ? ORDER BY name_key",
                (account, len(path_prefix), path_prefix),
            )
            .fetchall()
        )
        return [self._role(r) for r in rows]

    def update_role(
        self,
        role: Role,
        *,
        trust_policy: str | None = None,
        description: str | None = None,
        max_session_duration: int | None = None,
    ) -> None:
        if trust_policy is not None:
            self.check_trust(trust_policy)
        duration = (
            self.check_session_duration(max_session_duration)
            if max_session_duration is not None
            else role.max_session_duration
        )
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE iam_roles SET trust_policy = ?, description = ?,"
                " max_session_duration = ? WHERE id = ?",
                (
                    trust_policy if trust_policy is not None else role.trust_policy,
                    description if description is not None else role.description,
                    duration,
                    role.id,
                ),
            )
        self._changed()

    # -- tags ---------------------------------------------------------------------------------

    def tags(self, entity_id: str) -> Tags:
        return read_tags(self.db.read(), entity_id)

    def _put_tags(self, conn: sqlite3.Connection, entity_id: str, tags: Tags) -> None:
        put_tags(conn, entity_id, tags)

    def tag(self, entity_id: str, tags: Tags) -> None:
        with self.db.transaction() as conn:
            put_tags(conn, entity_id, tags)
        self._changed()

    def untag(self, entity_id: str, keys: Sequence[str]) -> None:
        with self.db.transaction() as conn:
            remove_tags(conn, entity_id, keys)
        self._changed()
