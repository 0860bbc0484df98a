"""CodeStar Notifications (`codestar-notifications-2019-10-15`, REST-JSON): notification rules on
CodeCommit repositories, delivered to SNS topics (`emulator.events.notifications`). Handlers
are named `xform_name(Operation)`; `SERVICE` is registered with the API door under the signing
name `codestar-notifications`.

Every operation goes through the one gate as `codestar-notifications:{Operation}`: on the rule's
ARN, on `notificationrule/*` with `codestar-notifications:NotificationsForResource` for
CreateNotificationRule (the rule has no ARN yet), on `*` for the listings and targets.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from botocore.model import OperationModel

from emulator.api.service import RequestContext, ServiceSpec, collect_handlers
from emulator.api.shapes import Invalid, validation_message
from emulator.arns import partition_for
from emulator.errors import ClientError, ServiceError, client_error
from emulator.events.notifications import (
    ENABLED,
    EVENT_TYPES,
    EventType,
    NotificationRule,
    Target,
    TargetSummary,
    not_found,
)
from emulator.repos.model import Repository
from emulator.repos.names import validate_repository_name

Output = dict[str, Any]
T = TypeVar("T")
PAGE = 100
NOTIFICATIONS_FOR_RESOURCE = "codestar-notifications:NotificationsForResource"


def _allow(ctx: RequestContext, resource: str, context: dict[str, str] | None = None) -> None:
    ctx.emu.authorizer.authorize(
        ctx.principal,
        f"codestar-notifications:{ctx.operation}",
        resource,
        context,
        source_ip=ctx.source_ip,
        secure_transport=ctx.secure_transport,
    )


def _rule(ctx: RequestContext, arn: str) -> NotificationRule:
    """Authorize the operation on the rule, then fetch it (a rule of another account or
    region is not found, as AWS answers)."""
    _allow(ctx, arn)
    rule = ctx.emu.events.notifications.get(arn)
    if rule.account != ctx.account or rule.region != ctx.region:
        raise not_found(arn)
    return rule


def _repository(ctx: RequestContext, arn: str) -> Repository | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "codecommit":
        return None
    _, partition, _, region, account, name = parts
    if partition != partition_for(region) or region != ctx.region or account != ctx.account:
        return None
    try:
        name = validate_repository_name(name)
    except ClientError:
        return None
    return ctx.emu.repos.find(account, region, name)


def _target(raw: dict[str, Any]) -> Target:
    return Target(str(raw.get("TargetAddress", "")), str(raw.get("TargetType", "")))


def _targets(raw: Sequence[dict[str, Any]] | None) -> list[Target] | None:
    return None if raw is None else [_target(t) for t in raw]


def _page(
    items: Sequence[T], token: str | None, size: int | None
) -> tuple[Sequence[T], str | None]:
    """A page and the next token: the offset, base64 (the model allows `[\\w/+=]+`)."""
    start = 0
    if token is not None:
        try:
            start = int(base64.b64decode(token, validate=True).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise client_error("InvalidNextTokenException", "The NextToken is not valid.") from None
        if start < 0:
            raise client_error("InvalidNextTokenException", "The NextToken is not valid.")
    end = start + (size or PAGE)
    nxt = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], nxt


def _filtered(
    items: Sequence[T],
    filters: Sequence[dict[str, str]] | None,
    fields: dict[str, Callable[[T], Sequence[str]]],
) -> list[T]:
    """Items matching every filter; a filter's field may have several values (a rule's event
    types, its targets), any of which may match."""
    out = list(items)
    for f in filters or []:
        get = fields[f["Name"]]
        out = [i for i in out if f["Value"] in get(i)]
    return out


def _target_out(t: TargetSummary) -> Output:
    return {"TargetAddress": t.address, "TargetType": t.type, "TargetStatus": t.status}


def _event_type_out(e: EventType) -> Output:
    return {
        "EventTypeId": e.id,
        "ServiceName": e.service,
        "EventTypeName": e.name,
        "ResourceType": e.resource_type,
    }


# -- rules ------------------------------------------------------------------------------------


def create_notification_rule(
    ctx: RequestContext,
    name: str,
    event_type_ids: list[str],
    resource: str,
    targets: list[dict[str, Any]],
    detail_type: str,
    client_request_token: str | None = None,
    tags: dict[str, str] | None = None,
    status: str | None = None,
) -> Output:
    _allow(
        ctx,
        f"arn:aws:codestar-notifications:{ctx.region}:{ctx.account}:notificationrule/*",
        {NOTIFICATIONS_FOR_RESOURCE: resource},
    )
    arn = ctx.emu.events.notifications.create(
        ctx.account,
        ctx.region,
        name=name,
        repository=_repository(ctx, resource),
        resource=resource,
        event_type_ids=event_type_ids,
        targets=[_target(t) for t in targets],
        detail_type=detail_type,
        status=status or ENABLED,
        tags=tags or {},
        created_by=ctx.principal.arn,
        request_token=client_request_token,
    )
    return {"Arn": arn}


def describe_notification_rule(ctx: RequestContext, arn: str) -> Output:
    rule = _rule(ctx, arn)
    summaries = {
        t.address: t for t in ctx.emu.events.notifications.targets(ctx.account, ctx.region)
    }
    by_id = {e.id: e for e in EVENT_TYPES}
    return {
        "Arn": rule.arn,
        "Name": rule.name,
        "EventTypes": [_event_type_out(by_id[e]) for e in rule.event_type_ids if e in by_id],
        "Resource": rule.resource,
        "Targets": [
            _target_out(summaries.get(t.address) or TargetSummary(t.address, t.type, "ACTIVE"))
            for t in rule.targets
        ],
        "DetailType": rule.detail_type,
        "CreatedBy": rule.created_by,
        "Status": rule.status,
        "CreatedTimestamp": rule.created,
        "LastModifiedTimestamp": rule.modified,
        "Tags": dict(rule.tags),
    }


def list_notification_rules(
    ctx: RequestContext,
    filters: list[dict[str, str]] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    _allow(ctx, "*")
    rules = _filtered(
        ctx.emu.events.notifications.all(ctx.account, ctx.region),
        filters,
        {
            "EVENT_TYPE_ID": lambda r: r.event_type_ids,
            "CREATED_BY": lambda r: [r.created_by],
            "RESOURCE": lambda r: [r.resource],
            "TARGET_ADDRESS": lambda r: [t.address for t in r.targets],
        },
    )
    items, token = _page(rules, next_token, max_results)
    return {
        "NotificationRules": [{"Id": r.id, "Arn": r.arn} for r in items],
        "NextToken": token,
    }


def update_notification_rule(
    ctx: RequestContext,
    arn: str,
    name: str | None = None,
    status: str | None = None,
    event_type_ids: list[str] | None = None,
    targets: list[dict[str, Any]] | None = None,
    detail_type: str | None = None,
) -> Output:
    _rule(ctx, arn)
    ctx.emu.events.notifications.update(
        arn,
        name=name,
        status=status,
        event_type_ids=event_type_ids,
        targets=_targets(targets),
        detail_type=detail_type,
    )
    return {}


def delete_notification_rule(ctx: RequestContext, arn: str) -> Output:
    _allow(ctx, arn)
    rule = ctx.emu.events.notifications.find(arn)
    if rule is not None and rule.account == ctx.account and rule.region == ctx.region:
        ctx.emu.events.notifications.delete(arn)
    return {"Arn": arn}


def subscribe(
    ctx: RequestContext,
    arn: str,
    target: dict[str, Any],
    client_request_token: str | None = None,
) -> Output:
    _rule(ctx, arn)
    ctx.emu.events.notifications.subscribe(arn, _target(target))
    return {"Arn": arn}


def unsubscribe(ctx: RequestContext, arn: str, target_address: str) -> Output:
    _allow(ctx, arn)
    rule = ctx.emu.events.notifications.find(arn)
    if rule is not None and rule.account == ctx.account and rule.region == ctx.region:
        ctx.emu.events.notifications.unsubscribe(arn, target_address)
    return {"Arn": arn}


# -- event types and targets ------------------------------------------------------------------


def list_event_types(
    ctx: RequestContext,
    filters: list[dict[str, str]] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    _allow(ctx, "*")
    types = _filtered(
        EVENT_TYPES,
        filters,
        {
            "RESOURCE_TYPE": lambda e: [e.resource_type],
            "SERVICE_NAME": lambda e: [e.service],
        },
    )
    items, token = _page(types, next_token, max_results)
    return {"EventTypes": [_event_type_out(e) for e in items], "NextToken": token}


def list_targets(
    ctx: RequestContext,
    filters: list[dict[str, str]] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> Output:
    _allow(ctx, "*")
    targets = _filtered(
        ctx.emu.events.notifications.targets(ctx.account, ctx.region),
        filters,
        {
            "TARGET_TYPE": lambda t: [t.type],
            "TARGET_ADDRESS": lambda t: [t.address],
            "TARGET_STATUS": lambda t: [t.status],
        },
    )
    items, token = _page(targets, next_token, max_results)
    return {"Targets": [_target_out(t) for t in items], "NextToken": token}


def delete_target(
    ctx: RequestContext, target_address: str, force_unsubscribe_all: bool | None = None
) -> Output:
    _allow(ctx, "*")
    ctx.emu.events.notifications.delete_target(
        ctx.account, ctx.region, target_address, bool(force_unsubscribe_all)
    )
    return {}


# -- tags -------------------------------------------------------------------------------------


def tag_resource(ctx: RequestContext, arn: str, tags: dict[str, str]) -> Output:
    _rule(ctx, arn)
    return {"Tags": ctx.emu.events.notifications.tag(arn, tags)}


def untag_resource(ctx: RequestContext, arn: str, tag_keys: list[str]) -> Output:
    _rule(ctx, arn)
    ctx.emu.events.notifications.untag(arn, tag_keys)
    return {}


def list_tags_for_resource(ctx: RequestContext, arn: str) -> Output:
    return {"Tags": dict(_rule(ctx, arn).tags)}


def validation_error(op: OperationModel, failures: list[Invalid]) -> ServiceError:
    return client_error("ValidationException", validation_message(failures))


SERVICE = ServiceSpec(
    signing_name="codestar-notifications",
    model_name="codestar-notifications",
    handlers=lambda model: collect_handlers(model, globals()),
    validation_error=validation_error,
)
