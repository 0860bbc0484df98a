"""STS (`sts-2011-06-15`, query protocol): GetCallerIdentity, GetSessionToken, AssumeRole.

Handlers are named `xform_name(Operation)`; `SERVICE` is registered with the API door under the
signing name `sts`.
"""

from __future__ import annotations

from emulator.api.iam_wire import Output, validation_error
from emulator.api.service import RequestContext, ServiceSpec, collect_handlers
from emulator.iam.keys.sessions import TemporaryCredentials
from emulator.iam.sts import caller_identity


def _credentials_out(creds: TemporaryCredentials) -> Output:
    return {
        "AccessKeyId": creds.access_key_id,
        "SecretAccessKey": creds.secret_access_key,
        "SessionToken": creds.session_token,
        "Expiration": creds.expiration,
    }


def get_caller_identity(ctx: RequestContext) -> Output:
    # No permission is needed to ask who you are, as on AWS.
    who = caller_identity(ctx.principal)
    return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}


def get_session_token(
    ctx: RequestContext,
    duration_seconds: int | None = None,
    serial_number: str | None = None,
    token_code: str | None = None,
    minimum_session_token_size: int | None = None,
) -> Output:
    # MFA devices are not emulated: SerialNumber and TokenCode are accepted and ignored; ccemu's
    # session tokens have one size, so MinimumSessionTokenSize needs nothing either.
    creds = ctx.emu.sts.get_session_token(ctx.principal, duration_seconds)
    return {"Credentials": _credentials_out(creds)}


def assume_role(
    ctx: RequestContext,
    role_arn: str,
    role_session_name: str,
    policy_arns: list[dict[str, str]] | None = None,
    policy: str | None = None,
    duration_seconds: int | None = None,
    tags: list[dict[str, str]] | None = None,
    transitive_tag_keys: list[str] | None = None,
    external_id: str | None = None,
    serial_number: str | None = None,
    token_code: str | None = None,
    source_identity: str | None = None,
    provided_contexts: list[dict[str, str]] | None = None,
    minimum_session_token_size: int | None = None,
) -> Output:
    context: dict[str, str | list[str]] = {}
    if external_id is not None:
        context["sts:ExternalId"] = external_id
    if source_identity is not None:
        context["sts:SourceIdentity"] = source_identity
    session_tags = [(t["Key"], t.get("Value", "")) for t in tags or ()]
    for key, value in session_tags:
        context[f"aws:RequestTag/{key}"] = value
    if session_tags:
        context["aws:TagKeys"] = [k for k, _ in session_tags]
    assumed = ctx.emu.sts.assume_role(
        ctx.principal,
        role_arn,
        role_session_name,
        duration_seconds=duration_seconds,
        policy=policy,
        policy_arns=[p["arn"] for p in policy_arns or () if "arn" in p],
        tags=session_tags,
        context=context,
    )
    out: Output = {
        "Credentials": _credentials_out(assumed.credentials),
        "AssumedRoleUser": {
            "AssumedRoleId": assumed.principal.user_id,
            "Arn": assumed.principal.arn,
        },
    }
    if assumed.packed_policy_size is not None:
        out["PackedPolicySize"] = assumed.packed_policy_size
    if source_identity is not None:
        out["SourceIdentity"] = source_identity
    return out


SERVICE = ServiceSpec(
    signing_name="sts",
    model_name="sts",
    handlers=lambda model: collect_handlers(model, globals()),
    validation_error=validation_error,
)
