"""Commits made through the API: PutFile, DeleteFile and CreateCommit.

`commit_changes` checks the branch and the parent commit by CodeCommit's rules, builds the
commit from the file changes (`tree_edit`), and hands its objects to the one write path
(`write_path.write_refs`), which stores them through the repository's pack store and moves the
branch by compare-and-swap in the same transaction as the events a push would fire, with the
caller as their actor. A branch that moved between the check and the swap is CodeCommit's
`ParentCommitIdOutdatedException`, as is a parent that is no longer the branch's tip.

The caller is authorized (with `codecommit:References` = the branch) before this runs.

CodeCommit's documentation leaves two things open; ccemu does this:
- an author name that is not given is the caller's ARN, as the model documents, and the email
  is then empty; the committer is the author;
- a commit message that is not given is `Added <path>` for PutFile, `Deleted <path>` for
  DeleteFile and empty for CreateCommit (the model only says "a default message is used").
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from dulwich.objects import Commit, ObjectID, ShaFile

from emulator.codecommit_errors import error
from emulator.repos.branches import validate_branch_name
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.repos.service import RepositoryService
from emulator.repos.tree_edit import (
    BuiltCommit,
    Identity,
    PutFile,
    SetMode,
    build_commit,
    check_identity,
)
from emulator.repos.write_path import write_refs

_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")


def commit_changes(
    repos: RepositoryService,
    repo: Repository,
    branch_name: str | None,
    parent_commit_id: str | None,
    *,
    actor: str,
    puts: Sequence[PutFile] = (),
    deletes: Sequence[str] = (),
    set_modes: Sequence[SetMode] = (),
    keep_empty_folders: bool = False,
    name: str | None = None,
    email: str | None = None,
    message: str | None = None,
    default_message: str = "",
    refuse_same_content: bool = False,
) -> BuiltCommit:
    """Commit the changes on top of branch `branch_name` (see the module docstring)."""
    branch = validate_branch_name(branch_name)
    ref = f"refs/heads/{branch}".encode()
    refs = repos.refs(repo)
    tip = refs.get(ref)
    store = repos.object_store(repo)

    def get(sha: bytes) -> ShaFile:
        return store[ObjectID(sha)]

    parent: Commit | None = None
    if tip is None:
        if f"refs/tags/{branch}".encode() in refs:
            raise error("BranchNameIsTagNameException")
        if any(r.startswith(b"refs/heads/") for r in refs):
            raise error("BranchDoesNotExistException")
        # An empty repository: the commit is its first, on a new branch.
        if parent_commit_id:
            _check_form(parent_commit_id)
            raise error("ParentCommitDoesNotExistException")
    else:
        if not parent_commit_id:
            raise error("ParentCommitIdRequiredException")
        _check_form(parent_commit_id)
        wanted = parent_commit_id.lower().encode()
        if wanted != tip:
            try:
                found = get(wanted)
            except KeyError:
                found = None
            if not isinstance(found, Commit):
                raise error("ParentCommitDoesNotExistException")
            raise error("ParentCommitIdOutdatedException")
        found = get(tip)
        assert isinstance(found, Commit)
        parent = found
    check_identity(name, email, message)
    author = Identity(name or actor, email or "", int(time.time()))
    built = build_commit(
        get,
        parent,
        puts=puts,
        deletes=deletes,
        set_modes=set_modes,
        keep_empty_folders=keep_empty_folders,
        author=author,
        message=message if message is not None else default_message,
        refuse_same_content=refuse_same_content,
    )
    outcome = write_refs(
        repos,
        repo,
        [RefUpdate(ref, tip if tip is not None else ZERO_SHA, built.commit.id)],
        actor=actor,
        objects=built.objects,
    )
    if not outcome.applied:  # another writer moved the branch after the check above
        raise error("ParentCommitIdOutdatedException")
    return built


def _check_form(commit_id: str) -> None:
    if not _FULL_SHA.fullmatch(commit_id):
        raise error("InvalidParentCommitIdException")
