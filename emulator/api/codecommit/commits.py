"""CodeCommit's commits through the API: PutFile, DeleteFile and CreateCommit. Each translates
its request into `emulator.repos.commits.commit_changes`, which commits through the one write
path, and answers with the output members the model names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.api.codecommit.common import Output, entry_error, repository
from emulator.api.service import RequestContext
from emulator.api.shapes import Invalid, validation_message
from emulator.codecommit_errors import error
from emulator.errors import ServiceError, client_error
from emulator.repos.commits import commit_changes
from emulator.repos.tree_edit import BuiltCommit, FileChange, PutFile, SetMode

MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "parentCommitId": ("ParentCommitIdRequiredException", "InvalidParentCommitIdException"),
    "fileContent": ("FileContentRequiredException", "FileContentSizeLimitExceededException"),
    "fileMode": ("FileModeRequiredException", "InvalidFileModeException"),
    "authorName": (None, "NameLengthExceededException"),
    "name": (None, "NameLengthExceededException"),
    "email": (None, "InvalidEmailException"),
    "commitMessage": (None, "CommitMessageLengthExceededException"),
}


# A constraint broken inside an entry of putFiles, deleteFiles or setFileModes: the error of
# the entry's member that broke it, as for the same member of PutFile and DeleteFile.
_ENTRY_ERRORS: dict[str, tuple[str, str]] = {
    "filePath": ("PathRequiredException", "InvalidPathException"),
    "fileMode": ("FileModeRequiredException", "InvalidFileModeException"),
    "fileContent": ("FileContentRequiredException", "FileContentSizeLimitExceededException"),
}


def _entry_error(failures: list[Invalid]) -> ServiceError:
    return entry_error(
        failures, _ENTRY_ERRORS, client_error("ValidationException", validation_message(failures))
    )


MEMBER_VALIDATION: dict[str, Callable[[list[Invalid]], ServiceError]] = {
    "putFiles": _entry_error,
    "deleteFiles": _entry_error,
    "setFileModes": _entry_error,
}


def put_file(
    ctx: RequestContext,
    repository_name: str,
    branch_name: str,
    file_content: bytes,
    file_path: str,
    file_mode: str | None = None,
    parent_commit_id: str | None = None,
    commit_message: str | None = None,
    name: str | None = None,
    email: str | None = None,
) -> Output:
    if not file_content:
        raise error("FileContentRequiredException")
    repo = repository(ctx, repository_name)
    built = commit_changes(
        ctx.emu.repos,
        repo,
        branch_name,
        parent_commit_id,
        actor=ctx.principal.arn,
        puts=[PutFile(file_path, file_content, mode=file_mode)],
        name=name,
        email=email,
        message=commit_message,
        default_message=f"Added {file_path}",
        refuse_same_content=True,
    )
    change = (built.added or built.updated)[0]
    return {"commitId": built.commit.id.decode(), "blobId": change.blob_id, "treeId": built.tree_id}


def delete_file(
    ctx: RequestContext,
    repository_name: str,
    branch_name: str,
    file_path: str,
    parent_commit_id: str,
    keep_empty_folders: bool = False,
    commit_message: str | None = None,
    name: str | None = None,
    email: str | None = None,
) -> Output:
    repo = repository(ctx, repository_name)
    built = commit_changes(
        ctx.emu.repos,
        repo,
        branch_name,
        parent_commit_id,
        actor=ctx.principal.arn,
        deletes=[file_path],
        keep_empty_folders=keep_empty_folders,
        name=name,
        email=email,
        message=commit_message,
        default_message=f"Deleted {file_path}",
    )
    (gone,) = built.deleted
    return {
        "commitId": built.commit.id.decode(),
        "blobId": gone.blob_id,
        "treeId": built.tree_id,
        "filePath": gone.path,
    }


def create_commit(
    ctx: RequestContext,
    repository_name: str,
    branch_name: str,
    parent_commit_id: str | None = None,
    author_name: str | None = None,
    email: str | None = None,
    commit_message: str | None = None,
    keep_empty_folders: bool = False,
    put_files: list[dict[str, Any]] | None = None,
    delete_files: list[dict[str, Any]] | None = None,
    set_file_modes: list[dict[str, Any]] | None = None,
) -> Output:
    puts = []
    for entry in put_files or []:
        source = entry.get("sourceFile")
        puts.append(
            PutFile(
                entry.get("filePath", ""),
                entry.get("fileContent"),
                mode=entry.get("fileMode"),
                source=None if source is None else source.get("filePath", ""),
                move=bool(source and source.get("isMove")),
            )
        )
    deletes = [entry.get("filePath", "") for entry in delete_files or []]
    modes = [SetMode(e.get("filePath", ""), e.get("fileMode")) for e in set_file_modes or []]
    repo = repository(ctx, repository_name)
    built = commit_changes(
        ctx.emu.repos,
        repo,
        branch_name,
        parent_commit_id,
        actor=ctx.principal.arn,
        puts=puts,
        deletes=deletes,
        set_modes=modes,
        keep_empty_folders=keep_empty_folders,
        name=author_name,
        email=email,
        message=commit_message,
    )
    return _commit_output(built)


def _commit_output(built: BuiltCommit) -> Output:
    def files(changes: list[FileChange]) -> list[Output]:
        return [{"absolutePath": c.path, "blobId": c.blob_id, "fileMode": c.mode} for c in changes]

    return {
        "commitId": built.commit.id.decode(),
        "treeId": built.tree_id,
        "filesAdded": files(built.added),
        "filesUpdated": files(built.updated),
        "filesDeleted": files(built.deleted),
    }
