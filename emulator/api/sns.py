"""SNS (`sns-2010-03-31`, query protocol): topics, subscriptions and Publish on ccemu's local SNS
(`emulator.events.sns`). Handlers are named `xform_name(Operation)`; `SERVICE` is registered with
the API door under the signing name `sns`.

Every operation goes through the one gate as `sns:{Operation}` on the topic's ARN (`*` for the
listings). Operations of the model that ccemu does not serve (SMS, mobile push, data protection)
answer the uniform not-implemented error.
"""

from __future__ import annotations

import base64
from typing import Any

from botocore.model import OperationModel

from emulator.api.service import RequestContext, ServiceSpec, collect_handlers
from emulator.api.shapes import Invalid, validation_message
from emulator.errors import ClientError, ServiceError
from emulator.events.sns import PENDING_ARN, Subscription, invalid, topic_arn_parts
from emulator.events.sns_messages import MessageAttribute
from emulator.iam.authorize import AccessDenied

Output = dict[str, Any]
PAGE = 100
ATTRIBUTE_TYPES = ("String", "String.Array", "Number", "Binary")


def _allow(ctx: RequestContext, resource: str) -> None:
    try:
        ctx.emu.authorizer.authorize(
            ctx.principal,
            f"sns:{ctx.operation}",
            resource,
            source_ip=ctx.source_ip,
            secure_transport=ctx.secure_transport,
        )
    except AccessDenied as exc:
        # SNS calls a denial AuthorizationError (HTTP 403).
        raise ClientError(exc.message, code="AuthorizationError", status=403) from None


def _topic_arn(ctx: RequestContext, arn: str) -> str:
    if topic_arn_parts(arn) is None:
        raise invalid("TopicArn")
    _allow(ctx, arn)
    return arn


def _page(items: list[Any], token: str | None) -> tuple[list[Any], str | None]:
    start = 0
    if token:
        if not token.isdigit():
            raise invalid("NextToken")
        start = int(token)
    end = start + PAGE
    return items[start:end], (str(end) if end < len(items) else None)


def _subscription_out(sub: Subscription) -> Output:
    return {
        "SubscriptionArn": sub.arn if sub.confirmed else PENDING_ARN,
        "Owner": sub.account,
        "Protocol": sub.protocol,
        "Endpoint": sub.endpoint,
        "TopicArn": sub.topic_arn,
    }


# -- topics -----------------------------------------------------------------------------------


def create_topic(
    ctx: RequestContext,
    name: str,
    attributes: dict[str, str] | None = None,
    tags: list[dict[str, str]] | None = None,
    data_protection_policy: str | None = None,
) -> Output:
    _allow(ctx, f"arn:aws:sns:{ctx.region}:{ctx.account}:{name}")
    topic = ctx.emu.events.sns.create_topic(ctx.account, ctx.region, name, attributes)
    return {"TopicArn": topic.arn}


def delete_topic(ctx: RequestContext, topic_arn: str) -> None:
    ctx.emu.events.sns.delete_topic(_topic_arn(ctx, topic_arn))


def list_topics(ctx: RequestContext, next_token: str | None = None) -> Output:
    _allow(ctx, "*")
    arns = ctx.emu.events.sns.list_topics(ctx.account, ctx.region)
    items, token = _page(arns, next_token)
    return {"Topics": [{"TopicArn": a} for a in items], "NextToken": token}


def get_topic_attributes(ctx: RequestContext, topic_arn: str) -> Output:
    return {"Attributes": ctx.emu.events.sns.topic_attributes(_topic_arn(ctx, topic_arn))}


def set_topic_attributes(
    ctx: RequestContext, topic_arn: str, attribute_name: str, attribute_value: str | None = None
) -> None:
    ctx.emu.events.sns.set_topic_attribute(
        _topic_arn(ctx, topic_arn), attribute_name, attribute_value
    )


# -- subscriptions ----------------------------------------------------------------------------


def subscribe(
    ctx: RequestContext,
    topic_arn: str,
    protocol: str,
    endpoint: str | None = None,
    attributes: dict[str, str] | None = None,
    return_subscription_arn: bool | None = None,
) -> Output:
    sub = ctx.emu.events.sns.subscribe(
        ctx.account, _topic_arn(ctx, topic_arn), protocol, endpoint, attributes
    )
    if sub.confirmed or return_subscription_arn:
        return {"SubscriptionArn": sub.arn}
    return {"SubscriptionArn": "pending confirmation"}


