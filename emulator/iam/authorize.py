"""The one gate every door calls: may this principal do this action on this resource?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from emulator.errors import ClientError
from emulator.iam.principal import Principal

Context = Mapping[str, str | Sequence[str]]


class AccessDenied(ClientError):
    code = "AccessDeniedException"
    status = 400


def _resource_account(resource: str) -> str | None:
    # arn:partition:service:region:account:resource
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        return parts[4]
    return None


def is_allowed(
    principal: Principal, action: str, resource: str, context: Context | None = None
) -> bool:
    """Decide a request. Root may do everything in its own account and nothing elsewhere."""
    if principal.kind == "Root":
        account = _resource_account(resource)
        return account is None or account in ("", principal.account)
    return False


def authorize(
    principal: Principal, action: str, resource: str, context: Context | None = None
) -> None:
    """Raise `AccessDeniedException` unless the request is allowed."""
    if not is_allowed(principal, action, resource, context):
        raise AccessDenied(
            f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
        )
