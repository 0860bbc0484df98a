"""Validation of repository names, following CodeCommit's documented rules."""

from __future__ import annotations

import re

from emulator.codecommit_errors import error

_REPO_NAME = re.compile(r"[\w.-]{1,100}", re.ASCII)


def validate_repository_name(name: str | None) -> str:
    """Return `name` if CodeCommit would accept it, else raise the error CodeCommit raises."""
    if name is None or name == "":
        raise error("RepositoryNameRequiredException")
    if not _REPO_NAME.fullmatch(name) or name.lower().endswith(".git") or name in (".", ".."):
        raise error("InvalidRepositoryNameException")
    return name
