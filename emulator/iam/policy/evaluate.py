"""AWS's policy evaluation logic (IAM User Guide, "Policy evaluation logic" and "Cross-account
policy evaluation logic"):

1. An explicit Deny in any applicable policy decides: explicitDeny.
2. Service control policies: every organisational level must allow, or implicitDeny.
3. The identity side allows when an identity-based policy allows and so does every permissions
   boundary and session policy present (their intersection). The account's root user has every
   permission in its own account, so its identity side always allows.
4. Same account: the identity side or a resource-based policy allows. A resource-based policy
   that names the caller itself (user ARN, session ARN, or "*") is not limited by a boundary or
   session policy; one that names the session's role is; one that names only the account
   delegates to the identity side. Role trust policies are the exception that "must explicitly
   allow": with a trust policy the resource side is always required.
5. Another account: both the identity side and the resource side must allow.
Everything else is implicitDeny.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from emulator.iam.policy.conditions import conditions_hold
from emulator.iam.policy.model import Policy, PolicyKind, Position
from emulator.iam.policy.principals import Via
from emulator.iam.policy.request import Request

Decision = Literal["allowed", "explicitDeny", "implicitDeny"]
PolicyInput = Policy
ScpLevel = Policy | Sequence[Policy]

_LABEL = {
    "identity": "identity-based",
    "resource": "resource-based",
    "trust": "resource-based",
    "permissions_boundary": "permissions boundary",
    "session": "session",
    "scp": "service control",
}


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    """A statement that applied to the request: what the simulator's MatchedStatements list."""

    policy_id: str
    policy_type: str  # a PolicyKind value
    sid: str | None
    effect: str
    index: int  # 0-based position in the policy's Statement list
    start: Position | None = None  # (line, column) in the document text
    end: Position | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    # The statements that determine the decision: the Deny statements for explicitDeny, the
    # Allow statements for allowed, none for implicitDeny.
    matched: tuple[MatchedStatement, ...]
    # Condition keys (and policy-variable keys) the request lacked in statements that applied
    # to the action and resource.
    missing_context_values: tuple[str, ...]
    # Why, in the words of AWS's AccessDenied messages: "with an explicit deny in an
    # identity-based policy", "because no identity-based policy allows the s3:GetObject action".
    reason: str

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


@dataclass
class _Hits:
    allows: list[tuple[MatchedStatement, Via | None]]
    denies: list[MatchedStatement]


def _scan(
    policies: Sequence[Policy], slot: str, request: Request, missing: set[str], principal: bool
) -> _Hits:
    hits = _Hits([], [])
    action, resource, lookup = request.action, request.resource, request.lookup
    for n, policy in enumerate(policies):
        for st in policy.statements:
            if st.actions.matches(action) == st.not_action:
                continue
            if st.resources is not None and (
                st.resources.matches(resource, lookup, missing) == st.not_resource
            ):
                continue
            via: Via | None = None
            if principal:
                if st.principal is None:
                    continue
                via = st.principal.match(request.principal)
                if st.not_principal:
                    via = None if via is not None else "anyone"
                if via is None:
                    continue
            if st.conditions and not conditions_hold(st.conditions, lookup, missing):
                continue
            matched = MatchedStatement(
                policy.policy_id or f"{slot}.{n + 1}",
                policy.kind.value,
                st.sid,
                st.effect,
                st.index,
                st.start,
                st.end,
            )
            if st.effect == "Deny":
                hits.denies.append(matched)
            else:
                hits.allows.append((matched, via))
    return hits


def _levels(scps: Sequence[ScpLevel]) -> list[Sequence[Policy]]:
    return [[level] if isinstance(level, Policy) else level for level in scps]


def evaluate(
    request: Request,
    *,
    identity: Sequence[Policy] = (),
    boundaries: Sequence[Policy] = (),
    session: Sequence[Policy] = (),
    resource: Sequence[Policy] = (),
    scps: Sequence[ScpLevel] = (),
) -> Evaluation:
    """Decide `request` against the policies that apply to it.

    `identity`: the caller's identity-based policies (inline and attached, groups included).
    `boundaries`: its permissions boundary, if any. `session`: the session policies of an
    assumed-role or federated session. `resource`: the resource's resource-based policy, or the
    role's trust policy for sts:AssumeRole. `scps`: one entry per organisational level (a
    policy, or the several policies attached at that level); each level must allow.
    """
    missing: set[str] = set()
    levels = _levels(scps)
    scp_hits = [_scan(level, "scp", request, missing, False) for level in levels]
    res = _scan(resource, "resource", request, missing, True)
    ident = _scan(identity, "identity", request, missing, False)
    bound = _scan(boundaries, "permissions_boundary", request, missing, False)
    sess = _scan(session, "session", request, missing, False)
    missing_values = tuple(sorted(missing))
    action = request.action

    denies = [d for h in (*scp_hits, res, ident, bound, sess) for d in h.denies]
    if denies:
        label = _LABEL[denies[0].policy_type]
        article = "an" if label[0] in "aeiou" else "a"
        return Evaluation(
            "explicitDeny", tuple(denies), missing_values,
            f"with an explicit deny in {article} {label} policy",
        )  # fmt: skip

    def implicit(label: str) -> Evaluation:
        return Evaluation(
            "implicitDeny",
            (),
            missing_values,
            f"because no {label} policy allows the {action} action",
        )

    if any(not h.allows for h in scp_hits):
        return implicit("service control")

    principal = request.principal
    kind = principal.kind
    limits_ok = (not boundaries or bool(bound.allows)) and (not session or bool(sess.allows))
    if kind == "Root":
        identity_side = True
    elif kind in ("Service", "Federated"):
        identity_side = False
    else:
        identity_side = bool(ident.allows) and limits_ok
    vias = {via for _, via in res.allows}
    direct = "principal" in vias or "anyone" in vias or ("role" in vias and limits_ok)
    by_account = "account" in vias
    needs_resource = any(p.kind == PolicyKind.TRUST for p in resource)

    if principal.account == request.owner:
        if needs_resource:
            allowed = direct or (by_account and identity_side)
        else:
            allowed = identity_side or direct
    else:
        allowed = identity_side and (direct or by_account)

    if allowed:
        allows = [m for h in (*scp_hits, res, ident, bound, sess) for m, _ in h.allows]
        return Evaluation("allowed", tuple(allows), missing_values, "")
    if not identity_side and (not needs_resource or res.allows):
        if not ident.allows and kind not in ("Service", "Federated"):
            return implicit("identity-based")
        if boundaries and not bound.allows:
            return implicit("permissions boundary")
        if session and not sess.allows:
            return implicit("session")
    return implicit("resource-based")


def evaluate_trust(
    request: Request,
    trust: Policy,
    *,
    identity: Sequence[Policy] = (),
    boundaries: Sequence[Policy] = (),
    session: Sequence[Policy] = (),
    scps: Sequence[ScpLevel] = (),
) -> Evaluation:
    """sts:AssumeRole (or AssumeRoleWith*, TagSession) against the role's trust policy:
    `request.resource` is the role's ARN, `request.resource_account` its account."""
    if trust.kind != PolicyKind.TRUST:
        raise ValueError("evaluate_trust needs a policy parsed as PolicyKind.TRUST")
    return evaluate(
        request,
        identity=identity,
        boundaries=boundaries,
        session=session,
        resource=[trust],
        scps=scps,
    )
