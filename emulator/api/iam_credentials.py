"""IAM credential operations: access keys, SSH public keys, service-specific credentials.

Handlers are named `xform_name(Operation)` and collected by `emulator.api.iam`. Without a
UserName an operation acts on the caller, as IAM does: an IAM user on itself, the root user on
the account's root credentials (access keys only).
"""

from __future__ import annotations

from emulator.api.iam_wire import Output, allow, page
from emulator.api.service import RequestContext
from emulator.errors import ClientError
from emulator.iam.keys.access import AccessKey
from emulator.iam.keys.common import InvalidInput, NoSuchEntity
from emulator.iam.keys.service_credentials import NewServiceCredential, ServiceCredential
from emulator.iam.keys.ssh import SSHPublicKey, check_encoding


def _caller_user(ctx: RequestContext, user_name: str | None, *, root_ok: bool) -> str | None:
    """The user an operation acts on, authorized; None for the account's root user."""
    if user_name is None:
        p = ctx.principal
        if p.kind == "IAMUser" and p.name:
            user_name = p.name
        elif p.kind == "Root" and root_ok:
            allow(ctx, f"arn:aws:iam::{ctx.account}:root")
            return None
        else:
            raise ClientError(
                "Must specify userName when calling with non-User credentials",
                code="ValidationError",
            )
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    return user.name


def _user(ctx: RequestContext, user_name: str | None) -> str:
    name = _caller_user(ctx, user_name, root_ok=False)
    assert name is not None  # root_ok=False never answers None
    return name


# -- access keys ----------------------------------------------------------------------------


def _key_out(key: AccessKey) -> Output:
    out: Output = {
        "AccessKeyId": key.access_key_id,
        "Status": key.status,
        "CreateDate": key.created,
    }
    if key.user_name is not None:
        out["UserName"] = key.user_name
    return out


def create_access_key(ctx: RequestContext, user_name: str | None = None) -> Output:
    owner = _caller_user(ctx, user_name, root_ok=True)
    made = ctx.emu.keys.access.create(ctx.account, owner)
    return {"AccessKey": {**_key_out(made.key), "SecretAccessKey": made.secret_access_key}}


