"""Parsing and validating policy documents, with IAM's MalformedPolicyDocument reasons.

Results are immutable and cached by (document text, kind): the same document attached to many
principals is parsed once.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from emulator.iam.policy.conditions import ConditionClause, make_clause
from emulator.iam.policy.errors import MalformedPolicyDocument
from emulator.iam.policy.limits import check_policy_size
from emulator.iam.policy.model import (
    ActionMatcher,
    Effect,
    Policy,
    PolicyKind,
    ResourceMatcher,
    Statement,
)
from emulator.iam.policy.positions import statement_spans
from emulator.iam.policy.principals import PrincipalSpec, parse_principal
from emulator.iam.policy.variables import parse_template

VERSIONS = ("2012-10-17", "2008-10-17")
# "If you do not include a Version element, the value defaults to 2008-10-17" (Version element).
DEFAULT_VERSION = "2008-10-17"

SYNTAX = "Syntax errors in policy."
NO_PRINCIPAL = "Policy document should not specify a principal."
MISSING_PRINCIPAL = "Missing required field Principal"
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."
INVALID_VERSION = "Invalid Version"
DUPLICATE_SID = "Statement IDs (SID) in a single policy must be unique."
SID_FORMAT = (
    "Statement IDs (SID) must be alpha-numeric. "
    "Check that your input satisfies the regular expression [0-9A-Za-z]*"
)
VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
TRUST_ACTIONS = "AssumeRole policy may only specify STS AssumeRole actions."

_TOP_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
     "NotResource", "Condition"}
)  # fmt: skip
_NO_PRINCIPAL_KINDS = frozenset(
    {PolicyKind.IDENTITY, PolicyKind.PERMISSIONS_BOUNDARY, PolicyKind.SESSION, PolicyKind.SCP}
)
# IAM holds these documents itself and checks their Sids; S3-style resource policies allow
# spaces and punctuation in a Sid.
_ALNUM_SID_KINDS = frozenset(
    {PolicyKind.IDENTITY, PolicyKind.PERMISSIONS_BOUNDARY, PolicyKind.TRUST}
)
_SID = re.compile(r"^[0-9A-Za-z]*$")
_VENDOR = re.compile(r"^[A-Za-z0-9*?_-]+$")


def parse_policy(
    document: str | Mapping[str, object],
    kind: PolicyKind | str,
    *,
    max_size: int | None = None,
    count_whitespace: bool = False,
) -> Policy:
    """Parse and validate a policy document of `kind`.

    Raises MalformedPolicyDocument with IAM's reason, or LimitExceeded when `max_size` (one of
    `SizeLimit`) is given and the document is larger (white space not counted unless asked).
    """
    kind = PolicyKind(kind)
    text = document if isinstance(document, str) else json.dumps(document)
    if max_size is not None:
        check_policy_size(text, max_size, count_whitespace=count_whitespace)
    return _parse_text(text, kind)


@lru_cache(maxsize=4096)
def _parse_text(text: str, kind: PolicyKind) -> Policy:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedPolicyDocument(SYNTAX) from None
    if not isinstance(doc, dict):
        raise MalformedPolicyDocument(SYNTAX)
    if set(doc) - _TOP_FIELDS:
        raise MalformedPolicyDocument(SYNTAX)
    version = doc.get("Version", DEFAULT_VERSION)
    if version not in VERSIONS:
        raise MalformedPolicyDocument(INVALID_VERSION)
    policy_id = doc.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicyDocument(SYNTAX)
    if "Statement" not in doc:
        raise MalformedPolicyDocument("Missing required field Statement")
    raw = doc["Statement"]
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not all(isinstance(s, dict) for s in items):
        raise MalformedPolicyDocument(SYNTAX)
    spans = statement_spans(text)
    if spans is not None and len(spans) != len(items):
        spans = None
    sids: set[str] = set()
    statements = []
    for index, item in enumerate(items):
        st = _statement(index, item, kind, version == "2012-10-17", sids)
        if spans is not None:
            st = _with_span(st, spans[index])
        statements.append(st)
    return Policy(kind, str(version), policy_id, tuple(statements), text)


def _with_span(st: Statement, span: tuple[tuple[int, int], tuple[int, int]]) -> Statement:
    return dataclasses.replace(st, start=span[0], end=span[1])


def _strings(value: object, empty_reason: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise MalformedPolicyDocument(SYNTAX)
    if not values:
        raise MalformedPolicyDocument(empty_reason)
    return tuple(values)


def _one_of(st: Mapping[str, object], name: str) -> tuple[object, bool] | None:
    """The value of `name` or `Not{name}`, and whether it was the Not form."""
    if name in st and f"Not{name}" in st:
        raise MalformedPolicyDocument(f"Policy statement cannot contain both {name} and Not{name}.")
    if name in st:
        return st[name], False
    if f"Not{name}" in st:
        return st[f"Not{name}"], True
    return None


def _statement(
    index: int, st: Mapping[str, object], kind: PolicyKind, interpolate: bool, sids: set[str]
) -> Statement:
    if set(st) - _STATEMENT_FIELDS:
        raise MalformedPolicyDocument(SYNTAX)
    sid = st.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise MalformedPolicyDocument(SYNTAX)
        if kind in _ALNUM_SID_KINDS and not _SID.match(sid):
            raise MalformedPolicyDocument(SID_FORMAT)
        if sid in sids:
            raise MalformedPolicyDocument(DUPLICATE_SID)
        sids.add(sid)
    if "Effect" not in st:
        raise MalformedPolicyDocument("Missing required field Effect")
    effect = st["Effect"]
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicyDocument(f"Invalid effect: {effect}")
    real_effect: Effect = "Allow" if effect == "Allow" else "Deny"

    principal, not_principal = _principal(st, kind)

    action = _one_of(st, "Action")
    if action is None:
        raise MalformedPolicyDocument(NO_ACTIONS)
    actions = _strings(action[0], NO_ACTIONS)
    for a in actions:
        _check_action(a, kind)

    resource = _one_of(st, "Resource")
    resources: ResourceMatcher | None = None
    if kind == PolicyKind.TRUST:
        if resource is not None:
            field = "NotResource" if resource[1] else "Resource"
            raise MalformedPolicyDocument(f"Has prohibited field {field}")
    else:
        if resource is None:
            raise MalformedPolicyDocument(NO_RESOURCES)
        values = _strings(resource[0], NO_RESOURCES)
        for r in values:
            if r != "*" and not r.startswith("arn:"):
                raise MalformedPolicyDocument(f'Resource {r} must be in ARN format or "*".')
        resources = ResourceMatcher.build(
            tuple(parse_template(r, interpolate=interpolate) for r in values)
        )

    return Statement(
        index=index,
        sid=sid,
        effect=real_effect,
        actions=ActionMatcher.build(actions),
        not_action=action[1],
        resources=resources,
        not_resource=resource is not None and resource[1],
        principal=principal,
        not_principal=not_principal,
        conditions=_conditions(st.get("Condition"), interpolate),
    )


def _principal(st: Mapping[str, object], kind: PolicyKind) -> tuple[PrincipalSpec | None, bool]:
    found = _one_of(st, "Principal")
    if kind in _NO_PRINCIPAL_KINDS:
        if found is not None:
            raise MalformedPolicyDocument(NO_PRINCIPAL)
        return None, False
    if found is None:
        raise MalformedPolicyDocument(MISSING_PRINCIPAL)
    spec = parse_principal(found[0])
    if isinstance(spec, str):
        raise MalformedPolicyDocument(spec)
    return spec, found[1]


def _check_action(action: str, kind: PolicyKind) -> None:
    if action == "*":
        if kind == PolicyKind.TRUST:
            raise MalformedPolicyDocument(TRUST_ACTIONS)
        return
    vendor, colon, _ = action.partition(":")
    if not colon or not vendor:
        raise MalformedPolicyDocument(VENDOR)
    if action.count(":") > 1:
        raise MalformedPolicyDocument(ONE_COLON)
    if not _VENDOR.match(vendor):
        raise MalformedPolicyDocument(f"Vendor {vendor} is not valid")
    if kind == PolicyKind.TRUST and vendor.lower() != "sts":
        raise MalformedPolicyDocument(TRUST_ACTIONS)


def _condition_value(value: object) -> str:
    # JSON booleans and numbers are accepted and compared as their text ("true", "10").
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    raise MalformedPolicyDocument(SYNTAX)


def _conditions(block: object, interpolate: bool) -> tuple[ConditionClause, ...]:
    if block is None:
        return ()
    if not isinstance(block, dict):
        raise MalformedPolicyDocument(SYNTAX)
    clauses: list[ConditionClause] = []
    for operator, keys in block.items():
        if not isinstance(keys, dict):
            raise MalformedPolicyDocument(SYNTAX)
        for key, raw in keys.items():
            vendor, colon, _ = key.partition(":")
            if not colon or not vendor:
                raise MalformedPolicyDocument(VENDOR)
            values: Sequence[object] = raw if isinstance(raw, list) else [raw]
            templates = tuple(
                parse_template(_condition_value(v), interpolate=interpolate) for v in values
            )
            clause = make_clause(operator, key, templates)
            if clause is None:
                raise MalformedPolicyDocument(f"Invalid Condition type : {operator}")
            clauses.append(clause)
    return tuple(clauses)
