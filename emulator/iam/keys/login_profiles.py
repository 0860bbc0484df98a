"""Console passwords: IAM login profiles and the account password policy.

A login profile is a user's console password (`CreateLoginProfile`); the account password policy
(`UpdateAccountPasswordPolicy`) says what a password must look like, how long it lives and how
many old ones may not come back. Only a salted scrypt hash of a password is stored, sealed under
the master key, as for service-specific credentials; a password is compared in constant time and
never logged.

`sign_in` is what the console asks: whether (account, user, password) names a user who may sign
in, and whether the password must be changed first (`PasswordResetRequired`, or an expired
password without hard expiry).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from emulator.errors import ClientError
from emulator.iam.keys.common import (
    Clock,
    IAMUser,
    NoSuchEntity,
    UserDirectory,
    find_user,
    from_epoch,
    to_epoch,
    utcnow,
)
from emulator.iam.keys.service_credentials import SCRYPT_N, SCRYPT_P, SCRYPT_R
from emulator.kms.secrets import SecretBox
from emulator.state.db import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS iam_login_profiles (
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    user_name TEXT NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    reset_required INTEGER NOT NULL,
    max_session INTEGER,
    created REAL NOT NULL,
    password_set REAL NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (account, user_name)
);
-- Hashes of a user's earlier passwords, for PasswordReusePrevention (newest first by seq).
CREATE TABLE IF NOT EXISTS iam_password_history (
    account TEXT NOT NULL,
    user_name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (account, user_name, seq)
);
CREATE TABLE IF NOT EXISTS iam_password_policies (
    account TEXT PRIMARY KEY,
    min_length INTEGER NOT NULL,
    require_symbols INTEGER NOT NULL,
    require_numbers INTEGER NOT NULL,
    require_uppercase INTEGER NOT NULL,
    require_lowercase INTEGER NOT NULL,
    allow_change INTEGER NOT NULL,
    max_age INTEGER,
    reuse_prevention INTEGER,
    hard_expiry INTEGER NOT NULL
);
"""

_HASH_BYTES = 32
_SCRYPT_MAXMEM = 64 * 1024 * 1024
# The characters IAM counts as symbols in a password policy.
SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
# Used to spend the same scrypt on an unknown user as on a known one.
_DUMMY_SALT = secrets.token_bytes(16)


class EntityAlreadyExists(ClientError):
    code = "EntityAlreadyExists"
    status = 409


class PasswordPolicyViolation(ClientError):
    code = "PasswordPolicyViolation"


class InvalidUserType(ClientError):
    code = "InvalidUserType"


class WrongPassword(ClientError):
    # IAM refuses ChangePassword with a wrong current password as an access denial.
    code = "AccessDenied"
    status = 403


@dataclass(frozen=True)
class LoginProfile:
    account: str
    user_name: str
    created: datetime
    reset_required: bool
    max_session: int | None
    password_set: datetime
    # Bumped by every change of the password or of the profile: a console session remembers
    # the version it signed in with and ends when it changes.
    version: int


@dataclass(frozen=True)
class PasswordPolicy:
    """The account password policy; the defaults are what IAM fills in for a member left out
    of `UpdateAccountPasswordPolicy`."""

    min_length: int = 6
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase: bool = False
    require_lowercase: bool = False
    allow_users_to_change: bool = False
    max_age: int | None = None  # days
    reuse_prevention: int | None = None
    hard_expiry: bool = False

    @property
    def expire_passwords(self) -> bool:
        return bool(self.max_age)

    def violations(self, password: str) -> list[str]:
        found = []
        if len(password) < self.min_length:
            found.append(f"at least {self.min_length} characters")
        if self.require_symbols and not any(c in SYMBOLS for c in password):
            found.append("a symbol")
        if self.require_numbers and not any(c.isdigit() for c in password):
            found.append("a number")
        if self.require_uppercase and not any(c in string.ascii_uppercase for c in password):
            found.append("an uppercase letter")
        if self.require_lowercase and not any(c in string.ascii_lowercase for c in password):
            found.append("a lowercase letter")
        return found


