"""IAM's two wildcards, `*` (any run of characters) and `?` (exactly one), compiled to regexes.

Only these two are special; every other character, `.` included, stands for itself. Text that came
from a policy variable is never a wildcard (a tag value of `*` matches only `*`); the special
variables `${*}`, `${?}` and `${$}` are how a policy spells those characters literally.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

# (text, wildcards_active): a literal run of policy text, or a run of substituted text.
Piece = tuple[str, bool]
Pieces = tuple[Piece, ...]

_SPLIT = re.compile(r"([*?])")


def _glob(text: str, star: str, one: str) -> str:
    out = []
    for run in _SPLIT.split(text):
        if run == "*":
            out.append(star)
        elif run == "?":
            out.append(one)
        elif run:
            out.append(re.escape(run))
    return "".join(out)


def glob_regex(pieces: Sequence[Piece]) -> str:
    """`*` may span any character, `:` and `/` included, as in the Resource element
    ("arn:aws:s3:::*log*" covers "arn:aws:s3:::carlos-logs/file.txt")."""
    return "".join(_glob(text, ".*", ".") if wild else re.escape(text) for text, wild in pieces)


def arn_regex(pieces: Sequence[Piece]) -> str:
    """ArnLike/ArnEquals: "each of the six colon-delimited components of the ARN is checked
    separately", so a wildcard in partition, service, region or account stays inside its
    component. The resource component (the sixth, which may itself hold colons) is free. A pattern
    with fewer than six components ("arn:aws:logs:*") lets its last component run to the end."""
    total = sum(text.count(":") for text, _ in pieces)
    free_from = min(5, total)
    seg = 0
    out: list[str] = []
    for text, wild in pieces:
        for i, part in enumerate(text.split(":")):
            if i:
                seg += 1
                out.append(":")
            if not part:
                continue
            if not wild:
                out.append(re.escape(part))
            elif seg >= free_from:
                out.append(_glob(part, ".*", "."))
            else:
                out.append(_glob(part, "[^:]*", "[^:]"))
    return "".join(out)


@lru_cache(maxsize=8192)
def compile_pieces(
    pieces: Pieces, *, arn: bool = False, ignore_case: bool = False
) -> re.Pattern[str]:
    regex = arn_regex(pieces) if arn else glob_regex(pieces)
    return re.compile(regex, (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def compile_globs(patterns: Sequence[str], *, ignore_case: bool = False) -> re.Pattern[str]:
    """One regex for several literal glob patterns: matches when any of them matches in full."""
    alternatives = "|".join(f"(?:{glob_regex(((p, True),))})" for p in patterns)
    return re.compile(alternatives, (re.IGNORECASE if ignore_case else 0) | re.DOTALL)
