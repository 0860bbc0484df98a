"""IAM's policy size quotas (IAM and AWS STS quotas page, "IAM policy size")."""

from __future__ import annotations

from enum import IntEnum

from emulator.iam.policy.errors import PolicySizeExceeded


class SizeLimit(IntEnum):
    """Characters a document may hold, by where it is stored. The inline quotas are aggregate per
    identity (all of a user's inline policies together); the caller sums when it has to."""

    USER_INLINE = 2048
    GROUP_INLINE = 5120
    ROLE_INLINE = 10240
    MANAGED = 6144
    TRUST = 2048
    # AssumeRole's Policy parameter: 2048 characters of plain text.
    SESSION = 2048


def policy_size(text: str, *, count_whitespace: bool = False) -> int:
    """The size IAM charges against a quota. "IAM doesn't count white space when calculating the
    size of a policy against these quotas" (IAM quotas page)."""
    if count_whitespace:
        return len(text)
    return sum(1 for ch in text if not ch.isspace())


def check_policy_size(text: str, limit: int, *, count_whitespace: bool = False) -> None:
    """Raise `LimitExceeded` when `text` is over `limit` (one of `SizeLimit`)."""
    if policy_size(text, count_whitespace=count_whitespace) > limit:
        raise PolicySizeExceeded(f"Cannot exceed quota for PolicySize: {int(limit)}")
