"""KMS (`TrentService`, JSON 1.1): one handler per operation, named `xform_name(Operation)`.

A handler resolves the key the request names, authorizes `kms:<Operation>` on its ARN through
the one gate, calls `emu.kms` and returns the output members as the model names them.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from botocore.model import OperationModel

from emulator.api.service import RequestContext, ServiceSpec, collect_handlers
from emulator.api.shapes import Invalid, validation_message
from emulator.errors import ServiceError, client_error
from emulator.kms.model import (
    ENCRYPT_DECRYPT,
    PENDING_DELETION,
    SYMMETRIC_DEFAULT,
    Alias,
    InvalidAliasNameException,
    KmsKey,
    NotAuthorizedException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from emulator.kms.service import customer_managed, is_reserved_alias

Output = dict[str, Any]
T = TypeVar("T")

DEFAULT_PAGE = 100
MAX_TAGS = 50
_ALIAS_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")


# -- helpers --------------------------------------------------------------------------------


def _authorize(ctx: RequestContext, resource: str, action: str | None = None) -> None:
    ctx.emu.authorizer.authorize(
        ctx.principal,
        action or f"kms:{ctx.operation}",
        resource,
        source_ip=ctx.source_ip,
        secure_transport=ctx.secure_transport,
    )


def _key(ctx: RequestContext, key_id: str, *, aliases: bool = True) -> KmsKey:
    """The key `key_id` names, once the caller may run this operation on it."""
    key = ctx.emu.kms.resolve(ctx.account, ctx.region, key_id, aliases=aliases)
    _authorize(ctx, key.arn)
    return key


def _managed_key(ctx: RequestContext, key_id: str) -> KmsKey:
    """A customer managed key named by key id or key ARN (the forms management calls take)."""
    key = _key(ctx, key_id, aliases=False)
    customer_managed(key, ctx.operation)
    return key


def _metadata(key: KmsKey) -> Output:
    return {
        "AWSAccountId": key.account,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.created,
        "Enabled": key.enabled,
        "Description": key.description,
        "KeyUsage": ENCRYPT_DECRYPT,
        "KeyState": key.state,
        "DeletionDate": key.deletion_date,
        "Origin": "AWS_KMS",
        "KeyManager": key.manager,
        "CustomerMasterKeySpec": SYMMETRIC_DEFAULT,
        "KeySpec": SYMMETRIC_DEFAULT,
        "EncryptionAlgorithms": [SYMMETRIC_DEFAULT],
        "MultiRegion": False,
    }


def _page(items: Sequence[T], marker: str | None, limit: int | None) -> tuple[Sequence[T], Output]:
    """KMS's paging: `Limit` (1-1000, default 100), an opaque `Marker`, `Truncated`."""
    start = 0
    if marker is not None:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
        except (binascii.Error, ValueError, UnicodeError):
            raise client_error("InvalidMarkerException", "The marker is not valid.") from None
        if start < 0:
            raise client_error("InvalidMarkerException", "The marker is not valid.")
    end = start + (limit or DEFAULT_PAGE)
    more = end < len(items)
    out: Output = {"Truncated": more}
    if more:
        out["NextMarker"] = base64.urlsafe_b64encode(str(end).encode()).decode()
    return items[start:end], out


def _check_algorithm(algorithm: str | None) -> None:
    if algorithm not in (None, SYMMETRIC_DEFAULT):
        raise client_error(
            "InvalidKeyUsageException",
            f"The encryption algorithm {algorithm} is not supported by a {SYMMETRIC_DEFAULT} key.",
        )


def _no_recipient(recipient: object) -> None:
    if recipient is not None:
        raise UnsupportedOperationException("ccemu does not support Nitro Enclave recipients.")


def _dry_run(dry_run: bool | None) -> None:
    if dry_run:
        raise client_error(
            "DryRunOperationException",
            "The request would have succeeded, but the DryRun option is set.",
        )


