"""The reactions CodeCommit accepts on a comment, and the ways a caller may name one.

CodeCommit supports "a limited set of reactions" (`ReactionValueFormats`), each with an emoji
graphic, a short code and a Unicode code point, and `PutCommentReaction` takes any of the three
(`👍`, `:thumbsup:` or `U+1F44D`). AWS's published `get-comment-reactions` example shows
`thumbsup` (U+1F44D), `thumbsdown` (U+1F44E) and `confused` (U+1F615); the rest are the
reactions of the CodeCommit console's picker. A blank value or `none` removes the caller's
reaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.codecommit_errors import error


@dataclass(frozen=True)
class Reaction:
    emoji: str
    short_code: str
    unicode: str


REACTIONS: tuple[Reaction, ...] = (
    Reaction("\U0001f44d", "thumbsup", "U+1F44D"),
    Reaction("\U0001f44e", "thumbsdown", "U+1F44E"),
    Reaction("\U0001f604", "smile", "U+1F604"),
    Reaction("\U0001f615", "confused", "U+1F615"),
    Reaction("\u2764", "heart", "U+2764"),
    Reaction("\U0001f389", "tada", "U+1F389"),
    Reaction("\U0001f680", "rocket", "U+1F680"),
    Reaction("\U0001f440", "eyes", "U+1F440"),
)

_BY_NAME: dict[str, Reaction] = {}
for _r in REACTIONS:
    _BY_NAME[_r.emoji] = _r
    _BY_NAME[_r.emoji + "\ufe0f"] = _r  # the emoji presentation selector some keyboards add
    _BY_NAME[_r.short_code] = _r
    _BY_NAME[f":{_r.short_code}:"] = _r
    _BY_NAME[_r.unicode.lower()] = _r

_REMOVE = ("", "none")


def parse_reaction(value: str | None) -> Reaction | None:
    """The reaction a `reactionValue` names; None for a value that removes the reaction."""
    if value is None:
        raise error("ReactionValueRequiredException")
    key = value.strip()
    if key.lower() in _REMOVE:
        return None
    found = _BY_NAME.get(key) or _BY_NAME.get(key.lower())
    if found is None:
        raise error("InvalidReactionValueException")
    return found


def by_short_code(code: str) -> Reaction:
    return next(r for r in REACTIONS if r.short_code == code)
