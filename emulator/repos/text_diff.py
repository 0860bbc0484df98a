"""A unified diff of two versions of a file, as `git diff` shows text: what the console's commit
view renders (a template only lays out the lines this returns).

Binary content (a NUL byte in its first 8000 bytes, git's own test, or not UTF-8) has no text
diff; nor does a file past the size or line limits, which keep difflib's worst cases small.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

MAX_BYTES = 1024 * 1024
MAX_LINES = 20_000
# git's buffer_is_binary(): a NUL within the first 8000 bytes.
_SNIFF = 8000


def is_binary(data: bytes) -> bool:
    if b"\0" in data[:_SNIFF]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@dataclass(frozen=True)
class TextDiff:
    """One file's diff: its lines (`---`/`+++` headers, `@@` hunks, ` `/`+`/`-` lines), or
    why there are none (`binary`, `too large`)."""

    lines: tuple[str, ...]
    skipped: str | None = None


def unified(
    before: bytes | None, after: bytes | None, before_path: str, after_path: str
) -> TextDiff:
    """The diff from `before` to `after` (None: the file did not exist on that side)."""
    old, new = before or b"", after or b""
    if is_binary(old) or is_binary(new):
        return TextDiff((), "binary")
    if len(old) > MAX_BYTES or len(new) > MAX_BYTES:
        return TextDiff((), "too large")
    a = old.decode("utf-8").splitlines()
    b = new.decode("utf-8").splitlines()
    if len(a) > MAX_LINES or len(b) > MAX_LINES:
        return TextDiff((), "too large")
    lines = difflib.unified_diff(
        a,
        b,
        "/dev/null" if before is None else f"a/{before_path}",
        "/dev/null" if after is None else f"b/{after_path}",
        lineterm="",
    )
    return TextDiff(tuple(lines))
