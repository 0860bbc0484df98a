"""Input validation and output serialization driven by botocore shapes (protocol-neutral).

Input arrives already decoded from its wire format into plain values (JSON for the JSON
protocols). Validation reports every failure, each tied to the top-level member it concerns, so
a service can turn it into its own error (`RepositoryNameRequiredException`) where the model
lists one, and a generic `ValidationException` otherwise.
"""

from __future__ import annotations

import base64
import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.model import Shape

Reason = Literal["required", "type", "length", "range", "enum", "pattern"]


@dataclass(frozen=True)
class Invalid:
    """One failed constraint. `member` is the top-level input member it falls under."""

    member: str
    path: str
    reason: Reason
    message: str


def validation_message(failures: list[Invalid]) -> str:
    """AWS's wording: `1 validation error detected: Value 'x' at 'a' failed to ...`."""
    n = len(failures)
    head = f"{n} validation error{'s' if n != 1 else ''} detected: "
    return head + "; ".join(f.message for f in failures)


def _show(value: object) -> str:
    if value is None:
        return "null"
    text = str(value)
    return repr(text[:100] + ("..." if len(text) > 100 else ""))


class _Validator:
    def __init__(self) -> None:
        self.failures: list[Invalid] = []
        self.member = ""

    def fail(self, path: str, reason: Reason, value: object, constraint: str) -> None:
        self.failures.append(
            Invalid(
                self.member,
                path,
                reason,
                f"Value {_show(value)} at '{path}' failed to satisfy constraint: {constraint}",
            )
        )

    def type_error(self, path: str, expected: str, value: object) -> None:
        self.failures.append(
            Invalid(
                self.member,
                path,
                "type",
                f"Expected {expected} at '{path}', found {type(value).__name__}",
            )
        )

    def check(self, shape: Shape, value: Any, path: str) -> None:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            if not isinstance(value, dict):
                self.type_error(path, "an object", value)
                return
            for name in shape.required_members:
                if value.get(name) is None:
                    self.fail(_join(path, name), "required", None, "Member must not be null")
            for name, member_shape in shape.members.items():
                if value.get(name) is not None:
                    self.check(member_shape, value[name], _join(path, name))
        elif kind == "list":
            if not isinstance(value, list):
                self.type_error(path, "a list", value)
                return
            self._length(meta, len(value), value, path)
            for i, item in enumerate(value):
                if item is None:
                    self.fail(f"{path}.{i + 1}.member", "required", None, "Member must not be null")
                else:
                    self.check(shape.member, item, f"{path}.{i + 1}.member")
        elif kind == "map":
            if not isinstance(value, dict):
                self.type_error(path, "an object", value)
                return
            self._length(meta, len(value), value, path)
            for key, item in value.items():
                self.check(shape.key, key, f"{path}.{key}.key")
                if item is None:
                    self.fail(f"{path}.{key}.value", "required", None, "Member must not be null")
                else:
                    self.check(shape.value, item, f"{path}.{key}.value")
        elif kind == "string":
            if not isinstance(value, str):
                self.type_error(path, "a string", value)
                return
            if not _is_unicode(value):
                # JSON can carry an unpaired surrogate (`"\\ud800"`), which is no character:
                # it can name nothing and cannot be stored. AWS refuses it as an invalid value
                # of the member (CodeCommit: InvalidBranchNameException for a branch name).
                self.fail(
                    path,
                    "pattern",
                    value.encode("utf-8", "backslashreplace").decode(),
                    "Member must contain only valid Unicode characters",
                )
                return
            if shape.enum and value not in shape.enum:
                self.fail(
                    path,
                    "enum",
                    value,
                    f"Member must satisfy enum value set: [{', '.join(shape.enum)}]",
                )
            self._length(meta, len(value), value, path)
            pattern = meta.get("pattern")
            # Smithy patterns are not implicitly anchored; `^...$` in the model anchors them.
            if pattern and _compile(pattern).search(value) is None:
                self.fail(
                    path,
                    "pattern",
                    value,
                    f"Member must satisfy regular expression pattern: {pattern}",
                )
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                self.type_error(path, "an integer", value)
                return
            self._range(meta, value, path)
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.type_error(path, "a number", value)
                return
            self._range(meta, value, path)
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.type_error(path, "a boolean", value)
        elif kind == "timestamp":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                self.type_error(path, "a timestamp", value)
                return
            try:
                decode(shape, value)
            except (ValueError, OverflowError, OSError):
                self.type_error(path, "a timestamp", value)
        elif kind == "blob":
            if not isinstance(value, str):
                self.type_error(path, "a base64 string", value)
                return
            try:
                base64.b64decode(value, validate=True)
            except ValueError:  # binascii.Error, or a non-ASCII character
                self.type_error(path, "a base64 string", value)

    def _length(self, meta: dict[str, Any], length: int, value: object, path: str) -> None:
        if "min" in meta and length < meta["min"]:
            self.fail(
                path,
                "length",
                value,
                f"Member must have length greater than or equal to {meta['min']}",
            )
        if "max" in meta and length > meta["max"]:
            self.fail(
                path,
                "length",
                value,
                f"Member must have length less than or equal to {meta['max']}",
            )

    def _range(self, meta: dict[str, Any], value: float, path: str) -> None:
        if "min" in meta and value < meta["min"]:
            self.fail(
                path,
                "range",
                value,
                f"Member must have value greater than or equal to {meta['min']}",
            )
        if "max" in meta and value > meta["max"]:
            self.fail(
                path, "range", value, f"Member must have value less than or equal to {meta['max']}"
            )