def list_access_keys(
    ctx: RequestContext,
    user_name: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    owner = _caller_user(ctx, user_name, root_ok=True)
    keys = ctx.emu.keys.access.list(ctx.account, owner)
    items, extra = page(keys, marker, max_items, f"access-keys:{owner}")
    return {"AccessKeyMetadata": [_key_out(k) for k in items], **extra}


def update_access_key(
    ctx: RequestContext, access_key_id: str, status: str, user_name: str | None = None
) -> None:
    owner = _caller_user(ctx, user_name, root_ok=True)
    ctx.emu.keys.access.update(ctx.account, owner, access_key_id, status)


def delete_access_key(
    ctx: RequestContext, access_key_id: str, user_name: str | None = None
) -> None:
    owner = _caller_user(ctx, user_name, root_ok=True)
    ctx.emu.keys.access.delete(ctx.account, owner, access_key_id)


def get_access_key_last_used(ctx: RequestContext, access_key_id: str) -> Output:
    used = ctx.emu.keys.access.last_used(access_key_id)
    if used is None or used.account != ctx.account:
        raise NoSuchEntity(f"The Access Key with id {access_key_id[:128]} cannot be found.")
    if used.user_name is None:
        allow(ctx, f"arn:aws:iam::{ctx.account}:root")
    else:
        allow(ctx, ctx.emu.iam.get_user(ctx.account, used.user_name).arn)
    # A key never used reads "N/A" for service and region, with no date, as on AWS.
    last: Output = {"ServiceName": used.service or "N/A", "Region": used.region or "N/A"}
    if used.when is not None:
        last["LastUsedDate"] = used.when
    out: Output = {"AccessKeyLastUsed": last}
    if used.user_name is not None:
        out["UserName"] = used.user_name
    return out


# -- SSH public keys ------------------------------------------------------------------------


def _ssh_out(key: SSHPublicKey, encoding: str = "SSH") -> Output:
    return {
        "UserName": key.user_name,
        "SSHPublicKeyId": key.key_id,
        "Fingerprint": key.fingerprint,
        "SSHPublicKeyBody": key.body(encoding),
        "Status": key.status,
        "UploadDate": key.uploaded,
    }


def upload_ssh_public_key(ctx: RequestContext, user_name: str, ssh_public_key_body: str) -> Output:
    name = _user(ctx, user_name)
    return {
        "SSHPublicKey": _ssh_out(ctx.emu.keys.ssh.upload(ctx.account, name, ssh_public_key_body))
    }


def get_ssh_public_key(
    ctx: RequestContext, user_name: str, ssh_public_key_id: str, encoding: str
) -> Output:
    check_encoding(encoding)
    key = ctx.emu.keys.ssh.get(ctx.account, _user(ctx, user_name), ssh_public_key_id)
    return {"SSHPublicKey": _ssh_out(key, encoding)}


def list_ssh_public_keys(
    ctx: RequestContext,
    user_name: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    name = _user(ctx, user_name)
    keys = ctx.emu.keys.ssh.list(ctx.account, name)
    items, extra = page(keys, marker, max_items, f"ssh-keys:{name}")
    return {
        "SSHPublicKeys": [
            {
                "UserName": k.user_name,
                "SSHPublicKeyId": k.key_id,
                "Status": k.status,
                "UploadDate": k.uploaded,
            }
            for k in items
        ],
        **extra,
    }


def update_ssh_public_key(
    ctx: RequestContext, user_name: str, ssh_public_key_id: str, status: str
) -> None:
    ctx.emu.keys.ssh.update(ctx.account, _user(ctx, user_name), ssh_public_key_id, status)


def delete_ssh_public_key(ctx: RequestContext, user_name: str, ssh_public_key_id: str) -> None:
    ctx.emu.keys.ssh.delete(ctx.account, _user(ctx, user_name), ssh_public_key_id)


# -- service-specific credentials -----------------------------------------------------------


def _cred_out(cred: ServiceCredential) -> Output:
    return {
        "UserName": cred.user_name,
        "Status": cred.status,
        "ServiceUserName": cred.service_user_name,
        "CreateDate": cred.created,
        "ServiceSpecificCredentialId": cred.credential_id,
        "ServiceName": cred.service_name,
    }


def _new_cred_out(made: NewServiceCredential) -> Output:
    return {
        "ServiceSpecificCredential": {
            **_cred_out(made.credential),
            "ServicePassword": made.password,
        }
    }


def create_service_specific_credential(
    ctx: RequestContext,
    user_name: str,
    service_name: str,
    credential_age_days: int | None = None,
) -> Output:
    name = _user(ctx, user_name)
    if credential_age_days is not None:
        # Expiring credentials exist for Amazon Bedrock only; CodeCommit's do not expire.
        raise InvalidInput(f"CredentialAgeDays is not supported for {service_name[:128]}.")
    return _new_cred_out(ctx.emu.keys.service.create(ctx.account, name, service_name))


def list_service_specific_credentials(
    ctx: RequestContext,
    user_name: str | None = None,
    service_name: str | None = None,
    all_users: bool | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    if all_users:
        allow(ctx, f"arn:aws:iam::{ctx.account}:user/*")
        name: str | None = None
    else:
        name = _user(ctx, user_name)
    creds = ctx.emu.keys.service.list(ctx.account, name, service_name)
    items, extra = page(creds, marker, max_items, f"service-credentials:{name}:{service_name}")
    return {"ServiceSpecificCredentials": [_cred_out(c) for c in items], **extra}


def reset_service_specific_credential(
    ctx: RequestContext, service_specific_credential_id: str, user_name: str | None = None
) -> Output:
    name = _user(ctx, user_name)
    return _new_cred_out(
        ctx.emu.keys.service.reset(ctx.account, name, service_specific_credential_id)
    )


def update_service_specific_credential(
    ctx: RequestContext,
    service_specific_credential_id: str,
    status: str,
    user_name: str | None = None,
) -> None:
    name = _user(ctx, user_name)
    ctx.emu.keys.service.update(ctx.account, name, service_specific_credential_id, status)


def delete_service_specific_credential(
    ctx: RequestContext, service_specific_credential_id: str, user_name: str | None = None
) -> None:
    name = _user(ctx, user_name)
    ctx.emu.keys.service.delete(ctx.account, name, service_specific_credential_id)
