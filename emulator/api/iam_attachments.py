"""IAM attachments of managed policies to users, groups and roles, the listings built on
them, and permissions boundaries."""

from __future__ import annotations

from typing import Any

from emulator.api.iam_policies import Owner, _owner, _policy
from emulator.api.iam_wire import Output, page
from emulator.api.service import RequestContext
from emulator.iam.entities.model import Role, User, check_path_prefix

# -- attachments ----------------------------------------------------------------------------


def _attach(ctx: RequestContext, kind: str, name: str, arn: str) -> None:
    owner = _owner(ctx, kind, name)
    ctx.emu.iam.policies.attach(ctx.account, kind, owner.id, arn)


def _detach(ctx: RequestContext, kind: str, name: str, arn: str) -> None:
    owner = _owner(ctx, kind, name)
    ctx.emu.iam.policies.detach(ctx.account, owner.id, arn)


def _attached(
    ctx: RequestContext,
    kind: str,
    name: str,
    path_prefix: str | None,
    marker: str | None,
    max_items: int | None,
) -> Output:
    owner = _owner(ctx, kind, name)
    prefix = check_path_prefix(path_prefix)
    policies = ctx.emu.iam.policies
    found = [policies.get_policy(ctx.account, arn) for arn in policies.attached(owner.id)]
    found = [p for p in found if p.path.startswith(prefix)]
    items, extra = page(found, marker, max_items, f"attached:{owner.id}:{prefix}")
    return {
        "AttachedPolicies": [{"PolicyName": p.name, "PolicyArn": p.arn} for p in items],
        **extra,
    }


def attach_user_policy(ctx: RequestContext, user_name: str, policy_arn: str) -> None:
    _attach(ctx, "user", user_name, policy_arn)


def attach_group_policy(ctx: RequestContext, group_name: str, policy_arn: str) -> None:
    _attach(ctx, "group", group_name, policy_arn)


def attach_role_policy(ctx: RequestContext, role_name: str, policy_arn: str) -> None:
    _attach(ctx, "role", role_name, policy_arn)


def detach_user_policy(ctx: RequestContext, user_name: str, policy_arn: str) -> None:
    _detach(ctx, "user", user_name, policy_arn)


def detach_group_policy(ctx: RequestContext, group_name: str, policy_arn: str) -> None:
    _detach(ctx, "group", group_name, policy_arn)


def detach_role_policy(ctx: RequestContext, role_name: str, policy_arn: str) -> None:
    _detach(ctx, "role", role_name, policy_arn)


def list_attached_user_policies(
    ctx: RequestContext,
    user_name: str,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    return _attached(ctx, "user", user_name, path_prefix, marker, max_items)


def list_attached_group_policies(
    ctx: RequestContext,
    group_name: str,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    return _attached(ctx, "group", group_name, path_prefix, marker, max_items)


def list_attached_role_policies(
    ctx: RequestContext,
    role_name: str,
    path_prefix: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    return _attached(ctx, "role", role_name, path_prefix, marker, max_items)


def list_entities_for_policy(
    ctx: RequestContext,
    policy_arn: str,
    entity_filter: str | None = None,
    path_prefix: str | None = None,
    policy_usage_filter: str | None = None,
    marker: str | None = None,
    max_items: int | None = None,
) -> Output:
    _policy(ctx, policy_arn)
    prefix = check_path_prefix(path_prefix)
    iam = ctx.emu.iam
    by_id: dict[str, Owner] = {}
    for u in iam.entities.list_users(ctx.account, prefix):
        by_id[u.id] = u
    for g in iam.entities.list_groups(ctx.account, prefix):
        by_id[g.id] = g
    for r in iam.entities.list_roles(ctx.account, prefix):
        by_id[r.id] = r
    rows: list[tuple[str, Owner]] = []
    if policy_usage_filter != "PermissionsBoundary":
        rows += [
            (k, by_id[o])
            for k, o in iam.policies.attached_to(ctx.account, policy_arn)
            if o in by_id
        ]
    if policy_usage_filter == "PermissionsBoundary":
        rows += [
            ("user" if isinstance(e, User) else "role", e)
            for e in by_id.values()
            if isinstance(e, User | Role) and e.boundary_arn == policy_arn
        ]
    wanted = {"User": "user", "Group": "group", "Role": "role"}.get(entity_filter or "")
    if wanted is not None:
        rows = [r for r in rows if r[0] == wanted]
    elif entity_filter is not None:
        rows = []  # LocalManagedPolicy / AWSManagedPolicy name no attachable entities
    items, extra = page(rows, marker, max_items, f"entities:{policy_arn}:{entity_filter}:{prefix}")
    out: dict[str, list[Any]] = {"PolicyUsers": [], "PolicyGroups": [], "PolicyRoles": []}
    for kind, entity in items:
        if kind == "user":
            out["PolicyUsers"].append({"UserName": entity.name, "UserId": entity.id})
        elif kind == "group":
            out["PolicyGroups"].append({"GroupName": entity.name, "GroupId": entity.id})
        else:
            out["PolicyRoles"].append({"RoleName": entity.name, "RoleId": entity.id})
    return {**out, **extra}


# -- permissions boundaries -----------------------------------------------------------------


def put_user_permissions_boundary(
    ctx: RequestContext, user_name: str, permissions_boundary: str
) -> None:
    _owner(ctx, "user", user_name)
    ctx.emu.iam.put_boundary(ctx.account, "user", user_name, permissions_boundary)


def put_role_permissions_boundary(
    ctx: RequestContext, role_name: str, permissions_boundary: str
) -> None:
    _owner(ctx, "role", role_name)
    ctx.emu.iam.put_boundary(ctx.account, "role", role_name, permissions_boundary)


def delete_user_permissions_boundary(ctx: RequestContext, user_name: str) -> None:
    _owner(ctx, "user", user_name)
    ctx.emu.iam.delete_boundary(ctx.account, "user", user_name)


def delete_role_permissions_boundary(ctx: RequestContext, role_name: str) -> None:
    _owner(ctx, "role", role_name)
    ctx.emu.iam.delete_boundary(ctx.account, "role", role_name)
