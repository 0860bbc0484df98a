"""The request an evaluation decides, and the global condition keys a door can fill in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from emulator.iam.policy.principals import PrincipalLike
from emulator.iam.principal import Principal

Context = Mapping[str, str | Sequence[str]]

_PRINCIPAL_TYPE = {
    "Root": "Account",
    "IAMUser": "User",
    "AssumedRole": "AssumedRole",
    "FederatedUser": "FederatedUser",
}


def resource_account(resource: str) -> str | None:
    """The account field of an ARN (`arn:partition:service:region:account:resource`), if any."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[4]:
        return parts[4]
    return None


@dataclass(frozen=True)
class Request:
    """One request to decide.

    `resource_account` is the account that owns the resource (and its resource-based or trust
    policy); when None it is the ARN's account field, or the caller's account for ARNs without
    one (S3 buckets). `context` holds the request's condition keys: a string for a single-valued
    key, a sequence for a multivalued one; an absent key is "not present". Policy variables are
    resolved from the context too, so fill it with `global_context(...)` first.
    """

    principal: PrincipalLike
    action: str
    resource: str
    resource_account: str | None = None
    context: Context = field(default_factory=dict)

    @cached_property
    def owner(self) -> str:
        if self.resource_account:
            return self.resource_account
        return resource_account(self.resource) or self.principal.account

    @cached_property
    def _values(self) -> dict[str, tuple[str, ...]]:
        # Condition keys are case-insensitive; values keep their case.
        return {
            k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in self.context.items()
        }

    def lookup(self, key_lc: str) -> tuple[str, ...] | None:
        return self._values.get(key_lc)


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def global_context(
    principal: Principal,
    *,
    source_ip: str | None = None,
    secure_transport: bool | None = None,
    now: datetime | None = None,
    region: str | None = None,
    token_issue_time: datetime | None = None,
) -> dict[str, str | list[str]]:
    """The global condition keys ccemu knows for a request by `principal`.

    Follows the IAM global-condition-keys reference: `aws:username` only for IAM users;
    `aws:PrincipalArn` is the role's ARN for an assumed-role session; `aws:MultiFactorAuthPresent`
    is present ("false") only for temporary credentials — for long-term access keys AWS leaves
    the key out, which is why its documentation recommends `BoolIfExists` for MFA checks.
    """
    ctx: dict[str, str | list[str]] = {
        "aws:userid": principal.user_id,
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalArn": principal.role_arn if principal.kind == "AssumedRole"
        and principal.role_arn else principal.arn,
        "aws:PrincipalIsAWSService": "false",
    }  # fmt: skip
    if principal.kind in _PRINCIPAL_TYPE:
        ctx["aws:PrincipalType"] = _PRINCIPAL_TYPE[principal.kind]
    if principal.kind == "IAMUser" and principal.name:
        ctx["aws:username"] = principal.name
    for key, value in principal.tags:
        ctx[f"aws:PrincipalTag/{key}"] = value
    temporary = principal.kind == "AssumedRole" or (principal.access_key_id or "").startswith(
        "ASIA"
    )
    if temporary:
        ctx["aws:MultiFactorAuthPresent"] = "false"
        if token_issue_time is not None:
            ctx["aws:TokenIssueTime"] = _timestamp(token_issue_time)
    if source_ip is not None:
        ctx["aws:SourceIp"] = source_ip
    if secure_transport is not None:
        ctx["aws:SecureTransport"] = "true" if secure_transport else "false"
    if region is not None:
        ctx["aws:RequestedRegion"] = region
    when = now if now is not None else datetime.now(UTC)
    ctx["aws:CurrentTime"] = _timestamp(when)
    ctx["aws:EpochTime"] = str(int(when.timestamp()))
    return ctx
