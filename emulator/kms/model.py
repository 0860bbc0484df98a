"""The local KMS's domain: keys, aliases and KMS's error shapes (frozen, datetimes, no wire).

ClientError
  ├── NotFoundException          no such key or alias in this account and region
  ├── DisabledException          the key is disabled
  ├── KMSInvalidStateException   the key's state does not allow the operation
  ├── InvalidCiphertextException the blob or its encryption context does not authenticate
  ├── IncorrectKeyException      Decrypt named a key other than the blob's
  ├── InvalidArnException, InvalidAliasNameException, AlreadyExistsException,
  │   InvalidKeyUsageException, UnsupportedOperationException, LimitExceededException,
  │   TagException, ValidationException, NotAuthorizedException
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.arns import partition_for
from emulator.errors import ClientError

ENABLED = "Enabled"
DISABLED = "Disabled"
PENDING_DELETION = "PendingDeletion"

CUSTOMER = "CUSTOMER"
AWS = "AWS"

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"

# AWS managed keys are named by reserved aliases; the one CodeCommit uses by default.
AWS_ALIAS_PREFIX = "alias/aws/"
CODECOMMIT_ALIAS = "alias/aws/codecommit"


class NotFoundException(ClientError):
    code = "NotFoundException"


class DisabledException(ClientError):
    code = "DisabledException"


class KMSInvalidStateException(ClientError):
    code = "KMSInvalidStateException"


class InvalidCiphertextException(ClientError):
    code = "InvalidCiphertextException"


class IncorrectKeyException(ClientError):
    code = "IncorrectKeyException"


class InvalidArnException(ClientError):
    code = "InvalidArnException"


class InvalidAliasNameException(ClientError):
    code = "InvalidAliasNameException"


class AlreadyExistsException(ClientError):
    code = "AlreadyExistsException"


class InvalidKeyUsageException(ClientError):
    code = "InvalidKeyUsageException"


class UnsupportedOperationException(ClientError):
    code = "UnsupportedOperationException"


class LimitExceededException(ClientError):
    code = "LimitExceededException"


class TagException(ClientError):
    code = "TagException"


class ValidationException(ClientError):
    code = "ValidationException"


class NotAuthorizedException(ClientError):
    """What KMS answers for a reserved `alias/aws/` name (not a shape of its model)."""

    code = "NotAuthorizedException"


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:{partition_for(region)}:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias_name: str) -> str:
    return f"arn:{partition_for(region)}:kms:{region}:{account}:{alias_name}"


@dataclass(frozen=True)
class KmsKey:
    key_id: str  # a UUID
    account: str
    region: str
    description: str
    policy: str
    manager: str  # CUSTOMER | AWS
    state: str  # Enabled | Disabled | PendingDeletion
    created: datetime
    deletion_date: datetime | None
    rotation_period_days: int | None  # None: automatic rotation is off
    next_rotation: datetime | None
    current_version: int
    on_demand_rotations: int

    @property
    def arn(self) -> str:
        return key_arn(self.region, self.account, self.key_id)

    @property
    def enabled(self) -> bool:
        return self.state == ENABLED


@dataclass(frozen=True)
class KeyVersion:
    """One version of a key's material: rotation adds one; old ones still decrypt."""

    version: int
    created: datetime
    on_demand: bool


@dataclass(frozen=True)
class Alias:
    name: str  # alias/...
    account: str
    region: str
    key_id: str
    created: datetime
    modified: datetime

    @property
    def arn(self) -> str:
        return alias_arn(self.region, self.account, self.name)
