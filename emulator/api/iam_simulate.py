"""IAM policy simulation: SimulateCustomPolicy and SimulatePrincipalPolicy, answered by the same
evaluator every door's authorization uses.

As on AWS, the simulator knows only the context keys the caller passes in `ContextEntries`
(global keys such as `aws:username` are not filled in); keys a statement needed but did not get
come back in `MissingContextValues`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emulator.api.iam_wire import Output, allow, page
from emulator.api.service import RequestContext
from emulator.iam.entities.model import InvalidInput, NoSuchEntity
from emulator.iam.policy import (
    Evaluation,
    MalformedPolicyDocument,
    MatchedStatement,
    Policy,
    PolicyKind,
    Request,
    evaluate,
    evaluate_trust,
    parse_policy,
)
from emulator.iam.principal import Principal

# SourcePolicyType for policies passed in the request, as IAM reports them.
_INPUT_TYPE = "IAM Policy"
_LIST_TYPES = {"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"}


def _parse(documents: Sequence[str], kind: PolicyKind, label: str) -> list[Policy]:
    parsed = []
    for i, document in enumerate(documents, 1):
        try:
            parsed.append(parse_policy(document, kind).with_id(f"{label}.{i}"))
        except MalformedPolicyDocument as exc:
            raise InvalidInput(f"{label}.{i}: {exc.message}") from None
    return parsed


def _context(entries: list[dict[str, Any]] | None) -> dict[str, str | list[str]]:
    ctx: dict[str, str | list[str]] = {}
    for entry in entries or ():
        name = entry.get("ContextKeyName")
        if not name:
            continue
        values = [str(v) for v in entry.get("ContextKeyValues") or ()]
        if entry.get("ContextKeyType") in _LIST_TYPES or len(values) != 1:
            ctx[name] = values
        else:
            ctx[name] = values[0]
    return ctx


def _principal_from_arn(ctx: RequestContext, arn: str | None) -> Principal:
    """The simulated caller: `CallerArn` (a user, root or an assumed-role session), else an
    anonymous user of the account, so only the policies given decide (root would bypass them)."""
    if arn is None:
        return Principal(ctx.account, f"arn:aws:iam::{ctx.account}:user/", "", "IAMUser")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise InvalidInput(f"Invalid CallerArn: {arn}")
    service, account, resource = parts[2], parts[4], parts[5]
    if service == "iam" and resource == "root":
        return Principal.root(account)
    if service == "iam" and resource.startswith("user/"):
        name = resource.rsplit("/", 1)[-1]
        user = ctx.emu.iam.find_user(account, name)
        return Principal(
            account=account,
            arn=arn,
            user_id=user.id if user else "",
            kind="IAMUser",
            name=name,
            tags=user.tags if user else (),
        )
    if service == "sts" and resource.startswith("assumed-role/"):
        _, role, session = ([*resource.split("/"), "", ""])[:3]
        return Principal(
            account=account,
            arn=arn,
            user_id="",
            kind="AssumedRole",
            name=role,
            session_name=session,
            role_arn=f"arn:aws:iam::{account}:role/{role}",
        )
    raise InvalidInput(f"CallerArn must be an IAM user, root or assumed-role ARN: {arn}")


def _exclusions(entries: list[dict[str, Any]] | None) -> set[str]:
    """The policy ids `PolicyExclusionList` names: managed policies by ARN, inline policies by
    name (a group's as `{group}/{name}`, as `policies_for` names them), or the boundary."""
    ids: set[str] = set()
    for entry in entries or ():
        if entry.get("PolicyArn"):
            ids.add(str(entry["PolicyArn"]))
        inline = entry.get("InlinePolicyIdentifier") or {}
        if inline.get("PolicyName"):
            name = str(inline["PolicyName"])
            if str(inline.get("AttachmentType", "")).lower() == "group":
                name = f"{inline.get('AttachmentName', '')}/{name}"
            ids.add(name)
        if entry.get("PolicyType") == "permission-boundary":
            ids.add("permission-boundary")
    return ids


def _statement(m: MatchedStatement, types: dict[str, str]) -> Output:
    out: Output = {"SourcePolicyId": m.policy_id, "SourcePolicyType": types.get(m.policy_id)}
    if m.start is not None and m.end is not None:
        out["StartPosition"] = {"Line": m.start[0], "Column": m.start[1]}
        out["EndPosition"] = {"Line": m.end[0], "Column": m.end[1]}
    return out


def _simulate(
    principal: Principal,
    identity: list[Policy],
    boundaries: list[Policy],
    resource_policy: list[Policy],
    types: dict[str, str],
    action_names: list[str],
    resource_arns: list[str] | None,
    resource_owner: str | None,
    context: dict[str, str | list[str]],
    scps: Sequence[Sequence[Policy]] = (),
) -> list[Output]:
    results: list[Output] = []
    for action in action_names:
        for resource in resource_arns or ["*"]:
            request = Request(principal, action, resource, resource_owner, context)
            ev: Evaluation
            if resource_policy and resource_policy[0].kind == PolicyKind.TRUST:
                # A role's resource policy is its trust policy, which must allow on its own,
                # even in the caller's account.
                ev = evaluate_trust(
                    request,
                    resource_policy[0],
                    identity=identity,
                    boundaries=boundaries,
                    scps=scps,
                )
            else:
                ev = evaluate(
                    request,
                    identity=identity,
                    boundaries=boundaries,
                    resource=resource_policy,
                    scps=scps,
                )
            matched = [_statement(m, types) for m in ev.matched]
            result: Output = {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": ev.decision,
                "MatchedStatements": matched,
                "MissingContextValues": list(ev.missing_context_values),
                "EvalDecisionDetails": None,
                "ResourceSpecificResults": [
                    {
                        "EvalResourceName": resource,
                        "EvalResourceDecision": ev.decision,
                        "MatchedStatements": matched,
                        "MissingContextValues": list(ev.missing_context_values),
                    }
                ],
            }
            if boundaries:
                allowed_by_boundary = bool(evaluate(request, identity=boundaries).allowed)
                result["PermissionsBoundaryDecisionDetail"] = {
                    "AllowedByPermissionsBoundary": allowed_by_boundary
                }
            results.append(result)
    return results


def _page_results(
    results: list[Output], marker: str | None, max_items: int | None, listing: str
) -> Output:
    items, extra = page(results, marker, max_items, listing)
    return {"EvaluationResults": list(items), **extra}


def simulate_custom_policy(
    ctx: RequestContext,
    policy_input_list: list[str],
    action_names: list[str],
    permissions_boundary_policy_input_list: list[str] | None = None,
    ordered_organization_policy_input_list: list[dict[str, Any]] | None = None,
    resource_arns: list[str] | None = None,
    resource_policy: str | None = None,
    resource_owner: str | None = None,
    caller_arn: str | None = None,
    context_entries: list[dict[str, Any]] | None = None,
    resource_handling_option: str | None = None,
    max_items: int | None = None,
    marker: str | None = None,
) -> Output:
    allow(ctx, "*")
    identity = _parse(policy_input_list, PolicyKind.IDENTITY, "PolicyInputList")
    boundaries = _parse(
        permissions_boundary_policy_input_list or [],
        PolicyKind.PERMISSIONS_BOUNDARY,
        "PermissionsBoundaryPolicyInputList",
    )
    # Simulating sts:AssumeRole on a role, the resource policy is the role's trust policy.
    trust = bool(action_names) and all(a.lower().startswith("sts:assumerole") for a in action_names)
    resource = _parse(
        [resource_policy] if resource_policy else [],
        PolicyKind.TRUST if trust else PolicyKind.RESOURCE,
        "ResourcePolicy",
    )
    # Each element is one level of the organization, root first; every level must allow.
    scps: list[Sequence[Policy]] = [
        _parse(
            level.get("ServiceControlPolicyInputList") or [],
            PolicyKind.SCP,
            f"OrderedOrganizationPolicyInputList.{i}",
        )
        for i, level in enumerate(ordered_organization_policy_input_list or [], 1)
    ]
    types = {p.policy_id or "": _INPUT_TYPE for p in identity + boundaries}
    types.update({p.policy_id or "": "resource" for p in resource})
    types.update({p.policy_id or "": "organizations" for level in scps for p in level})
    results = _simulate(
        _principal_from_arn(ctx, caller_arn),
        identity,
        boundaries,
        resource,
        types,
        action_names,
        resource_arns,
        resource_owner,
        _context(context_entries),
        scps,
    )
    listing = f"simulate:{len(action_names)}:{len(resource_arns or ())}"
    return _page_results(results, marker, max_items, listing)


def simulate_principal_policy(
    ctx: RequestContext,
    policy_source_arn: str,
    action_names: list[str],
    policy_input_list: list[str] | None = None,
    permissions_boundary_policy_input_list: list[str] | None = None,
    policy_exclusion_list: list[dict[str, Any]] | None = None,
    resource_arns: list[str] | None = None,
    resource_policy: str | None = None,
    resource_owner: str | None = None,
    caller_arn: str | None = None,
    context_entries: list[dict[str, Any]] | None = None,
    resource_handling_option: str | None = None,
    max_items: int | None = None,
    marker: str | None = None,
) -> Output:
    allow(ctx, policy_source_arn)
    iam = ctx.emu.iam
    parts = policy_source_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or parts[4] != ctx.account:
        raise NoSuchEntity(f"Entity {policy_source_arn} does not exist.")
    kind, _, rest = parts[5].partition("/")
    name = rest.rsplit("/", 1)[-1]
    principal: Principal
    if kind == "user":
        user = iam.get_user(ctx.account, name)
        principal = Principal(
            ctx.account, user.arn, user.id, "IAMUser", name=user.name, tags=user.tags
        )
    elif kind == "role":
        role = iam.entities.get_role(ctx.account, name)
        principal = Principal(
            ctx.account,
            f"arn:aws:sts::{ctx.account}:assumed-role/{role.name}/simulation",
            f"{role.id}:simulation",
            "AssumedRole",
            name=role.name,
            role_arn=role.arn,
            session_name="simulation",
            tags=role.tags,
        )
    elif kind == "group":
        group = iam.entities.get_group(ctx.account, name)
        principal = Principal(ctx.account, group.arn, group.id, "IAMUser", name=group.name)
    else:
        raise InvalidInput(f"PolicySourceArn must name a user, group or role: {policy_source_arn}")
    types: dict[str, str] = {}
    identity: list[Policy] = []
    boundaries: list[Policy] = []
    excluded = _exclusions(policy_exclusion_list)
    if kind == "group":
        for p in iam.policies.inline(group.id):
            identity.append(parse_policy(p.document, PolicyKind.IDENTITY).with_id(p.name))
            types[p.name] = "group"
        for arn in iam.policies.attached(group.id):
            doc = iam.policies.default_document(ctx.account, arn)
            identity.append(parse_policy(doc, PolicyKind.IDENTITY).with_id(arn))
            types[arn] = "aws-managed" if ":aws:policy" in arn else "user-managed"
    else:
        resolved = iam.policies_for(principal)
        for ref, parsed in zip(resolved.identity, resolved.parsed, strict=True):
            types[ref.policy_id] = ref.policy_type
            identity.append(parsed)
        if resolved.parsed_boundary is not None:
            boundaries.append(resolved.parsed_boundary)
            types[resolved.parsed_boundary.policy_id or ""] = "none"
    identity = [p for p in identity if (p.policy_id or "") not in excluded]
    if "permission-boundary" in excluded:
        boundaries = []
    extra = _parse(policy_input_list or [], PolicyKind.IDENTITY, "PolicyInputList")
    identity += extra
    types.update({p.policy_id or "": _INPUT_TYPE for p in extra})
    if permissions_boundary_policy_input_list:
        boundaries = _parse(
            permissions_boundary_policy_input_list,
            PolicyKind.PERMISSIONS_BOUNDARY,
            "PermissionsBoundaryPolicyInputList",
        )
        types.update({p.policy_id or "": _INPUT_TYPE for p in boundaries})
    # Simulating sts:AssumeRole on a role, the resource policy is the role's trust policy.
    trust = bool(action_names) and all(a.lower().startswith("sts:assumerole") for a in action_names)
    resource = _parse(
        [resource_policy] if resource_policy else [],
        PolicyKind.TRUST if trust else PolicyKind.RESOURCE,
        "ResourcePolicy",
    )
    types.update({p.policy_id or "": "resource" for p in resource})
    caller = _principal_from_arn(ctx, caller_arn) if caller_arn else principal
    results = _simulate(
        caller,
        identity,
        boundaries,
        resource,
        types,
        action_names,
        resource_arns,
        resource_owner,
        _context(context_entries),
    )
    listing = f"simulate:{policy_source_arn}:{len(action_names)}:{len(resource_arns or ())}"
    return _page_results(results, marker, max_items, listing)