# Java's Unicode classes, which IAM and STS patterns use for tags (`[\p{L}\p{Z}\p{N}_.:/=+\-@]+`);
# Python's `re` has none, so each becomes the nearest Unicode-aware class.
_UNICODE_CLASSES = {r"\p{L}": r"\w", r"\p{Z}": r"\s", r"\p{N}": r"\d"}


@functools.cache
def _compile(pattern: str) -> re.Pattern[str]:
    if "\\p{" not in pattern:
        return re.compile(pattern, re.ASCII)
    for java, python in _UNICODE_CLASSES.items():
        pattern = pattern.replace(java, python)
    return re.compile(pattern)


def _is_unicode(text: str) -> bool:
    """False if `text` holds an unpaired surrogate (it has no UTF-8 form)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate(shape: Shape | None, params: dict[str, Any]) -> list[Invalid]:
    """Every constraint of `shape` that `params` breaks (empty if none)."""
    if shape is None:
        return []
    v = _Validator()
    for name in shape.required_members:
        if params.get(name) is None:
            v.member = name
            v.fail(name, "required", None, "Member must not be null")
    for name, member_shape in shape.members.items():
        if params.get(name) is not None:
            v.member = name
            v.check(member_shape, params[name], name)
    return v.failures


def decode(shape: Shape, value: Any) -> Any:
    """Turn a validated wire value into its Python value: blobs to bytes, timestamps to
    datetimes; members of nested structures keep their model names."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        return {k: decode(shape.members[k], v) for k, v in value.items() if k in shape.members}
    if kind == "list":
        return [decode(shape.member, v) for v in value]
    if kind == "map":
        return {k: decode(shape.value, v) for k, v in value.items()}
    if kind == "blob":
        return base64.b64decode(value)
    if kind == "timestamp":
        if isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return datetime.fromtimestamp(float(value), UTC)
    return value


def serialize(shape: Shape, value: Any) -> Any:
    """Turn handler output into JSON values per the model: None members are omitted,
    timestamps become epoch seconds, blobs base64.

    The work per shape is decided once (`_serializer`): a member whose shape holds nothing to
    convert is copied as it is, so a page of a thousand commits costs a dict copy per
    structure rather than a dispatch per value."""
    fn = _serializer(shape)
    return value if fn is None else fn(value)


_Convert = Any  # Callable[[Any], Any] | None: None where the value is already JSON's
_compiled: dict[int, tuple[Shape, _Convert]] = {}


def _serializer(shape: Shape) -> _Convert:
    # botocore caches each shape's members, so a shape object stands for its model shape for
    # the life of the process; the entry keeps it alive, so its id is never reused.
    hit = _compiled.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    _compiled[id(shape)] = (shape, _pending)  # a recursive shape refers to itself while built
    fn = _build(shape)
    _compiled[id(shape)] = (shape, fn)
    return fn


def _pending(value: Any) -> Any:  # pragma: no cover - replaced before any value reaches it
    raise AssertionError("serializer used while being built")


def _build(shape: Shape) -> _Convert:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape)
    if kind == "list":
        item = _serializer(shape.member)
        if item is None:
            return None
        if item is _pending:
            return lambda value: [serialize(shape.member, v) for v in value]
        return lambda value: [item(v) for v in value]
    if kind == "map":
        entry = _serializer(shape.value)
        if entry is None:
            return None
        return lambda value: {k: serialize(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return lambda value: value.timestamp() if isinstance(value, datetime) else float(value)
    if kind == "blob":
        return lambda value: base64.b64encode(value).decode()
    if kind in ("float", "double"):
        return lambda value: (
            str(value) if isinstance(value, float) and not math.isfinite(value) else value
        )
    return None


def _structure(shape: Shape) -> _Convert:
    members = shape.members
    known = frozenset(members)
    convert = {name: _serializer(m) for name, m in members.items()}
    late = {name for name, fn in convert.items() if fn is _pending}
    converting = {name: fn for name, fn in convert.items() if fn is not None and name not in late}

    def refuse(value: Any) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"{shape.name}: expected a dict, got {type(value).__name__}")
        raise TypeError(f"{shape.name} has no members {sorted(set(value) - known)}")

    if not converting and not late:

        def plain(value: Any) -> Any:
            if not isinstance(value, dict) or not known.issuperset(value):
                refuse(value)
            if None in value.values():
                return {name: v for name, v in value.items() if v is not None}
            return value  # nothing to leave out or convert: written as it is

        return plain

    def structure(value: Any) -> Any:
        if not isinstance(value, dict) or not known.issuperset(value):
            refuse(value)
        out = {}
        for name, v in value.items():
            if v is None:
                continue
            if name in converting:
                v = converting[name](v)
            elif name in late:
                v = serialize(members[name], v)
            out[name] = v
        return out

    return structure