def _data_key_length(number_of_bytes: int | None, key_spec: str | None) -> int:
    if (number_of_bytes is None) == (key_spec is None):
        raise ValidationException("Please specify either number of bytes or key spec.")
    if key_spec is not None:
        return 32 if key_spec == "AES_256" else 16
    assert number_of_bytes is not None
    return number_of_bytes


def _tags_out(tags: Mapping[str, str]) -> list[Output]:
    return [{"TagKey": k, "TagValue": v} for k, v in tags.items()]


def _tags_in(tags: list[Mapping[str, str]] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in tags or []:
        key, value = tag.get("TagKey", ""), tag.get("TagValue", "")
        if key.startswith("aws:"):
            raise client_error("TagException", "Tags beginning with aws: are reserved.")
        found[key] = value
    if len(found) > MAX_TAGS:
        raise client_error("TagException", f"A KMS key can have at most {MAX_TAGS} tags.")
    return found


def _check_alias_name(name: str) -> None:
    if not name.startswith("alias/") or len(name) <= len("alias/"):
        raise InvalidAliasNameException('Alias must start with the prefix "alias/".')
    if not set(name) <= _ALIAS_CHARS:
        raise ValidationException(
            f"1 validation error detected: Value '{name[:256]}' at 'aliasName' failed to satisfy"
            " constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )
    if is_reserved_alias(name):
        raise NotAuthorizedException(
            f"{name} is reserved for AWS managed keys: alias names beginning with alias/aws/"
            " cannot be created, changed or deleted."
        )


# -- keys -----------------------------------------------------------------------------------


def create_key(
    ctx: RequestContext,
    policy: str | None = None,
    description: str | None = None,
    key_usage: str | None = None,
    customer_master_key_spec: str | None = None,
    key_spec: str | None = None,
    origin: str | None = None,
    custom_key_store_id: str | None = None,
    bypass_policy_lockout_safety_check: bool | None = None,
    tags: list[Mapping[str, str]] | None = None,
    multi_region: bool | None = None,
    xks_key_id: str | None = None,
) -> Output:
    _authorize(ctx, "*")
    if key_usage not in (None, ENCRYPT_DECRYPT):
        raise UnsupportedOperationException(
            f"ccemu's KMS has symmetric encryption keys only; KeyUsage {key_usage} is not"
            " supported."
        )
    for spec in (customer_master_key_spec, key_spec):
        if spec not in (None, SYMMETRIC_DEFAULT):
            raise UnsupportedOperationException(
                f"ccemu's KMS has symmetric encryption keys only; KeySpec {spec} is not supported."
            )
    if origin not in (None, "AWS_KMS") or custom_key_store_id or xks_key_id:
        raise UnsupportedOperationException(
            "ccemu's KMS makes its own key material (Origin AWS_KMS) and has no custom key stores."
        )
    if multi_region:
        raise UnsupportedOperationException("ccemu's KMS does not emulate multi-Region keys.")
    key = ctx.emu.kms.create_key(
        ctx.account, ctx.region, description=description or "", policy=policy, tags=_tags_in(tags)
    )
    return {"KeyMetadata": _metadata(key)}


def describe_key(ctx: RequestContext, key_id: str, grant_tokens: list[str] | None = None) -> Output:
    return {"KeyMetadata": _metadata(_key(ctx, key_id))}


def list_keys(
    ctx: RequestContext,
    limit: int | None = None,
    marker: str | None = None,
    resource_owners: list[str] | None = None,
) -> Output:
    _authorize(ctx, "*")
    keys, out = _page(ctx.emu.kms.list_keys(ctx.account, ctx.region), marker, limit)
    return {"Keys": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in keys], **out}


def update_key_description(ctx: RequestContext, key_id: str, description: str) -> None:
    ctx.emu.kms.update_description(_managed_key(ctx, key_id), description)


def get_key_policy(ctx: RequestContext, key_id: str, policy_name: str | None = None) -> Output:
    key = _key(ctx, key_id, aliases=False)
    if policy_name not in (None, "default"):
        raise NotFoundException(f"No such policy exists: {policy_name}")
    return {"Policy": key.policy, "PolicyName": "default"}


def list_key_policies(
    ctx: RequestContext, key_id: str, limit: int | None = None, marker: str | None = None
) -> Output:
    _key(ctx, key_id, aliases=False)
    return {"PolicyNames": ["default"], "Truncated": False}


def enable_key(ctx: RequestContext, key_id: str) -> None:
    ctx.emu.kms.enable(_managed_key(ctx, key_id))


def disable_key(ctx: RequestContext, key_id: str) -> None:
    ctx.emu.kms.disable(_managed_key(ctx, key_id))


def schedule_key_deletion(
    ctx: RequestContext, key_id: str, pending_window_in_days: int | None = None
) -> Output:
    days = 30 if pending_window_in_days is None else pending_window_in_days
    if not 7 <= days <= 30:
        raise ValidationException("PendingWindowInDays value must be between 7 and 30 (inclusive).")
    key = ctx.emu.kms.schedule_deletion(_managed_key(ctx, key_id), days)
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": PENDING_DELETION,
        "PendingWindowInDays": days,
    }


