"""Opaque `nextToken`s for list operations.

A token records where the next page starts and which listing it belongs to (the sort order, the
repository), so a token replayed against a different listing is refused as AWS refuses it, with
`InvalidContinuationTokenException`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from emulator.codecommit_errors import error

T = TypeVar("T")


def _encode(offset: int, listing: str) -> str:
    raw = json.dumps({"o": offset, "l": listing}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str, listing: str) -> int:
    invalid = error("InvalidContinuationTokenException")
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("l") != listing:
        raise invalid
    offset = data.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise invalid
    return offset


def offset_of(token: str | None, listing: str) -> int:
    """Where the page a token asks for starts (0 without one)."""
    return 0 if token is None else _decode(token, listing)


def token_at(offset: int, listing: str) -> str:
    """The token for the page starting at `offset`."""
    return _encode(offset, listing)


def page(
    items: Sequence[T], token: str | None, size: int, listing: str
) -> tuple[Sequence[T], str | None]:
    """One page of `items` and the token for the next page (None after the last)."""
    start = 0 if token is None else _decode(token, listing)
    end = start + size
    next_token = _encode(end, listing) if end < len(items) else None
    return items[start:end], next_token
