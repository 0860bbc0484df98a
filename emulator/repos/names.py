"""Validation of repository names, following CodeCommit's documented rules."""

from __future__ import annotations

import re

from emulator.errors import client_error

_REPO_NAME = re.compile(r"[\w.-]{1,100}", re.ASCII)


def validate_repository_name(name: str | None) -> str:
    """Return `name` if CodeCommit would accept it, else raise the error CodeCommit raises."""
    if name is None or name == "":
        raise client_error("RepositoryNameRequiredException", "A repository name is required.")
    if not _REPO_NAME.fullmatch(name) or name.lower().endswith(".git") or name in (".", ".."):
        raise client_error(
            "InvalidRepositoryNameException",
            f"{name[:120]!r} is not a valid repository name. A name is 1 to 100 letters, digits,"
            " '_', '.' or '-', and cannot end in '.git'.",
        )
    return name
