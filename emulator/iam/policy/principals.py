"""The Principal / NotPrincipal element of resource-based and trust policies, and who it names.

How a statement names the caller matters to the evaluation logic, so a match says how:
  * "anyone"    — `"*"` or `{"AWS": "*"}`
  * "principal" — the caller's own ARN (an IAM user, an assumed-role session ARN, a service)
  * "role"      — the role of an assumed-role session (`arn:aws:iam::...:role/Name`)
  * "account"   — the caller's account (`"123456789012"` or `arn:aws:iam::123456789012:root`):
                  the account delegates to its administrators, whose identity-based policies must
                  then allow the request too (IAM User Guide, "Specifying a principal").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Via = Literal["anyone", "principal", "role", "account"]
_RANK: dict[Via, int] = {"principal": 3, "anyone": 2, "role": 1, "account": 0}

_ACCOUNT = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:[\w-]+:iam::(\d{12}):root$")
_AWS_ARN = re.compile(r"^arn:[\w-]+:(iam|sts)::\d{12}:.+$")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


class PrincipalLike(Protocol):
    """What the evaluator reads of a caller; `emulator.iam.principal.Principal` is one.

    kind is "Root", "IAMUser", "AssumedRole", "FederatedUser", or, for a service or a federated
    web identity calling AssumeRole, "Service" / "Federated" with `arn` the service name
    ("codebuild.amazonaws.com") or the identity provider's ARN.
    """

    @property
    def arn(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def role_arn(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A parsed Principal element. `anyone` is "*"; the sets hold the values of each type."""

    anyone: bool = False
    arns: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()
    canonical: frozenset[str] = frozenset()

    def match(self, principal: PrincipalLike) -> Via | None:
        if self.anyone:
            return "anyone"
        kind = principal.kind
        if kind == "Service":
            return "principal" if principal.arn in self.services else None
        if kind == "Federated":
            return "principal" if principal.arn in self.federated else None
        if principal.arn in self.arns:
            return "principal"
        if principal.role_arn is not None and principal.role_arn in self.arns:
            return "role"
        if principal.account in self.accounts:
            return "account"
        return None


def best(a: Via | None, b: Via | None) -> Via | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if _RANK[a] >= _RANK[b] else b


def parse_principal(element: object) -> PrincipalSpec | str:
    """The spec, or the reason the element is malformed."""
    if element == "*":
        return PrincipalSpec(anyone=True)
    if not isinstance(element, Mapping) or not element:
        return "Invalid principal in policy"
    arns: set[str] = set()
    accounts: set[str] = set()
    by_type: dict[str, set[str]] = {t: set() for t in PRINCIPAL_TYPES}
    for key, value in element.items():
        if key not in PRINCIPAL_TYPES:
            return f'Invalid principal in policy: "{key}"'
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, Sequence) or not values:
            return "Invalid principal in policy"
        for v in values:
            if not isinstance(v, str) or not v:
                return "Invalid principal in policy"
            if key != "AWS":
                by_type[key].add(v)
            elif v == "*":
                return PrincipalSpec(anyone=True)
            elif _ACCOUNT.match(v):
                accounts.add(v)
            elif (root := _ROOT.match(v)) is not None:
                accounts.add(root.group(1))
            elif _AWS_ARN.match(v):
                arns.add(v)
            else:
                return f'Invalid principal in policy: "AWS":"{v}"'
    return PrincipalSpec(
        arns=frozenset(arns),
        accounts=frozenset(accounts),
        services=frozenset(by_type["Service"]),
        federated=frozenset(by_type["Federated"]),
        canonical=frozenset(by_type["CanonicalUser"]),
    )
