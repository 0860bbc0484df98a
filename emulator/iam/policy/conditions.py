"""The Condition element: operators, `...IfExists`, and the `ForAnyValue:` / `ForAllValues:` set
operators, as the IAM User Guide's condition-operator and multivalued-key pages describe them.

Within a block, keys are AND-ed; the values listed for one key are OR-ed ("matches any of them"),
and a negated operator ("StringNotEquals") holds when the request value matches none of them.
Keys are matched case-insensitively, values case-sensitively unless the operator says IgnoreCase.

A key the request does not carry:
  * plain positive operator         -> false ("no match")
  * plain negated operator          -> true  (nothing in the request equals the listed values)
  * any operator with IfExists      -> true
  * ForAnyValue:                    -> false;  ForAllValues: -> true (the empty set is a subset)
  * Null                            -> "true" holds, "false" does not
A request value that cannot be read as the operator's type (a number, a date, an IP address)
matches no policy value.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import operator as op
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator.iam.policy.variables import Lookup, Template
from emulator.iam.policy.wildcards import Pieces, compile_pieces

ValueTest = Callable[[str], bool]
Builder = Callable[[Sequence[str], Sequence[Pieces]], ValueTest]

STRING, STRING_IC, LIKE, NUMERIC, DATE, BOOL, BINARY, IP, ARN, NULL = (
    "string", "string_ic", "like", "numeric", "date", "bool", "binary", "ip", "arn", "null"
)  # fmt: skip
ANY_VALUE, ALL_VALUES = "ForAnyValue", "ForAllValues"

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": op.eq, "LessThan": op.lt, "LessThanEquals": op.le,
    "GreaterThan": op.gt, "GreaterThanEquals": op.ge,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    family: str
    negated: bool = False
    compare: str = "Equals"


def _operators() -> dict[str, Operator]:
    ops = [
        Operator("StringEquals", STRING),
        Operator("StringNotEquals", STRING, True),
        Operator("StringEqualsIgnoreCase", STRING_IC),
        Operator("StringNotEqualsIgnoreCase", STRING_IC, True),
        Operator("StringLike", LIKE),
        Operator("StringNotLike", LIKE, True),
        Operator("Bool", BOOL),
        Operator("BinaryEquals", BINARY),
        Operator("IpAddress", IP),
        Operator("NotIpAddress", IP, True),
        Operator("ArnEquals", ARN),
        Operator("ArnLike", ARN),
        Operator("ArnNotEquals", ARN, True),
        Operator("ArnNotLike", ARN, True),
        Operator("Null", NULL),
    ]
    for family, prefix in ((NUMERIC, "Numeric"), (DATE, "Date")):
        ops.append(Operator(f"{prefix}NotEquals", family, True))
        ops.extend(Operator(f"{prefix}{cmp}", family, False, cmp) for cmp in _COMPARE)
    return {o.name.lower(): o for o in ops}


OPERATORS = _operators()
_OPERATOR_NAME = re.compile(r"^(?:(ForAnyValue|ForAllValues):)?(.+?)(IfExists)?$", re.IGNORECASE)


def parse_operator(text: str) -> tuple[Operator, str | None, bool] | None:
    """ "ForAllValues:StringLikeIfExists" -> (StringLike, "ForAllValues", True); None if unknown."""
    m = _OPERATOR_NAME.match(text)
    if m is None:
        return None
    found = OPERATORS.get(m.group(2).lower())
    if found is None or (found.family == NULL and m.group(3)):
        return None
    qualifier = m.group(1)
    if qualifier is not None:
        qualifier = ANY_VALUE if qualifier.lower() == "foranyvalue" else ALL_VALUES
    return found, qualifier, m.group(3) is not None


def parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


_EPOCH = re.compile(r"^[+-]?\d+(\.\d+)?$")


def parse_date(text: str) -> float | None:
    """ISO 8601 (with or without time and offset; no offset means UTC) or epoch seconds."""
    text = text.strip()
    if _EPOCH.match(text):
        return float(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _string(values: Sequence[str], _: Sequence[Pieces]) -> ValueTest:
    return frozenset(values).__contains__


def _string_ic(values: Sequence[str], _: Sequence[Pieces]) -> ValueTest:
    folded = frozenset(v.casefold() for v in values)
    return lambda v: v.casefold() in folded


def _regexes(pieces: Sequence[Pieces], *, arn: bool) -> ValueTest:
    patterns = [compile_pieces(p, arn=arn) for p in pieces]
    if len(patterns) == 1:
        only = patterns[0]
        return lambda v: only.fullmatch(v) is not None
    return lambda v: any(rx.fullmatch(v) is not None for rx in patterns)


def _like(_: Sequence[str], pieces: Sequence[Pieces]) -> ValueTest:
    return _regexes(pieces, arn=False)


def _arn(_: Sequence[str], pieces: Sequence[Pieces]) -> ValueTest:
    return _regexes(pieces, arn=True)


def _bool(values: Sequence[str], _: Sequence[Pieces]) -> ValueTest:
    wanted = frozenset(v.lower() for v in values)
    return lambda v: v.lower() in wanted


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _binary(values: Sequence[str], _: Sequence[Pieces]) -> ValueTest:
    wanted = frozenset(b for b in map(_b64, values) if b is not None)

    def test(v: str) -> bool:
        # Simulator context entries of type binary arrive base64-encoded; raw text compares as is.
        decoded = _b64(v)
        return (decoded if decoded is not None else v.encode()) in wanted

    return test


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(text: str) -> Network | None:
    try:
        # Host bits set ("203.0.113.0/16") are ignored, giving the enclosing network.
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip(values: Sequence[str], _: Sequence[Pieces]) -> ValueTest:
    networks = [n for n in map(_network, values) if n is not None]

    def test(v: str) -> bool:
        try:
            address = ipaddress.ip_address(v.strip())
        except ValueError:
            return False
        return any(address.version == n.version and address in n for n in networks)

    return test


def _ordered(parse: Callable[[str], float | None], compare: str) -> Builder:
    cmp = _COMPARE[compare]

    def build(values: Sequence[str], _: Sequence[Pieces]) -> ValueTest:
        bounds = [b for b in map(parse, values) if b is not None]

        def test(v: str) -> bool:
            x = parse(v)
            return x is not None and any(cmp(x, b) for b in bounds)

        return test

    return build


def builder(operator: Operator) -> Builder:
    if operator.family == NUMERIC:
        return _ordered(parse_number, operator.compare)
    if operator.family == DATE:
        return _ordered(parse_date, operator.compare)
    return _BUILDERS[operator.family]


_BUILDERS: dict[str, Builder] = {
    STRING: _string, STRING_IC: _string_ic, LIKE: _like, ARN: _arn,
    BOOL: _bool, BINARY: _binary, IP: _ip,
}  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class ConditionClause:
    """One key under one operator: `"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}`."""

    operator: Operator
    operator_text: str
    qualifier: str | None
    if_exists: bool
    key: str
    key_lc: str
    values: tuple[Template, ...]
    static_test: ValueTest | None  # built once when no value holds a variable


def make_clause(
    operator_text: str, key: str, values: tuple[Template, ...]
) -> ConditionClause | None:
    parsed = parse_operator(operator_text)
    if parsed is None:
        return None
    operator, qualifier, if_exists = parsed
    static_test = None
    if operator.family != NULL and all(t.static is not None for t in values):
        static = [t.static for t in values if t.static is not None]
        texts = ["".join(text for text, _ in pieces) for pieces in static]
        static_test = builder(operator)(texts, static)
    return ConditionClause(
        operator, operator_text, qualifier, if_exists, key, key.lower(), values, static_test
    )


def clause_holds(clause: ConditionClause, lookup: Lookup, missing: set[str] | None) -> bool:
    present = lookup(clause.key_lc)
    operator = clause.operator
    if operator.family == NULL:
        absent = not present
        for t in clause.values:
            flag = t.text.lower()
            if flag in ("true", "false") and (flag == "true") == absent:
                return True
        return False
    if not present:
        if missing is not None:
            missing.add(clause.key)
        if clause.if_exists or clause.qualifier == ALL_VALUES:
            return True
        if clause.qualifier == ANY_VALUE:
            return False
        return operator.negated
    test = clause.static_test
    if test is None:
        pieces = [p for t in clause.values if (p := t.pieces(lookup, missing)) is not None]
        test = builder(operator)(["".join(s for s, _ in p) for p in pieces], pieces)
    negated = operator.negated
    if clause.qualifier is None:
        return any(test(v) for v in present) != negated
    if clause.qualifier == ANY_VALUE:
        return any(test(v) != negated for v in present)
    return all(test(v) != negated for v in present)


def conditions_hold(
    clauses: Sequence[ConditionClause], lookup: Lookup, missing: set[str] | None
) -> bool:
    """All clauses hold. With `missing`, every clause is evaluated so that each absent key the
    decision depended on is reported; without it, evaluation stops at the first false clause."""
    if missing is None:
        return all(clause_holds(c, lookup, None) for c in clauses)
    results = [clause_holds(c, lookup, missing) for c in clauses]
    return all(results)
