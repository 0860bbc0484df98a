"""IAM console passwords: login profiles, ChangePassword and the account password policy.

Handlers are named `xform_name(Operation)` and collected by `emulator.api.iam`. Passwords
arrive here and go straight to the credential service; nothing here keeps or logs them.
"""

from __future__ import annotations

from emulator.api.iam_wire import Output, allow
from emulator.api.service import RequestContext
from emulator.errors import ClientError
from emulator.iam.keys.login_profiles import (
    InvalidUserType,
    LoginProfile,
    PasswordPolicy,
    with_defaults,
)
from emulator.iam.own_password import authorize_own_password


def _user(ctx: RequestContext, user_name: str | None) -> str:
    """The user an operation acts on, authorized; without a name, the calling IAM user."""
    if user_name is None:
        p = ctx.principal
        if p.kind != "IAMUser" or not p.name:
            raise ClientError(
                "Must specify userName when calling with non-User credentials",
                code="ValidationError",
            )
        user_name = p.name
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    return user.name


def _profile_out(profile: LoginProfile) -> Output:
    out: Output = {
        "UserName": profile.user_name,
        "CreateDate": profile.created,
        "PasswordResetRequired": profile.reset_required,
    }
    if profile.max_session is not None:
        out["MaxSigninSessionDuration"] = profile.max_session
    return out


def create_login_profile(
    ctx: RequestContext,
    user_name: str | None = None,
    password: str | None = None,
    password_reset_required: bool | None = None,
    max_signin_session_duration: int | None = None,
) -> Output:
    name = _user(ctx, user_name)
    if password is None:
        # The model leaves it optional (for passwordless root profiles of member accounts);
        # a user's profile always has one.
        raise ClientError("Password is required for an IAM user.", code="ValidationError")
    profile = ctx.emu.keys.login.create(
        ctx.account, name, password, bool(password_reset_required), max_signin_session_duration
    )
    return {"LoginProfile": _profile_out(profile)}


def get_login_profile(ctx: RequestContext, user_name: str | None = None) -> Output:
    name = _user(ctx, user_name)
    return {"LoginProfile": _profile_out(ctx.emu.keys.login.get(ctx.account, name))}


def update_login_profile(
    ctx: RequestContext,
    user_name: str,
    password: str | None = None,
    password_reset_required: bool | None = None,
    max_signin_session_duration: int | None = None,
    reset_max_signin_session_duration: bool | None = None,
) -> None:
    name = _user(ctx, user_name)
    ctx.emu.keys.login.update(
        ctx.account,
        name,
        password,
        password_reset_required,
        max_signin_session_duration,
        bool(reset_max_signin_session_duration),
    )


def delete_login_profile(ctx: RequestContext, user_name: str | None = None) -> None:
    name = _user(ctx, user_name)
    ctx.emu.keys.login.delete(ctx.account, name)


def change_password(ctx: RequestContext, old_password: str, new_password: str) -> None:
    p = ctx.principal
    if p.kind != "IAMUser" or not p.name:
        raise InvalidUserType("Only IAM Users can change their own password.")
    user = ctx.emu.iam.get_user(ctx.account, p.name)
    authorize_own_password(
        ctx.emu.authorizer,
        ctx.emu.keys.login,
        p,
        user.arn,
        source_ip=ctx.source_ip,
        secure_transport=ctx.secure_transport,
    )
    ctx.emu.keys.login.change_password(ctx.account, user.name, old_password, new_password)


# -- the account password policy ------------------------------------------------------------


# The password policy has no ARN of its own: IAM authorizes its actions on "*".
_ACCOUNT_WIDE = "*"


def update_account_password_policy(
    ctx: RequestContext,
    minimum_password_length: int | None = None,
    require_symbols: bool | None = None,
    require_numbers: bool | None = None,
    require_uppercase_characters: bool | None = None,
    require_lowercase_characters: bool | None = None,
    allow_users_to_change_password: bool | None = None,
    max_password_age: int | None = None,
    password_reuse_prevention: int | None = None,
    hard_expiry: bool | None = None,
) -> None:
    allow(ctx, _ACCOUNT_WIDE)
    policy = with_defaults(
        min_length=minimum_password_length,
        require_symbols=require_symbols,
        require_numbers=require_numbers,
        require_uppercase=require_uppercase_characters,
        require_lowercase=require_lowercase_characters,
        allow_users_to_change=allow_users_to_change_password,
        max_age=max_password_age,
        reuse_prevention=password_reuse_prevention,
        hard_expiry=hard_expiry,
    )
    ctx.emu.keys.login.put_policy(ctx.account, policy)


def _policy_out(policy: PasswordPolicy) -> Output:
    out: Output = {
        "MinimumPasswordLength": policy.min_length,
        "RequireSymbols": policy.require_symbols,
        "RequireNumbers": policy.require_numbers,
        "RequireUppercaseCharacters": policy.require_uppercase,
        "RequireLowercaseCharacters": policy.require_lowercase,
        "AllowUsersToChangePassword": policy.allow_users_to_change,
        "ExpirePasswords": policy.expire_passwords,
    }
    if policy.max_age:
        out["MaxPasswordAge"] = policy.max_age
        out["HardExpiry"] = policy.hard_expiry
    if policy.reuse_prevention:
        out["PasswordReusePrevention"] = policy.reuse_prevention
    return out


def get_account_password_policy(ctx: RequestContext) -> Output:
    allow(ctx, _ACCOUNT_WIDE)
    return {"PasswordPolicy": _policy_out(ctx.emu.keys.login.get_policy(ctx.account))}


def delete_account_password_policy(ctx: RequestContext) -> None:
    allow(ctx, _ACCOUNT_WIDE)
    ctx.emu.keys.login.delete_policy(ctx.account)