def default_policy_violations(password: str) -> list[str]:
    """AWS's default password policy, in force while the account has none: at least 8
    characters, with at least three of uppercase, lowercase, numbers and symbols."""
    kinds = (
        any(c in string.ascii_uppercase for c in password),
        any(c in string.ascii_lowercase for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    found = []
    if len(password) < 8:
        found.append("at least 8 characters")
    if sum(kinds) < 3:
        found.append("three of uppercase letters, lowercase letters, numbers and symbols")
    return found


@dataclass(frozen=True)
class SignIn:
    """A successful password check: who, and whether a new password must be set first."""

    user: IAMUser
    profile: LoginProfile
    must_change: bool


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=_SCRYPT_MAXMEM,
        dklen=_HASH_BYTES,
    )


def _aad(profile_id: str) -> bytes:
    # The profile's own id, not the user's name: a renamed user keeps its password.
    return f"iam login profile {profile_id}".encode()


_PROFILE = "account, user_name, created, reset_required, max_session, password_set, version"


def _profile(row: tuple[str, str, float, int, int | None, float, int]) -> LoginProfile:
    account, user_name, created, reset, max_session, password_set, version = row
    return LoginProfile(
        account,
        user_name,
        from_epoch(created),
        bool(reset),
        max_session,
        from_epoch(password_set),
        version,
    )


class LoginProfiles:
    def __init__(
        self, db: Database, users: UserDirectory, box: SecretBox, clock: Clock = utcnow
    ) -> None:
        self._db = db
        self._users = users
        self._box = box
        self._clock = clock
        db.ensure_schema(SCHEMA)

    # -- the password policy ------------------------------------------------------------------

    def find_policy(self, account: str) -> PasswordPolicy | None:
        row = (
            self._db.read()
            .execute(
                "SELECT min_length, require_symbols, require_numbers, require_uppercase,"
                " require_lowercase, allow_change, max_age, reuse_prevention, hard_expiry"
                " FROM iam_password_policies WHERE account = ?",
                (account,),
            )
            .fetchone()
        )
        if row is None:
            return None
        flags = [bool(v) for v in row[1:6]]
        return PasswordPolicy(
            min_length=row[0],
            require_symbols=flags[0],
            require_numbers=flags[1],
            require_uppercase=flags[2],
            require_lowercase=flags[3],
            allow_users_to_change=flags[4],
            max_age=row[6],
            reuse_prevention=row[7],
            hard_expiry=bool(row[8]),
        )

    def get_policy(self, account: str) -> PasswordPolicy:
        policy = self.find_policy(account)
        if policy is None:
            raise NoSuchEntity(f"The Password Policy with domain name {account} cannot be found.")
        return policy

    def put_policy(self, account: str, policy: PasswordPolicy) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO iam_password_policies (account, min_length,"
                " require_symbols, require_numbers, require_uppercase, require_lowercase,"
                " allow_change, max_age, reuse_prevention, hard_expiry)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account,
                    policy.min_length,
                    policy.require_symbols,
                    policy.require_numbers,
                    policy.require_uppercase,
                    policy.require_lowercase,
                    policy.allow_users_to_change,
                    policy.max_age,
                    policy.reuse_prevention,
                    policy.hard_expiry,
                ),
            )

    def delete_policy(self, account: str) -> None:
        self.get_policy(account)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM iam_password_policies WHERE account = ?", (account,))

    def check_password(self, account: str, password: str) -> None:
        policy = self.find_policy(account)
        found = (
            default_policy_violations(password) if policy is None else policy.violations(password)
        )
        if found:
            raise PasswordPolicyViolation(
                "Password does not conform to the account password policy."
            )

    # -- login profiles -----------------------------------------------------------------------

    def find(self, account: str, user_name: str) -> LoginProfile | None:
        row = (
            self._db.read()
            .execute(
                f"SELECT {_PROFILE} FROM iam_login_profiles WHERE account = ? AND user_name = ?",
                (account, user_name),
            )
            .fetchone()
        )
        return None if row is None else _profile(row)

    def get(self, account: str, user_name: str) -> LoginProfile:
        user = self._users.get_user(account, user_name)
        profile = self.find(account, user.name)
        if profile is None:
            raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")
        return profile

    def create(
        self,
        account: str,
        user_name: str,
        password: str,
        reset_required: bool = False,
        max_session: int | None = None,
    ) -> LoginProfile:
        user = self._users.get_user(account, user_name)
        self.check_password(account, password)
        now = to_epoch(self._clock())
        salt = secrets.token_bytes(16)
        profile_id = secrets.token_hex(16)
        digest = self._box.seal(_hash(password, salt), _aad(profile_id))
        with self._db.transaction() as conn:
            found = conn.execute(
                "SELECT 1 FROM iam_login_profiles WHERE account = ? AND user_name = ?",
                (account, user.name),
            ).fetchone()
            if found is not None:
                raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
            conn.execute(
                "INSERT INTO iam_login_profiles (id, account, user_name, salt, hash,"
                " reset_required, max_session, created, password_set, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    profile_id,
                    account,
                    user.name,
                    salt,
                    digest,
                    reset_required,
                    max_session,
                    now,
                    now,
                ),
            )
        return self.get(account, user.name)

    def update(
        self,
        account: str,
        user_name: str,
        password: str | None = None,
        reset_required: bool | None = None,
        max_session: int | None = None,
        reset_max_session: bool = False,
    ) -> LoginProfile:
        profile = self.get(account, user_name)
        if password is not None:
            self.check_password(account, password)
            self._set_password(profile, password)
        with self._db.transaction() as conn:
            if reset_required is not None:
                conn.execute(
                    "UPDATE iam_login_profiles SET reset_required = ?, version = version + 1"
                    " WHERE account = ? AND user_name = ?",
                    (reset_required, account, profile.user_name),
                )
            if max_session is not None or reset_max_session:
                conn.execute(
                    "UPDATE iam_login_profiles SET max_session = ?"
                    " WHERE account = ? AND user_name = ?",
                    (None if reset_max_session else max_session, account, profile.user_name),
                )
        return self.get(account, profile.user_name)

    def delete(self, account: str, user_name: str) -> None:
        profile = self.get(account, user_name)
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM iam_login_profiles WHERE account = ? AND user_name = ?",
                (account, profile.user_name),
            )
            conn.execute(
                "DELETE FROM iam_password_history WHERE account = ? AND user_name = ?",
                (account, profile.user_name),
            )

    def change_password(
        self, account: str, user_name: str, old_password: str, new_password: str
    ) -> LoginProfile:
        """The signed-in user sets a new password (ChangePassword): the old one must match,
        the new one must satisfy the policy and not be one of the last it forbids reusing."""
        profile = self.get(account, user_name)
        if not self._matches(account, profile.user_name, old_password):
            raise WrongPassword("The old password is incorrect.")
        self.check_password(account, new_password)
        self._set_password(profile, new_password)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE iam_login_profiles SET reset_required = 0"
                " WHERE account = ? AND user_name = ?",
                (account, profile.user_name),
            )
        return self.get(account, profile.user_name)

    def sign_in(self, account: str, user_name: str, password: str) -> SignIn | None:
        """The user whose console password this is, or None: the same answer and about the
        same time whether the user, its profile or the password was wrong."""
        user = find_user(self._users, account, user_name) if user_name else None
        profile = None if user is None else self.find(account, user.name)
        if user is None or profile is None:
            _hash(password, _DUMMY_SALT)
            return None
        if not self._matches(account, user.name, password):
            return None
        policy = self.find_policy(account)
        expired = False
        if policy is not None and policy.max_age:
            expired = self._clock() - profile.password_set > timedelta(days=policy.max_age)
        if expired and policy is not None and policy.hard_expiry:
            return None  # only an administrator can set a new password now
        return SignIn(user, profile, profile.reset_required or expired)

    # -- internals ----------------------------------------------------------------------------

    def _matches(self, account: str, user_name: str, password: str) -> bool:
        row = (
            self._db.read()
            .execute(
                "SELECT id, salt, hash FROM iam_login_profiles WHERE account = ? AND user_name = ?",
                (account, user_name),
            )
            .fetchone()
        )
        if row is None:
            _hash(password, _DUMMY_SALT)
            return False
        salt, sealed = bytes(row[1]), bytes(row[2])
        want = self._box.open(sealed, _aad(row[0]))
        return hmac.compare_digest(_hash(password, salt), want)

    def _set_password(self, profile: LoginProfile, password: str) -> None:
        account, user_name = profile.account, profile.user_name
        policy = self.find_policy(account)
        keep = (policy.reuse_prevention or 0) if policy is not None else 0
        (profile_id,) = (
            self._db.read()
            .execute(
                "SELECT id FROM iam_login_profiles WHERE account = ? AND user_name = ?",
                (account, user_name),
            )
            .fetchone()
        )
        if keep:
            rows = (
                self._db.read()
                .execute(
                    "SELECT salt, hash FROM iam_login_profiles"
                    " WHERE account = ? AND user_name = ?"
                    " UNION ALL SELECT salt, hash FROM (SELECT salt, hash FROM"
                    " iam_password_history WHERE account = ? AND user_name = ?"
                    " ORDER BY seq DESC LIMIT ?)",
                    (account, user_name, account, user_name, keep - 1),
                )
                .fetchall()
            )
            for salt, sealed in rows:
                if hmac.compare_digest(
                    _hash(password, bytes(salt)),
                    self._box.open(bytes(sealed), _aad(profile_id)),
                ):
                    raise PasswordPolicyViolation(
                        "Password does not conform to the account password policy."
                    )
        salt = secrets.token_bytes(16)
        digest = self._box.seal(_hash(password, salt), _aad(profile_id))
        now = to_epoch(self._clock())
        with self._db.transaction() as conn:
            old = conn.execute(
                "SELECT salt, hash FROM iam_login_profiles WHERE account = ? AND user_name = ?",
                (account, user_name),
            ).fetchone()
            if old is not None:
                (seq,) = conn.execute(
                    "SELECT coalesce(max(seq), 0) + 1 FROM iam_password_history"
                    " WHERE account = ? AND user_name = ?",
                    (account, user_name),
                ).fetchone()
                conn.execute(
                    "INSERT INTO iam_password_history (account, user_name, seq, salt, hash)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (account, user_name, seq, old[0], old[1]),
                )
                # IAM remembers at most 24 earlier passwords.
                conn.execute(
                    "DELETE FROM iam_password_history WHERE account = ? AND user_name = ?"
                    " AND seq <= ?",
                    (account, user_name, seq - 24),
                )
            conn.execute(
                "UPDATE iam_login_profiles SET salt = ?, hash = ?, password_set = ?,"
                " version = version + 1 WHERE account = ? AND user_name = ?",
                (salt, digest, now, account, user_name),
            )


def with_defaults(**members: object) -> PasswordPolicy:
    """A policy from `UpdateAccountPasswordPolicy`'s members: each one left out takes its
    default value again, as IAM does."""
    given = {k: v for k, v in members.items() if v is not None}
    return replace(PasswordPolicy(), **given)  # type: ignore[arg-type]