def cancel_key_deletion(ctx: RequestContext, key_id: str) -> Output:
    key = ctx.emu.kms.cancel_deletion(_managed_key(ctx, key_id))
    return {"KeyId": key.arn}


# -- rotation -------------------------------------------------------------------------------


def enable_key_rotation(
    ctx: RequestContext, key_id: str, rotation_period_in_days: int | None = None
) -> None:
    if rotation_period_in_days is not None and not 90 <= rotation_period_in_days <= 2560:
        raise ValidationException("RotationPeriodInDays must be between 90 and 2560 (inclusive).")
    ctx.emu.kms.enable_rotation(_managed_key(ctx, key_id), rotation_period_in_days)


def disable_key_rotation(ctx: RequestContext, key_id: str) -> None:
    ctx.emu.kms.disable_rotation(_managed_key(ctx, key_id))


def get_key_rotation_status(ctx: RequestContext, key_id: str) -> Output:
    key = _key(ctx, key_id, aliases=False)
    return {
        "KeyRotationEnabled": key.rotation_period_days is not None,
        "KeyId": key.arn,
        "RotationPeriodInDays": key.rotation_period_days,
        "NextRotationDate": key.next_rotation,
    }


def rotate_key_on_demand(ctx: RequestContext, key_id: str) -> Output:
    key = ctx.emu.kms.rotate_on_demand(_managed_key(ctx, key_id))
    return {"KeyId": key.arn}


def list_key_rotations(
    ctx: RequestContext,
    key_id: str,
    include_key_material: str | None = None,
    limit: int | None = None,
    marker: str | None = None,
) -> Output:
    key = _key(ctx, key_id, aliases=False)
    rotations = [v for v in ctx.emu.kms.versions(key) if v.version > 1]
    items, out = _page(rotations, marker, limit)
    return {
        "Rotations": [
            {
                "KeyId": key.arn,
                "RotationDate": v.created,
                "RotationType": "ON_DEMAND" if v.on_demand else "AUTOMATIC",
            }
            for v in items
        ],
        **out,
    }


# -- cryptography ---------------------------------------------------------------------------


def encrypt(
    ctx: RequestContext,
    key_id: str,
    plaintext: bytes,
    encryption_context: Mapping[str, str] | None = None,
    grant_tokens: list[str] | None = None,
    encryption_algorithm: str | None = None,
    dry_run: bool | None = None,
) -> Output:
    _check_algorithm(encryption_algorithm)
    key = _key(ctx, key_id)
    _dry_run(dry_run)
    blob = ctx.emu.kms.encrypt(key, plaintext, encryption_context)
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": SYMMETRIC_DEFAULT}


