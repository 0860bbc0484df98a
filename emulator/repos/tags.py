"""The AWS tagging rules as CodeCommit applies them to repositories.

Keys are 1-128 characters and values 0-256, made of letters, digits, spaces and `+-=._:/@`;
the `aws:` prefix belongs to AWS, and a resource has at most 50 tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from emulator.errors import client_error

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
_ALLOWED = re.compile(r"[\w +\-=.:/@]*")
SYSTEM_PREFIX = "aws:"


def _is_system(key: str) -> bool:
    return key.lower().startswith(SYSTEM_PREFIX)


def validate_tags(tags: Mapping[str, str] | None, *, required: bool = False) -> dict[str, str]:
    if tags is None or (required and not tags):
        if required:
            raise client_error("TagsMapRequiredException", "A map of tags is required.")
        return {}
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_KEY or not _ALLOWED.fullmatch(key):
            raise client_error(
                "InvalidTagsMapException", f"The tag key {key[:200]!r} is not valid."
            )
        if len(value) > MAX_VALUE or not _ALLOWED.fullmatch(value):
            raise client_error("InvalidTagsMapException", f"The value of tag {key!r} is not valid.")
        if _is_system(key):
            raise client_error(
                "InvalidSystemTagUsageException",
                f"The tag key {key!r} uses the reserved prefix 'aws:'.",
            )
    if len(tags) > MAX_TAGS:
        raise client_error("TooManyTagsException", f"A resource can have at most {MAX_TAGS} tags.")
    return dict(tags)


def validate_tag_keys(keys: Iterable[str] | None) -> list[str]:
    if keys is None:
        raise client_error("TagKeysListRequiredException", "A list of tag keys is required.")
    result = list(keys)
    for key in result:
        if not 1 <= len(key) <= MAX_KEY or not _ALLOWED.fullmatch(key):
            raise client_error(
                "InvalidTagKeysListException", f"The tag key {key[:200]!r} is not valid."
            )
        if _is_system(key):
            raise client_error(
                "InvalidSystemTagUsageException",
                f"The tag key {key!r} uses the reserved prefix 'aws:'; it cannot be removed.",
            )
    return result
