"""IAM entities as the core sees them: frozen dataclasses, datetimes, no wire shapes.

Errors are named after IAM's error codes (`NoSuchEntity`, `EntityAlreadyExists`, ...); the query
protocol door gives each the HTTP status the model lists for it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from emulator.errors import ClientError
from emulator.iam.policy import MalformedPolicyDocument as MalformedPolicyDocument

Tags = tuple[tuple[str, str], ...]

# IAM ids: a four-letter prefix naming the kind, then uppercase letters and digits, 21 in all.
USER_PREFIX = "AIDA"
GROUP_PREFIX = "AGPA"
ROLE_PREFIX = "AROA"
POLICY_PREFIX = "ANPA"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(21 - len(prefix)))


class NoSuchEntity(ClientError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(ClientError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflict(ClientError):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(ClientError):
    code = "LimitExceeded"
    status = 409


class InvalidInput(ClientError):
    code = "InvalidInput"


class PolicyNotAttachable(ClientError):
    code = "PolicyNotAttachable"


@dataclass(frozen=True)
class User:
    account: str
    id: str
    name: str
    path: str
    created: datetime
    boundary_arn: str | None = None
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user{self.path}{self.name}"


@dataclass(frozen=True)
class Group:
    account: str
    id: str
    name: str
    path: str
    created: datetime

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:group{self.path}{self.name}"


@dataclass(frozen=True)
class Role:
    account: str
    id: str
    name: str
    path: str
    created: datetime
    trust_policy: str
    description: str | None = None
    max_session_duration: int = 3600
    boundary_arn: str | None = None
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"


@dataclass(frozen=True)
class PolicyVersion:
    version_id: str  # "v1", "v2", ...
    document: str
    is_default: bool
    created: datetime


@dataclass(frozen=True)
class ManagedPolicy:
    """A managed policy: an account's own (`account` is 12 digits) or AWS's (`account` "aws")."""

    account: str
    id: str
    name: str
    path: str
    default_version: str
    created: datetime
    updated: datetime
    description: str | None = None
    attachment_count: int = 0
    boundary_count: int = 0
    tags: Tags = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:policy{self.path}{self.name}"

    @property
    def aws_managed(self) -> bool:
        return self.account == "aws"


@dataclass(frozen=True)
class InlinePolicy:
    name: str
    document: str


# -- validation (IAM's own rules, whichever door a name came through) -------------------------

_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_PATH = re.compile(r"(/[\x21-\x7e]*)?/", re.ASCII)
MAX_PATH = 512


def check_name(kind: str, name: str, max_len: int) -> str:
    if not 1 <= len(name) <= max_len or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"The specified value for {kind} is invalid. It must contain only alphanumeric"
            f" characters and/or the following: +=,.@_- and be 1 to {max_len} characters long."
        )
    return name


def check_path(path: str | None) -> str:
    """`/` by default; otherwise it begins and ends with `/` (`/division/team/`)."""
    if path is None:
        return "/"
    if len(path) > MAX_PATH or not _PATH.fullmatch(path):
        raise InvalidInput(
            "The specified value for path is invalid. It must begin and end with / and contain"
            " only alphanumeric characters and/or / characters."
        )
    return path


def check_path_prefix(prefix: str | None) -> str:
    if prefix is None:
        return "/"
    if not prefix.startswith("/") or len(prefix) > MAX_PATH:
        raise InvalidInput("The specified value for pathPrefix is invalid. It must begin with /.")
    return prefix
