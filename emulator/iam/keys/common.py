"""What the credential services share: IAM's errors, id generation, clocks, and the seam to the
IAM user directory (`emu.iam`), which owns users; credentials only refer to them by name."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from emulator.errors import ClientError
from emulator.iam.principal import Principal

Clock = Callable[[], datetime]

_ID_ALPHABET = string.ascii_uppercase + string.digits

ACTIVE = "Active"
INACTIVE = "Inactive"
STATUSES = (ACTIVE, INACTIVE)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str, length: int) -> str:
    """`prefix` followed by `length` random upper-case letters and digits (AKIA…, APKA…)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def to_epoch(when: datetime) -> float:
    return when.timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


# IAM's error codes (the wire `Code`, not the botocore shape name) and statuses, from its model.
class NoSuchEntity(ClientError):
    code = "NoSuchEntity"
    status = 404


class LimitExceeded(ClientError):
    code = "LimitExceeded"
    status = 409


class InvalidInput(ClientError):
    code = "InvalidInput"


class InvalidPublicKey(ClientError):
    code = "InvalidPublicKey"


class DuplicateSSHPublicKey(ClientError):
    code = "DuplicateSSHPublicKey"


class UnrecognizedPublicKeyEncoding(ClientError):
    code = "UnrecognizedPublicKeyEncoding"


class NotSupportedService(ClientError):
    code = "NotSupportedService"
    status = 404


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(
            f"Value '{status[:40]}' at 'status' failed to satisfy constraint: Member must satisfy"
            " enum value set: [Active, Inactive]"
        )
    return status


class IAMUser(Protocol):
    """What credentials need to know of an IAM user (the entity service's user record)."""

    @property
    def account(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def tags(self) -> Sequence[tuple[str, str]]: ...


class UserDirectory(Protocol):
    def get_user(self, account: str, name: str) -> IAMUser:
        """The user, or `NoSuchEntity` if there is none."""
        ...


def user_principal(user: IAMUser, access_key_id: str | None = None) -> Principal:
    return Principal(
        account=user.account,
        arn=user.arn,
        user_id=user.id,
        kind="IAMUser",
        access_key_id=access_key_id,
        name=user.name,
        tags=tuple(user.tags),
    )


def find_user(users: UserDirectory, account: str, name: str) -> IAMUser | None:
    """The user, or None if it does not exist (whichever service's NoSuchEntity says so)."""
    try:
        return users.get_user(account, name)
    except ClientError as exc:
        if exc.code == "NoSuchEntity":
            return None
        raise
