"""IAM users, groups, roles and policies (the core behind the IAM API)."""

from emulator.iam.entities.service import (
    IamService,
    IdentityPolicy,
    PrincipalPolicies,
)

__all__ = ["IamService", "IdentityPolicy", "PrincipalPolicies"]