def _open(
    ctx: RequestContext,
    blob: bytes,
    context: Mapping[str, str] | None,
    key_id: str | None,
    action: str,
) -> tuple[bytes, KmsKey]:
    expected = None
    if key_id is not None:
        expected = ctx.emu.kms.resolve(ctx.account, ctx.region, key_id)
    source = ctx.emu.kms.blob_key(ctx.account, ctx.region, blob)
    _authorize(ctx, source.arn, action)
    return ctx.emu.kms.decrypt(ctx.account, ctx.region, blob, context, expected)


def decrypt(
    ctx: RequestContext,
    ciphertext_blob: bytes,
    encryption_context: Mapping[str, str] | None = None,
    grant_tokens: list[str] | None = None,
    key_id: str | None = None,
    encryption_algorithm: str | None = None,
    recipient: Mapping[str, Any] | None = None,
    dry_run: bool | None = None,
    dry_run_modifiers: list[str] | None = None,
) -> Output:
    _check_algorithm(encryption_algorithm)
    _no_recipient(recipient)
    plaintext, key = _open(ctx, ciphertext_blob, encryption_context, key_id, "kms:Decrypt")
    _dry_run(dry_run)
    return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": SYMMETRIC_DEFAULT}


def re_encrypt(
    ctx: RequestContext,
    ciphertext_blob: bytes,
    destination_key_id: str,
    source_encryption_context: Mapping[str, str] | None = None,
    source_key_id: str | None = None,
    destination_encryption_context: Mapping[str, str] | None = None,
    source_encryption_algorithm: str | None = None,
    destination_encryption_algorithm: str | None = None,
    grant_tokens: list[str] | None = None,
    dry_run: bool | None = None,
    dry_run_modifiers: list[str] | None = None,
) -> Output:
    _check_algorithm(source_encryption_algorithm)
    _check_algorithm(destination_encryption_algorithm)
    plaintext, source = _open(
        ctx, ciphertext_blob, source_encryption_context, source_key_id, "kms:ReEncryptFrom"
    )
    destination = ctx.emu.kms.resolve(ctx.account, ctx.region, destination_key_id)
    _authorize(ctx, destination.arn, "kms:ReEncryptTo")
    _dry_run(dry_run)
    blob = ctx.emu.kms.encrypt(destination, plaintext, destination_encryption_context)
    return {
        "CiphertextBlob": blob,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
        "DestinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }


def generate_data_key(
    ctx: RequestContext,
    key_id: str,
    encryption_context: Mapping[str, str] | None = None,
    number_of_bytes: int | None = None,
    key_spec: str | None = None,
    grant_tokens: list[str] | None = None,
    recipient: Mapping[str, Any] | None = None,
    dry_run: bool | None = None,
) -> Output:
    _no_recipient(recipient)
    length = _data_key_length(number_of_bytes, key_spec)
    key = _key(ctx, key_id)
    _dry_run(dry_run)
    plaintext, blob = ctx.emu.kms.generate_data_key(key, length, encryption_context)
    return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key.arn}


def generate_data_key_without_plaintext(
    ctx: RequestContext,
    key_id: str,
    encryption_context: Mapping[str, str] | None = None,
    key_spec: str | None = None,
    number_of_bytes: int | None = None,
    grant_tokens: list[str] | None = None,
    dry_run: bool | None = None,
) -> Output:
    length = _data_key_length(number_of_bytes, key_spec)
    key = _key(ctx, key_id)
    _dry_run(dry_run)
    _, blob = ctx.emu.kms.generate_data_key(key, length, encryption_context)
    return {"CiphertextBlob": blob, "KeyId": key.arn}


def generate_random(
    ctx: RequestContext,
    number_of_bytes: int | None = None,
    custom_key_store_id: str | None = None,
    recipient: Mapping[str, Any] | None = None,
) -> Output:
    _authorize(ctx, "*")
    _no_recipient(recipient)
    if custom_key_store_id is not None:
        raise client_error("CustomKeyStoreNotFoundException", "ccemu has no custom key stores.")
    if number_of_bytes is None:
        raise ValidationException("NumberOfBytes is required.")
    return {"Plaintext": secrets.token_bytes(number_of_bytes)}


