"""The AWS tagging rules as CodeCommit applies them to repositories.

Keys are 1-128 characters and values 0-256, made of letters, digits, spaces and `+-=._:/@`;
the `aws:` prefix belongs to AWS, and a resource has at most 50 tags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from emulator.codecommit_errors import error

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
            raise error("TagsMapRequiredException")
        return {}
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_KEY or not _ALLOWED.fullmatch(key):
            raise error("InvalidTagsMapException")
        if len(value) > MAX_VALUE or not _ALLOWED.fullmatch(value):
            raise error("InvalidTagsMapException")
        if _is_system(key):
            raise error("InvalidSystemTagUsageException")
    if len(tags) > MAX_TAGS:
        raise error("TooManyTagsException")
    return dict(tags)


def validate_tag_keys(keys: Iterable[str] | None) -> list[str]:
    if keys is None:
        raise error("TagKeysListRequiredException")
    result = list(keys)
    for key in result:
        if not 1 <= len(key) <= MAX_KEY or not _ALLOWED.fullmatch(key):
            raise error("InvalidTagKeysListException")
        if _is_system(key):
            raise error("InvalidSystemTagUsageException")
    return result