def confirm_subscription(
    ctx: RequestContext,
    topic_arn: str,
    token: str,
    authenticate_on_unsubscribe: str | None = None,
) -> Output:
    sub = ctx.emu.events.sns.confirm(_topic_arn(ctx, topic_arn), token)
    return {"SubscriptionArn": sub.arn}


def unsubscribe(ctx: RequestContext, subscription_arn: str) -> None:
    topic = subscription_arn.rsplit(":", 1)[0]
    _topic_arn(ctx, topic)
    ctx.emu.events.sns.unsubscribe(subscription_arn)


def list_subscriptions(ctx: RequestContext, next_token: str | None = None) -> Output:
    _allow(ctx, "*")
    subs = ctx.emu.events.sns.list_subscriptions(ctx.account, ctx.region)
    items, token = _page(subs, next_token)
    return {"Subscriptions": [_subscription_out(s) for s in items], "NextToken": token}


def list_subscriptions_by_topic(
    ctx: RequestContext, topic_arn: str, next_token: str | None = None
) -> Output:
    arn = _topic_arn(ctx, topic_arn)
    ctx.emu.events.sns.topic(arn)
    items, token = _page(ctx.emu.events.sns.subscriptions_of(arn), next_token)
    return {"Subscriptions": [_subscription_out(s) for s in items], "NextToken": token}


def get_subscription_attributes(ctx: RequestContext, subscription_arn: str) -> Output:
    _topic_arn(ctx, subscription_arn.rsplit(":", 1)[0])
    sub = ctx.emu.events.sns.subscription(subscription_arn)
    attrs = {
        "SubscriptionArn": sub.arn,
        "TopicArn": sub.topic_arn,
        "Owner": sub.account,
        "Protocol": sub.protocol,
        "Endpoint": sub.endpoint,
        "ConfirmationWasAuthenticated": "true" if sub.confirmed else "false",
        "PendingConfirmation": "false" if sub.confirmed else "true",
        "RawMessageDelivery": "false",
        **sub.attributes,
    }
    return {"Attributes": attrs}


def set_subscription_attributes(
    ctx: RequestContext,
    subscription_arn: str,
    attribute_name: str,
    attribute_value: str | None = None,
) -> None:
    _topic_arn(ctx, subscription_arn.rsplit(":", 1)[0])
    ctx.emu.events.sns.set_subscription_attribute(
        subscription_arn, attribute_name, attribute_value or ""
    )


# -- publishing -------------------------------------------------------------------------------


def _attributes_in(raw: dict[str, dict[str, Any]] | None) -> dict[str, MessageAttribute]:
    out = {}
    for name, value in (raw or {}).items():
        kind = str(value.get("DataType", ""))
        if kind.split(".", 1)[0] not in ("String", "Number", "Binary"):
            raise invalid(f"The message attribute '{name}' has an invalid message attribute type")
        if kind.startswith("Binary"):
            blob = value.get("BinaryValue")
            if blob is None:
                raise invalid(f"The message attribute '{name}' must contain a binary value")
            data = blob if isinstance(blob, bytes) else base64.b64decode(blob)
            out[name] = MessageAttribute(kind, base64.b64encode(data).decode())
        else:
            text = value.get("StringValue")
            if text is None:
                raise invalid(f"The message attribute '{name}' must contain a string value")
            out[name] = MessageAttribute(kind, str(text))
    return out


def publish(
    ctx: RequestContext,
    message: str,
    topic_arn: str | None = None,
    target_arn: str | None = None,
    phone_number: str | None = None,
    subject: str | None = None,
    message_structure: str | None = None,
    message_attributes: dict[str, dict[str, Any]] | None = None,
    message_deduplication_id: str | None = None,
    message_group_id: str | None = None,
) -> Output:
    if phone_number is not None:
        raise invalid("PhoneNumber: ccemu does not send SMS")
    arn = topic_arn or target_arn
    if not arn:
        raise invalid("TopicArn or TargetArn Reason: no value for required parameter")
    message_id = ctx.emu.events.sns.publish(
        ctx.account,
        _topic_arn(ctx, arn),
        message,
        subject,
        _attributes_in(message_attributes),
        message_structure,
    )
    return {"MessageId": message_id}


def validation_error(op: OperationModel, failures: list[Invalid]) -> ServiceError:
    return ClientError(validation_message(failures), code="InvalidParameter")


SERVICE = ServiceSpec(
    signing_name="sns",
    model_name="sns",
    handlers=lambda model: collect_handlers(model, globals()),
    validation_error=validation_error,
)
