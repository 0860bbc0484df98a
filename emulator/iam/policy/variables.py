"""Policy variables: `${aws:username}`, `${aws:PrincipalTag/team, 'default'}`, `${*}`, ...

Only documents with Version 2012-10-17 interpolate; in older ones `${...}` is literal text
(IAM User Guide, "IAM policy elements: Variables and tags"). A variable is looked up among the
request's context keys (case-insensitively, as condition keys are). When the key is absent and no
default is given, the value holding the variable matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from emulator.iam.policy.wildcards import Piece, Pieces

# Looks a lower-cased context key up; None when the request does not carry it.
Lookup = Callable[[str], tuple[str, ...] | None]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WITH_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True, slots=True)
class Var:
    key: str
    default: str | None

    @property
    def key_lc(self) -> str:
        return self.key.lower()


# A part is literal policy text (wildcards active), an escaped literal ("${*}"), or a variable.
@dataclass(frozen=True, slots=True)
class Escaped:
    text: str


Part = str | Escaped | Var


@dataclass(frozen=True, slots=True)
class Template:
    """A policy string, split at its variables."""

    text: str
    parts: tuple[Part, ...]
    static: Pieces | None  # the pieces when there is no variable, computed once

    @property
    def variables(self) -> tuple[Var, ...]:
        return tuple(p for p in self.parts if isinstance(p, Var))

    def pieces(self, lookup: Lookup, missing: set[str] | None = None) -> Pieces | None:
        """The text with every variable substituted, or None if a variable has no value."""
        if self.static is not None:
            return self.static
        out: list[Piece] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append((part, True))
            elif isinstance(part, Escaped):
                out.append((part.text, False))
            else:
                value = _value(part, lookup)
                if value is None:
                    if missing is not None:
                        missing.add(part.key)
                    return None
                out.append((value, False))
        return tuple(out)

    def resolve(self, lookup: Lookup, missing: set[str] | None = None) -> str | None:
        pieces = self.pieces(lookup, missing)
        return None if pieces is None else "".join(text for text, _ in pieces)


def _value(var: Var, lookup: Lookup) -> str | None:
    values = lookup(var.key_lc)
    # A multivalued key cannot stand in a variable; treat it like an absent one.
    if values is not None and len(values) == 1:
        return values[0]
    return var.default


def parse_template(text: str, *, interpolate: bool) -> Template:
    if not interpolate or "${" not in text:
        return Template(text, (text,), ((text, True),))
    parts: list[Part] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        inner = m.group(1)
        if inner in _SPECIAL:
            parts.append(Escaped(_SPECIAL[inner]))
        elif (d := _WITH_DEFAULT.match(inner)) is not None:
            parts.append(Var(d.group(1), d.group(2)))
        elif inner.strip() and not any(ch.isspace() for ch in inner.strip()):
            parts.append(Var(inner.strip(), None))
        else:
            parts.append(m.group(0))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    static: Pieces | None = None
    if not any(isinstance(p, Var) for p in parts):
        static = tuple(
            (p, True) if isinstance(p, str) else (p.text, False)
            for p in parts
            if not isinstance(p, Var)
        )
    return Template(text, tuple(parts), static)
