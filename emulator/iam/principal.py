"""Who is calling: the result of authentication at any door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    kind is "Root", "IAMUser" or "AssumedRole". For an IAM user, `name` is the user name; for an
    assumed role, `name` is the role name, `session_name` the session's name and `role_arn` the
    role's ARN (`arn` is then `arn:aws:sts::{account}:assumed-role/{role}/{session}`). `user_id`
    is what `aws:userid` holds: the account id for root, `AIDA…` for a user, `AROA…:{session}`
    for a role session.
    """

    account: str
    arn: str
    user_id: str
    kind: str
    access_key_id: str | None = None
    name: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    # Session policies passed to AssumeRole / GetSessionToken (JSON documents), if any.
    session_policies: tuple[str, ...] = ()
    expires: datetime | None = None

    @classmethod
    def root(cls, account: str, access_key_id: str | None = None) -> Principal:
        return cls(
            account=account,
            arn=f"arn:aws:iam::{account}:root",
            user_id=account,
            kind="Root",
            access_key_id=access_key_id,
        )