# -- aliases --------------------------------------------------------------------------------


def _alias_out(alias: Alias) -> Output:
    return {
        "AliasName": alias.name,
        "AliasArn": alias.arn,
        "TargetKeyId": alias.key_id,
        "CreationDate": alias.created,
        "LastUpdatedDate": alias.modified,
    }


def _alias_target(ctx: RequestContext, target_key_id: str) -> KmsKey:
    key = _key(ctx, target_key_id, aliases=False)
    if key.manager != "CUSTOMER":
        raise UnsupportedOperationException(
            f"{key.arn} is an AWS managed key; an alias can only point to a customer managed key."
        )
    return key


def create_alias(ctx: RequestContext, alias_name: str, target_key_id: str) -> None:
    _check_alias_name(alias_name)
    _authorize(ctx, ctx.emu.kms.alias_arn(ctx.account, ctx.region, alias_name))
    key = _alias_target(ctx, target_key_id)
    ctx.emu.kms.create_alias(ctx.account, ctx.region, alias_name, key)


def update_alias(ctx: RequestContext, alias_name: str, target_key_id: str) -> None:
    _check_alias_name(alias_name)
    _authorize(ctx, ctx.emu.kms.alias_arn(ctx.account, ctx.region, alias_name))
    key = _alias_target(ctx, target_key_id)
    ctx.emu.kms.update_alias(ctx.account, ctx.region, alias_name, key)


def delete_alias(ctx: RequestContext, alias_name: str) -> None:
    _check_alias_name(alias_name)
    _authorize(ctx, ctx.emu.kms.alias_arn(ctx.account, ctx.region, alias_name))
    ctx.emu.kms.delete_alias(ctx.account, ctx.region, alias_name)


def list_aliases(
    ctx: RequestContext,
    key_id: str | None = None,
    limit: int | None = None,
    marker: str | None = None,
) -> Output:
    _authorize(ctx, "*")
    key = None
    if key_id is not None:
        key = ctx.emu.kms.resolve(ctx.account, ctx.region, key_id, aliases=False)
    aliases, out = _page(ctx.emu.kms.list_aliases(ctx.account, ctx.region, key), marker, limit)
    return {"Aliases": [_alias_out(a) for a in aliases], **out}


# -- tags -----------------------------------------------------------------------------------


def tag_resource(ctx: RequestContext, key_id: str, tags: list[Mapping[str, str]]) -> None:
    key = _managed_key(ctx, key_id)
    merged = {**ctx.emu.kms.tags(key), **_tags_in(tags)}
    if len(merged) > MAX_TAGS:
        raise client_error("TagException", f"A KMS key can have at most {MAX_TAGS} tags.")
    ctx.emu.kms.tag(key, _tags_in(tags))


def untag_resource(ctx: RequestContext, key_id: str, tag_keys: list[str]) -> None:
    ctx.emu.kms.untag(_managed_key(ctx, key_id), tag_keys)


def list_resource_tags(
    ctx: RequestContext, key_id: str, limit: int | None = None, marker: str | None = None
) -> Output:
    key = _key(ctx, key_id, aliases=False)
    tags, out = _page(list(ctx.emu.kms.tags(key).items()), marker, limit)
    return {"Tags": _tags_out(dict(tags)), **out}


# -- wiring ---------------------------------------------------------------------------------


def validation_error(op: OperationModel, failures: list[Invalid]) -> ServiceError:
    if any(f.reason == "type" for f in failures):
        bad = next(f for f in failures if f.reason == "type")
        return client_error("SerializationException", bad.message)
    return ValidationException(validation_message(failures))


SERVICE = ServiceSpec(
    signing_name="kms",
    model_name="kms",
    handlers=lambda model: collect_handlers(model, globals()),
    validation_error=validation_error,
)
