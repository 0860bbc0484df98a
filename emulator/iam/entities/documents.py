"""Policy documents: the checks IAM makes before it stores one.

The grammar belongs to the policy engine (`emulator.iam.policy.parse_policy`, which raises
`MalformedPolicyDocument` with IAM's reason); this module adds IAM's per-entity size quotas,
whose messages differ by entity.
"""

from __future__ import annotations

from typing import Literal

from emulator.iam.entities.model import LimitExceeded
from emulator.iam.policy import parse_policy

Kind = Literal["identity", "trust", "permissions_boundary"]

# IAM's quotas count characters other than whitespace.
INLINE_LIMITS = {"user": 2048, "group": 5120, "role": 10240}
MANAGED_LIMIT = 6144
TRUST_LIMIT = 2048


def check_document(document: str, kind: Kind) -> None:
    """Raise MalformedPolicyDocument (with the engine's reason) unless `document` is valid."""
    parse_policy(document, kind)


def check_size(document: str, limit: int, message: str) -> None:
    if sum(1 for c in document if not c.isspace()) > limit:
        raise LimitExceeded(message)
