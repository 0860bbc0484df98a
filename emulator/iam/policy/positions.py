"""Where each statement sits in a document's text, for the simulator's StartPosition/EndPosition.

A small scanner over already-validated JSON: it walks the top-level object, finds the Statement
member and records the span of each statement object.
"""

from __future__ import annotations

import json

from emulator.iam.policy.model import Position

_WS = " \t\n\r"
Span = tuple[Position, Position]


def _ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WS:
        i += 1
    return i


def _string_end(s: str, i: int) -> int:
    i += 1
    while s[i] != '"':
        i += 2 if s[i] == "\\" else 1
    return i + 1


def _value_end(s: str, i: int) -> int:
    c = s[i]
    if c == '"':
        return _string_end(s, i)
    if c in "{[":
        depth = 0
        while True:
            c = s[i]
            if c == '"':
                i = _string_end(s, i)
                continue
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
    while i < len(s) and s[i] not in ",}] \t\n\r":
        i += 1
    return i


def _position(s: str, offset: int) -> Position:
    line = s.count("\n", 0, offset) + 1
    return line, offset - (s.rfind("\n", 0, offset) + 1) + 1


def statement_spans(text: str) -> list[Span] | None:
    """(start, end) of each statement; `end` is just past its closing brace. None if unsure."""
    try:
        return _spans(text)
    except (IndexError, ValueError):
        return None


def _spans(s: str) -> list[Span] | None:
    i = _ws(s, 0)
    if s[i] != "{":
        return None
    i += 1
    found: list[tuple[int, int]] | None = None
    while True:
        i = _ws(s, i)
        if s[i] == "}":
            break
        if s[i] == ",":
            i += 1
            continue
        end = _string_end(s, i)
        key = json.loads(s[i:end])
        i = _ws(s, end)
        i = _ws(s, i + 1)  # past ':'
        end = _value_end(s, i)
        if key == "Statement":
            if s[i] == "{":
                found = [(i, end)]
            else:
                found = []
                j = _ws(s, i + 1)
                while s[j] != "]":
                    item_end = _value_end(s, j)
                    found.append((j, item_end))
                    j = _ws(s, item_end)
                    if s[j] == ",":
                        j = _ws(s, j + 1)
        i = end
    if found is None:
        return None
    return [(_position(s, a), _position(s, b)) for a, b in found]
