"""IAM policy operations: inline policies of users, groups and roles; managed policies, their
versions and attachments; permissions boundaries."""

from __future__ import annotations

from emulator.api.iam_wire import (
    Output,
    allow,
    document_out,
    iam_arn,
    page,
    tags_in,
    tags_out,
)
from emulator.api.service import RequestContext
from emulator.iam.entities.model import (
    Group,
    InvalidInput,
    ManagedPolicy,
    PolicyVersion,
    Role,
    User,
    check_path_prefix,
)

Owner = User | Group | Role


def _owner(ctx: RequestContext, kind: str, name: str) -> Owner:
    entities = ctx.emu.iam.entities
    owner: Owner
    if kind == "user":
        owner = entities.get_user(ctx.account, name)
    elif kind == "group":
        owner = entities.get_group(ctx.account, name)
    else:
        owner = entities.get_role(ctx.account, name)
    allow(ctx, owner.arn)
    return owner


# -- inline ---------------------------------------------------------------------------------


def _put(ctx: RequestContext, kind: str, owner_name: str, name: str, document: str) -> None:
    owner = _owner(ctx, kind, owner_name)
    ctx.emu.iam.policies.put_inline(kind, owner.id, owner.name, name, document)


def _get(ctx: RequestContext, kind: str, owner_name: str, name: str) -> Output:
    owner = _owner(ctx, kind, owner_name)
    policy = ctx.emu.iam.policies.get_inline(kind, owner.id, owner.name, name)
    key = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
    return {
        key: owner.name,
        "PolicyName": policy.name,
        "PolicyDocument": document_out(policy.document),
    }


def _delete(ctx: RequestContext, kind: str, owner_name: str, name: str) -> None:
    owner = _owner(ctx, kind, owner_name)
    ctx.emu.iam.policies.delete_inline(kind, owner.id, name)


def _list(
    ctx: RequestContext, kind: str, owner_name: str, marker: str | None, max_items: int | None
) -> Output:
    owner = _owner(ctx, kind, owner_name)
    names = [p.name for p in ctx.emu.iam.policies.inline(owner.id)]
    items, extra = page(names, marker, max_items, f"inline:{owner.id}")
    return {"PolicyNames": list(items), **extra}


def put_user_policy(
    ctx: RequestContext, user_name: str, policy_name: str, policy_document: str
) -> None:
    _put(ctx, "user", user_name, policy_name, policy_document)


def put_group_policy(
    ctx: RequestContext, group_name: str, policy_name: str, policy_document: str
) -> None:
    _put(ctx, "group", group_name, policy_name, policy_document)


def put_role_policy(
    ctx: RequestContext, role_name: str, policy_name: str, policy_document: str
) -> None:
    _put(ctx, "role", role_name, policy_name, policy_document)


def get_user_policy(ctx: RequestContext, user_name: str, policy_name: str) -> Output:
    return _get(ctx, "user", user_name, policy_name)


def get_group_policy(ctx: RequestContext, group_name: str, policy_name: str) -> Output:
    return _get(ctx, "group", group_name, policy_name)


def get_role_policy(ctx: RequestContext, role_name: str, policy_name: str) -> Output:
    return _get(ctx, "role", role_name, policy_name)


def delete_user_policy(ctx: RequestContext, user_name: str, policy_name: str) -> None:
    _delete(ctx, "user", user_name, policy_name)


def delete_group_policy(ctx: RequestContext, group_name: str, policy_name: str) -> None:
    _delete(ctx, "group", group_name, policy_name)


def delete_role_policy(ctx: RequestContext, role_name: str, policy_name: str) -> None:
    _delete(ctx, "role", role_name, policy_name)


