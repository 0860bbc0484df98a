"""Who is calling: the result of authentication at any door."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    account: str
    arn: str
    user_id: str
    kind: str  # "Root" | "IAMUser" | "AssumedRole"
    access_key_id: str | None = None

    @classmethod
    def root(cls, account: str, access_key_id: str | None = None) -> Principal:
        return cls(
            account=account,
            arn=f"arn:aws:iam::{account}:root",
            user_id=account,
            kind="Root",
            access_key_id=access_key_id,
        )
