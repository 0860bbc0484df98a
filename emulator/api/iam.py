"""IAM (`iam-2010-05-08`, query protocol): users, groups, roles and their tags.

Policy operations live in `iam_policies` and `iam_attachments`, simulation in `iam_simulate`,
credentials (access keys, SSH keys, service-specific credentials) in `iam_credentials`;
`SERVICE` collects the handlers of all of them by the name botocore gives each operation.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from botocore.model import ServiceModel

from emulator.api import iam_attachments, iam_login, iam_policies, iam_simulate
from emulator.api.iam_wire import (
    Output,
    allow,
    group_out,
    iam_arn,
    page,
    role_out,
    tags_in,
    tags_out,
    user_out,
    validation_error,
)
from emulator.api.service import Handler, RequestContext, ServiceSpec, collect_handlers
from emulator.iam.entities.model import check_path_prefix

# -- users ----------------------------------------------------------------------------------


def create_user(
    ctx: RequestContext,
    user_name: str,
    path: str | None = None,
    permissions_boundary: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Output:
    allow(ctx, iam_arn(ctx, "user", path or "/", user_name))
    iam = ctx.emu.iam
    if permissions_boundary is not None:
        iam.policies.get_policy(ctx.account, permissions_boundary)
    user = iam.entities.create_user(ctx.account, user_name, path, tags_in(tags))
    if permissions_boundary is not None:
        iam.put_boundary(ctx.account, "user", user.name, permissions_boundary)
        user = iam.get_user(ctx.account, user.name)
    return {"User": user_out(user)}


def get_user(ctx: RequestContext, user_name: str | None = None) -> Output:
    if user_name is None:
        # Without a name, GetUser describes the caller (root has no user name).
        p = ctx.principal
        if p.kind == "IAMUser" and p.name:
            user_name = p.name
        else:
            return {"User": {"UserId": p.user_id, "Arn": p.arn, "Path": "/", "UserName": ""}}
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    return {"User": user_out(user)}


def list_users(
    ctx: RequestContext,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    allow(ctx, iam_arn(ctx, "user", "/", "*"))
    prefix = check_path_prefix(path_prefix)
    users = ctx.emu.iam.entities.list_users(ctx.account, prefix)
    items, extra = page(users, marker, max_items, f"users:{prefix}")
    return {"Users": [user_out(u, with_tags=False) for u in items], **extra}


def update_user(
    ctx: RequestContext,
    user_name: str,
    new_path: str | None = None,
    new_user_name: str | None = None,
) -> None:
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    ctx.emu.iam.entities.update_user(ctx.account, user_name, new_user_name, new_path)


def delete_user(ctx: RequestContext, user_name: str) -> None:
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    ctx.emu.iam.delete_user(ctx.account, user_name)


def tag_user(ctx: RequestContext, user_name: str, tags: list[dict[str, str]]) -> None:
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    ctx.emu.iam.entities.tag(user.id, tags_in(tags))


def untag_user(ctx: RequestContext, user_name: str, tag_keys: list[str]) -> None:
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    ctx.emu.iam.entities.untag(user.id, tag_keys)


def list_user_tags(
    ctx: RequestContext, user_name: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    items, extra = page(user.tags, marker, max_items, f"user-tags:{user.id}")
    return {"Tags": tags_out(tuple(items)), **extra}


# -- groups ---------------------------------------------------------------------------------


def create_group(ctx: RequestContext, group_name: str, path: str | None = None) -> Output:
    allow(ctx, iam_arn(ctx, "group", path or "/", group_name))
    return {"Group": group_out(ctx.emu.iam.entities.create_group(ctx.account, group_name, path))}


def get_group(
    ctx: RequestContext, group_name: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    entities = ctx.emu.iam.entities
    group = entities.get_group(ctx.account, group_name)
    allow(ctx, group.arn)
    users, extra = page(entities.group_members(group), marker, max_items, f"members:{group.id}")
    return {
        "Group": group_out(group),
        "Users": [user_out(u, with_tags=False) for u in users],
        **extra,
    }


def list_groups(
    ctx: RequestContext,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    allow(ctx, iam_arn(ctx, "group", "/", "*"))
    prefix = check_path_prefix(path_prefix)
    groups = ctx.emu.iam.entities.list_groups(ctx.account, prefix)
    items, extra = page(groups, marker, max_items, f"groups:{prefix}")
    return {"Groups": [group_out(g) for g in items], **extra}


def update_group(
    ctx: RequestContext,
    group_name: str,
    new_path: str | None = None,
    new_group_name: str | None = None,
) -> None:
    group = ctx.emu.iam.entities.get_group(ctx.account, group_name)
    allow(ctx, group.arn)
    ctx.emu.iam.entities.update_group(ctx.account, group_name, new_group_name, new_path)


def delete_group(ctx: RequestContext, group_name: str) -> None:
    group = ctx.emu.iam.entities.get_group(ctx.account, group_name)
    allow(ctx, group.arn)
    ctx.emu.iam.delete_group(ctx.account, group_name)


def add_user_to_group(ctx: RequestContext, group_name: str, user_name: str) -> None:
    group = ctx.emu.iam.entities.get_group(ctx.account, group_name)
    allow(ctx, group.arn)
    ctx.emu.iam.entities.add_user_to_group(ctx.account, group_name, user_name)


def remove_user_from_group(ctx: RequestContext, group_name: str, user_name: str) -> None:
    group = ctx.emu.iam.entities.get_group(ctx.account, group_name)
    allow(ctx, group.arn)
    ctx.emu.iam.entities.remove_user_from_group(ctx.account, group_name, user_name)


def list_groups_for_user(
    ctx: RequestContext, user_name: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    user = ctx.emu.iam.get_user(ctx.account, user_name)
    allow(ctx, user.arn)
    groups = ctx.emu.iam.entities.groups_for_user(user)
    items, extra = page(groups, marker, max_items, f"user-groups:{user.id}")
    return {"Groups": [group_out(g) for g in items], **extra}


# -- roles ----------------------------------------------------------------------------------


def create_role(
    ctx: RequestContext,
    role_name: str,
    assume_role_policy_document: str,
    path: str | None = None,
    description: str | None = None,
    max_session_duration: int | None = None,
    permissions_boundary: str | None = None,
    tags: list[dict[str, str]] | None = None,
) -> Output:
    allow(ctx, iam_arn(ctx, "role", path or "/", role_name))
    iam = ctx.emu.iam
    if permissions_boundary is not None:
        iam.policies.get_policy(ctx.account, permissions_boundary)
    role = iam.entities.create_role(
        ctx.account,
        role_name,
        assume_role_policy_document,
        path,
        description,
        max_session_duration,
        tags_in(tags),
    )
    if permissions_boundary is not None:
        iam.put_boundary(ctx.account, "role", role.name, permissions_boundary)
        role = iam.entities.get_role(ctx.account, role.name)
    return {"Role": role_out(role)}


def get_role(ctx: RequestContext, role_name: str) -> Output:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    return {"Role": role_out(role)}


def list_roles(
    ctx: RequestContext,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    allow(ctx, iam_arn(ctx, "role", "/", "*"))
    prefix = check_path_prefix(path_prefix)
    roles = ctx.emu.iam.entities.list_roles(ctx.account, prefix)
    items, extra = page(roles, marker, max_items, f"roles:{prefix}")
    return {"Roles": [role_out(r, with_tags=False) for r in items], **extra}


def update_role(
    ctx: RequestContext,
    role_name: str,
    description: str | None = None,
    max_session_duration: int | None = None,
) -> None:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    ctx.emu.iam.entities.update_role(
        role, description=description, max_session_duration=max_session_duration
    )


def update_role_description(ctx: RequestContext, role_name: str, description: str) -> Output:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    ctx.emu.iam.entities.update_role(role, description=description)
    return {"Role": role_out(ctx.emu.iam.entities.get_role(ctx.account, role_name))}


def update_assume_role_policy(ctx: RequestContext, role_name: str, policy_document: str) -> None:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    ctx.emu.iam.entities.update_role(role, trust_policy=policy_document)


def delete_role(ctx: RequestContext, role_name: str) -> None:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    ctx.emu.iam.delete_role(ctx.account, role_name)


def tag_role(ctx: RequestContext, role_name: str, tags: list[dict[str, str]]) -> None:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    ctx.emu.iam.entities.tag(role.id, tags_in(tags))


def untag_role(ctx: RequestContext, role_name: str, tag_keys: list[str]) -> None:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    ctx.emu.iam.entities.untag(role.id, tag_keys)


def list_role_tags(
    ctx: RequestContext, role_name: str, marker: str | None = None, max_items: int | None = None
) -> Output:
    role = ctx.emu.iam.entities.get_role(ctx.account, role_name)
    allow(ctx, role.arn)
    items, extra = page(role.tags, marker, max_items, f"role-tags:{role.id}")
    return {"Tags": tags_out(tuple(items)), **extra}


# -- the service ----------------------------------------------------------------------------


def _handlers(model: ServiceModel) -> dict[str, Handler]:
    namespaces: list[dict[str, Any]] = [
        globals(),
        vars(iam_policies),
        vars(iam_attachments),
        vars(iam_simulate),
        vars(iam_login),
    ]
    # Access keys, SSH keys and service-specific credentials, once that module exists.
    if importlib.util.find_spec("emulator.api.iam_credentials") is not None:
        namespaces.append(vars(importlib.import_module("emulator.api.iam_credentials")))
    found: dict[str, Handler] = {}
    for namespace in namespaces:
        found.update(collect_handlers(model, namespace))
    return found


SERVICE = ServiceSpec(
    signing_name="iam",
    model_name="iam",
    handlers=_handlers,
    validation_error=validation_error,
)
