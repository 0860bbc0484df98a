"""What the IAM handlers share: Marker/MaxItems paging, tags, URL-encoded policy documents,
the wire form of users, groups and roles, and IAM's rendering of validation failures."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from botocore.model import OperationModel

from emulator.api.service import RequestContext
from emulator.api.shapes import Invalid
from emulator.errors import ClientError, ServiceError
from emulator.iam.entities.model import Group, InvalidInput, Role, Tags, User

T = TypeVar("T")
Output = dict[str, Any]

DEFAULT_MAX_ITEMS = 100


def allow(ctx: RequestContext, resource: str) -> None:
    """Authorize the current IAM operation on `resource` through the one gate."""
    ctx.emu.authorizer.authorize(
        ctx.principal,
        f"iam:{ctx.operation}",
        resource,
        source_ip=ctx.source_ip,
        secure_transport=ctx.secure_transport,
    )


def iam_arn(ctx: RequestContext, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{ctx.account}:{kind}{path}{name}"


def page(
    items: Sequence[T], marker: str | None, max_items: int | None, listing: str
) -> tuple[Sequence[T], Output]:
    """One page of `items` and the `IsTruncated` / `Marker` members that go with it. A marker
    from another listing is refused, as IAM refuses it."""
    start = 0
    if marker is not None:
        try:
            data = json.loads(base64.urlsafe_b64decode(marker.encode()))
            if not isinstance(data, dict) or data.get("l") != listing:
                raise ValueError
            start = int(data["o"])
            if start < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidInput("Invalid Marker.") from None
    size = max_items or DEFAULT_MAX_ITEMS
    end = start + size
    more = end < len(items)
    extra: Output = {"IsTruncated": more}
    if more:
        raw = json.dumps({"o": end, "l": listing}, separators=(",", ":")).encode()
        extra["Marker"] = base64.urlsafe_b64encode(raw).decode()
    return items[start:end], extra


def tags_in(tags: list[dict[str, str]] | None) -> Tags:
    return tuple((t["Key"], t.get("Value", "")) for t in tags or ())


def tags_out(tags: Tags) -> list[Output]:
    return [{"Key": k, "Value": v} for k, v in tags]


def document_out(document: str) -> str:
    # IAM returns policy documents URL-encoded (RFC 3986); SDKs decode them.
    return quote(document, safe="-_.~")


def boundary_out(arn: str | None) -> Output | None:
    if arn is None:
        return None
    return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn}


def user_out(user: User, *, with_tags: bool = True) -> Output:
    return {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.id,
        "Arn": user.arn,
        "CreateDate": user.created,
        "PermissionsBoundary": boundary_out(user.boundary_arn),
        "Tags": tags_out(user.tags) if with_tags and user.tags else None,
    }


def group_out(group: Group) -> Output:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.id,
        "Arn": group.arn,
        "CreateDate": group.created,
    }


def role_out(role: Role, *, with_tags: bool = True) -> Output:
    return {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": document_out(role.trust_policy),
        "Description": role.description,
        "MaxSessionDuration": role.max_session_duration,
        "PermissionsBoundary": boundary_out(role.boundary_arn),
        "Tags": tags_out(role.tags) if with_tags and role.tags else None,
        "RoleLastUsed": {} if with_tags else None,
    }


def _camel_path(path: str) -> str:
    return ".".join(seg[:1].lower() + seg[1:] for seg in path.split("."))


def validation_error(op: OperationModel, failures: list[Invalid]) -> ServiceError:
    """IAM answers constraint failures with `ValidationError`, naming members in camelCase."""
    messages = []
    for f in failures:
        messages.append(
            re.sub(
                r"at '([^']*)'",
                lambda m: f"at '{_camel_path(m.group(1))}'",
                f.message,
                count=1,
            )
        )
    n = len(messages)
    head = f"{n} validation error{'s' if n != 1 else ''} detected: "
    return ClientError(head + "; ".join(messages), code="ValidationError")
