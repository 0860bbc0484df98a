"""Branches: named `refs/heads/<name>` refs of a repository, changed only by compare-and-swap.

Each function takes the `RepositoryService` and a `Repository`, and moves refs through the one
write path (`write_path`); the rules are CodeCommit's:
the first branch of a repository becomes its default branch, the default branch cannot be
deleted, and a branch points at a commit that exists in the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dulwich.objects import ObjectID
from dulwich.refs import Ref, check_ref_format

from emulator.codecommit_errors import error
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.repos.service import RepositoryService
from emulator.repos.write_path import write_refs

HEADS = b"refs/heads/"
MAX_BRANCH_NAME = 256  # CodeCommit's BranchName shape: 1 to 256 characters
_HEX_SHA = re.compile(r"[0-9a-fA-F]{40}")
# Attempts at a compare-and-swap that keeps losing to concurrent pushes before giving up.
_CAS_ATTEMPTS = 5


@dataclass(frozen=True)
class Branch:
    name: str
    commit_id: str


def _is_valid_ref_name(ref: bytes) -> bool:
    # git-check-ref-format also forbids DEL, which dulwich lets through.
    return b"\x7f" not in ref and bool(check_ref_format(Ref(ref)))


def validate_branch_name(name: str | None) -> str:
    """Return `name` if git and CodeCommit accept it as a branch name, else raise."""
    if name is None or name == "":
        raise error("BranchNameRequiredException")
    encoded = name.encode("utf-8", "surrogatepass")
    if (
        len(name) > MAX_BRANCH_NAME
        or name == "HEAD"  # `git branch HEAD` is refused: it would shadow HEAD
        # CodeCommit's quotas: a branch name cannot be the single character @, nor exactly 40
        # hexadecimal characters (it would read as a commit ID).
        or name == "@"
        or _HEX_SHA.fullmatch(name) is not None
        or name.startswith("-")
        or not _is_valid_ref_name(HEADS + encoded)
    ):
        raise error("InvalidBranchNameException")
    return name


def _ref(name: str) -> bytes:
    return HEADS + name.encode()


def _check_commit(repos: RepositoryService, repo: Repository, commit_id: str | None) -> bytes:
    if commit_id is None or commit_id == "":
        raise error("CommitIdRequiredException")
    if not _HEX_SHA.fullmatch(commit_id):
        raise error("InvalidCommitIdException")
    sha = ObjectID(commit_id.lower().encode())
    store = repos.object_store(repo)
    try:
        if sha not in store:
            raise error("CommitDoesNotExistException")
        kind = store[sha].type_name
    finally:
        store.close()
    if kind != b"commit":
        raise error("InvalidCommitIdException")
    return sha


def _conflicting_ref(refs: dict[bytes, bytes], ref: bytes) -> bytes | None:
    """A ref that cannot coexist with `ref` in git's namespace (`a` versus `a/b`)."""
    for other in refs:
        if other.startswith(ref + b"/") or ref.startswith(other + b"/"):
            return other
    return None


def create_branch(
    repos: RepositoryService,
    repo: Repository,
    name: str | None,
    commit_id: str | None,
    actor: str | None = None,
) -> Branch:
    # From the check that the commit exists to the ref update, the background collector
    # must not remove it (it may be reachable from no ref yet).
    with repos.ref_window(repo):
        return _create_branch(repos, repo, name, commit_id, actor)


def _create_branch(
    repos: RepositoryService,
    repo: Repository,
    name: str | None,
    commit_id: str | None,
    actor: str | None,
) -> Branch:
    name = validate_branch_name(name)
    sha = _check_commit(repos, repo, commit_id)
    ref = _ref(name)
    refs = repos.refs(repo)
    if ref in refs:
        raise error("BranchNameExistsException")
    conflict = _conflicting_ref(refs, ref)
    if conflict is not None:
        raise error("InvalidBranchNameException")
    # Compare-and-swap from "absent": a concurrent creation of the same branch makes this fail.
    (result,) = write_refs(repos, repo, [RefUpdate(ref, ZERO_SHA, sha)], actor=actor).results
    if result is not None:
        raise error("BranchNameExistsException")
    return Branch(name, sha.decode())


def get_branch(repos: RepositoryService, repo: Repository, name: str | None) -> Branch:
    name = validate_branch_name(name)
    sha = repos.ref(repo, _ref(name))
    if sha is None:
        raise error("BranchDoesNotExistException")
    return Branch(name, sha.decode())


def list_branches(repos: RepositoryService, repo: Repository) -> list[str]:
    """Branch names in git's order (bytewise)."""
    return [
        ref[len(HEADS) :].decode("utf-8", "replace")
        for ref in sorted(repos.refs(repo))
        if ref.startswith(HEADS)
    ]


def delete_branch(
    repos: RepositoryService, repo: Repository, name: str | None, actor: str | None = None
) -> Branch | None:
    """Delete a branch; a missing one is not an error (CodeCommit then returns no branch)."""
    name = validate_branch_name(name)
    ref = _ref(name)
    for _ in range(_CAS_ATTEMPTS):
        current = repos.get_by_id(repo.id) or repo
        if current.default_branch == name:
            raise error("DefaultBranchCannotBeDeletedException")
        sha = repos.ref(repo, ref)
        if sha is None:
            return None
        (result,) = write_refs(repos, repo, [RefUpdate(ref, sha, ZERO_SHA)], actor=actor).results
        if result is None:
            return Branch(name, sha.decode())
    raise error("ConcurrentReferenceUpdateException", name=name)


def set_default_branch(repos: RepositoryService, repo: Repository, name: str | None) -> Repository:
    name = validate_branch_name(name)
    if repos.ref(repo, _ref(name)) is None:
        raise error("BranchDoesNotExistException")
    return repos.update(repo, default_branch=name)
