"""Long-lived IAM credentials: access keys, SSH public keys and service-specific (git)
credentials. `Keys` bundles the three stores and the lookups the doors need."""

from __future__ import annotations

import base64
import binascii
import hmac
import sqlite3
from dataclasses import dataclass

from emulator.iam.keys.access import AccessKeys
from emulator.iam.keys.common import (
    ACTIVE,
    Clock,
    UserDirectory,
    find_user,
    user_principal,
    utcnow,
)
from emulator.iam.keys.login_profiles import LoginProfiles
from emulator.iam.keys.service_credentials import CODECOMMIT, ServiceCredentials
from emulator.iam.keys.ssh import SSHKeys
from emulator.iam.principal import Principal
from emulator.kms.secrets import SecretBox
from emulator.state.db import Database

__all__ = ["Keys", "SSHKeyOwner", "count_credentials", "has_login_profile", "rename_user"]


@dataclass(frozen=True)
class SSHKeyOwner:
    """What the SSH door needs to authenticate a key id: whose it is and whether it is active."""

    account: str
    user_name: str
    public_key: str  # OpenSSH "type base64", no comment
    status: str

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


class Keys:
    def __init__(
        self, db: Database, box: SecretBox, users: UserDirectory, clock: Clock = utcnow
    ) -> None:
        self.users = users
        self.access = AccessKeys(db, box, users, clock)
        self.ssh = SSHKeys(db, users, clock)
        self.service = ServiceCredentials(db, users, clock, box)
        self.login = LoginProfiles(db, users, box, clock)

    def verify_git_credential(self, username: str, password: str) -> Principal | None:
        """The IAM user signing in to git over HTTPS with a CodeCommit service-specific
        credential (`alice-at-123456789012` + password), or None."""
        user = self.service.verify(username, password, CODECOMMIT)
        return None if user is None else user_principal(user)

    def ssh_key(self, key_id: str) -> SSHKeyOwner | None:
        key = self.ssh.find(key_id)
        if key is None:
            return None
        return SSHKeyOwner(key.account, key.user_name, key.openssh, key.status)

    def ssh_principal(self, key_id: str, key_blob: bytes) -> Principal | None:
        """The IAM user signing in to git over SSH as `key_id` with the public key `key_blob`
        (its SSH wire encoding), or None unless the key is Active, matches and its owner exists.
        Only a yes/no for keys merely offered: the door trusts it after the signature checks."""
        owner = self.ssh_key(key_id)
        if owner is None or not owner.active:
            return None
        try:
            stored = base64.b64decode(owner.public_key.split()[1], validate=True)
        except (IndexError, binascii.Error):
            return None
        if not hmac.compare_digest(stored, key_blob):
            return None
        user = find_user(self.users, owner.account, owner.user_name)
        return None if user is None else user_principal(user)


_TABLES = ("iam_access_keys", "iam_ssh_keys", "iam_service_credentials")
# What else follows a renamed user: its console password and the history of earlier ones.
_RENAMED = (*_TABLES, "iam_login_profiles", "iam_password_history")


def rename_user(conn: sqlite3.Connection, account: str, old: str, new: str) -> None:
    """Move a renamed user's credentials to its new name, inside the caller's transaction
    (UpdateUser keeps keys and credentials working, as on AWS). A service-specific
    credential keeps the ServiceUserName it was issued with."""
    for table in _RENAMED:
        try:
            conn.execute(
                f"UPDATE {table} SET user_name = ? WHERE account = ? AND user_name = ?",
                (new, account, old),
            )
        except sqlite3.OperationalError:  # no such table: that kind was never created
            pass


def count_credentials(db: Database, account: str, user_name: str) -> int:
    """Access keys, SSH public keys and service-specific credentials `user_name` still has
    (IAM refuses DeleteUser until they are gone)."""
    total = 0
    for table in _TABLES:
        try:
            (n,) = (
                db.read()
                .execute(
                    f"SELECT count(*) FROM {table} WHERE account = ? AND user_name = ?",
                    (account, user_name),
                )
                .fetchone()
            )
        except sqlite3.OperationalError:  # no such table: that kind was never created
            n = 0
        total += int(n)
    return total


def has_login_profile(db: Database, account: str, user_name: str) -> bool:
    """Whether `user_name` still has a console password (IAM refuses DeleteUser until not)."""
    try:
        row = (
            db.read()
            .execute(
                "SELECT 1 FROM iam_login_profiles WHERE account = ? AND user_name = ?",
                (account, user_name),
            )
            .fetchone()
        )
    except sqlite3.OperationalError:  # no such table: no profile was ever created
        return False
    return row is not None