def list_user_policies(
    ctx: RequestContext, user_name: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    return _list(ctx, "user", user_name, marker, max_items)


def list_group_policies(
    ctx: RequestContext, group_name: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    return _list(ctx, "group", group_name, marker, max_items)


def list_role_policies(
    ctx: RequestContext, role_name: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    return _list(ctx, "role", role_name, marker, max_items)


# -- managed policies -----------------------------------------------------------------------


def policy_out(policy: ManagedPolicy, *, with_tags: bool = True) -> Output:
    return {
        "PolicyName": policy.name,
        "PolicyId": policy.id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version,
        "AttachmentCount": policy.attachment_count,
        "PermissionsBoundaryUsageCount": policy.boundary_count,
        "IsAttachable": True,
        "Description": policy.description if with_tags else None,
        "CreateDate": policy.created,
        "UpdateDate": policy.updated,
        "Tags": tags_out(policy.tags) if with_tags and policy.tags else None,
    }


def version_out(version: PolicyVersion, *, document: bool = True) -> Output:
    return {
        "Document": document_out(version.document) if document else None,
        "VersionId": version.version_id,
        "IsDefaultVersion": version.is_default,
        "CreateDate": version.created,
    }


def create_policy(
    ctx: RequestContext,
    policy_name: str,
    policy_document: str,
    path: str | None = None,
    description: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Output:
    allow(ctx, iam_arn(ctx, "policy", path or "/", policy_name))
    policy = ctx.emu.iam.policies.create_policy(
        ctx.account, policy_name, policy_document, path, description, tags_in(tags)
    )
    return {"Policy": policy_out(policy)}


def _policy(ctx: RequestContext, arn: str) -> ManagedPolicy:
    policy = ctx.emu.iam.policies.get_policy(ctx.account, arn)
    allow(ctx, arn)
    return policy


def get_policy(ctx: RequestContext, policy_arn: str) -> Output:
    return {"Policy": policy_out(_policy(ctx, policy_arn))}


def delete_policy(ctx: RequestContext, policy_arn: str) -> None:
    _policy(ctx, policy_arn)
    ctx.emu.iam.policies.delete_policy(ctx.account, policy_arn)


def get_policy_version(ctx: RequestContext, policy_arn: str, version_id: str) -> Output:
    _policy(ctx, policy_arn)
    version = ctx.emu.iam.policies.get_version(ctx.account, policy_arn, version_id)
    return {"PolicyVersion": version_out(version)}


def create_policy_version(
    ctx: RequestContext, policy_arn: str, policy_document: str, set_as_default: bool | None = None
) -> Output:
    _policy(ctx, policy_arn)
    version = ctx.emu.iam.policies.create_version(
        ctx.account, policy_arn, policy_document, bool(set_as_default)
    )
    return {"PolicyVersion": version_out(version, document=False)}


def delete_policy_version(ctx: RequestContext, policy_arn: str, version_id: str) -> None:
    _policy(ctx, policy_arn)
    ctx.emu.iam.policies.delete_version(ctx.account, policy_arn, version_id)


def set_default_policy_version(ctx: RequestContext, policy_arn: str, version_id: str) -> None:
    _policy(ctx, policy_arn)
    ctx.emu.iam.policies.set_default_version(ctx.account, policy_arn, version_id)


def list_policy_versions(
    ctx: RequestContext, policy_arn: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    _policy(ctx, policy_arn)
    versions = ctx.emu.iam.policies.versions(ctx.account, policy_arn)
    items, extra = page(versions, marker, max_items, f"versions:{policy_arn}")
    return {"Versions": [version_out(v, document=False) for v in items], **extra}


def list_policies(
    ctx: RequestContext,
    scope: str | None = None,
    only_attached: bool | None = None,
    path_prefix: str | None = None,
    policy_usage_filter: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    allow(ctx, iam_arn(ctx, "policy", "/", "*"))
    prefix = check_path_prefix(path_prefix)
    scope = scope or "All"
    found = []
    for p in ctx.emu.iam.policies.list_policies(ctx.account):
        if (scope == "AWS" and not p.aws_managed) or (scope == "Local" and p.aws_managed):
            continue
        if not p.path.startswith(prefix):
            continue
        if only_attached and not p.attachment_count:
            continue
        if policy_usage_filter == "PermissionsPolicy" and not p.attachment_count:
            continue
        if policy_usage_filter == "PermissionsBoundary" and not p.boundary_count:
            continue
        found.append(p)
    listing = f"policies:{scope}:{only_attached}:{prefix}:{policy_usage_filter}"
    items, extra = page(found, marker, max_items, listing)
    return {"Policies": [policy_out(p, with_tags=False) for p in items], **extra}


def tag_policy(ctx: RequestContext, policy_arn: str, tags: list[dict[str, str]]) -> None:
    policy = _policy(ctx, policy_arn)
    if policy.aws_managed:
        raise InvalidInput(f"Cannot tag an AWS managed policy: {policy_arn}")
    ctx.emu.iam.entities.tag(policy.id, tags_in(tags))


def untag_policy(ctx: RequestContext, policy_arn: str, tag_keys: list[str]) -> None:
    policy = _policy(ctx, policy_arn)
    ctx.emu.iam.entities.untag(policy.id, tag_keys)


def list_policy_tags(
    ctx: RequestContext, policy_arn: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    policy = _policy(ctx, policy_arn)
    items, extra = page(policy.tags, marker, max_items, f"policy-tags:{policy.id}")
    return {"Tags": tags_out(tuple(items)), **extra}
