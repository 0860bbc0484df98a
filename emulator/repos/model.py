"""Domain objects of the repository service: frozen, with datetimes, no wire shapes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from emulator.arns import partition_for


@dataclass(frozen=True)
class Repository:
    id: str
    account: str
    region: str
    name: str
    description: str | None
    default_branch: str | None
    kms_key_id: str | None
    created: datetime
    modified: datetime

    @property
    def arn(self) -> str:
        return (
            f"arn:{partition_for(self.region)}:codecommit:{self.region}:{self.account}:{self.name}"
        )


@dataclass(frozen=True)
class RefUpdate:
    """One ref change of a push: `old`/`new` are hex SHAs as bytes; the zero id means absent."""

    name: bytes
    old: bytes
    new: bytes


ZERO_SHA = b"0" * 40
