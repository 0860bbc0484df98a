"""CodeCommit's read operations on code: GetBlob, GetFile, GetFolder, GetCommit,
BatchGetCommits, GetDifferences and ListFileCommitHistory. Collected into
`emulator.api.codecommit.SERVICE` (an area of that package).

Each handler reads through `emulator.repos.code` and returns the output members as the model
names them; blob contents are returned as bytes (the protocol layer base64-encodes them). The
call is authorized before a handler runs, as `emulator.api.codecommit_access` declares it.
"""

from __future__ import annotations

from typing import Any

from emulator.api.codecommit.common import repository
from emulator.api.pagination import offset_of, page, token_at
from emulator.api.service import RequestContext
from emulator.codecommit_errors import error
from emulator.errors import ClientError
from emulator.repos.code import (
    CodeReader,
    CommitInfo,
    Person,
    check_object_id,
    file_mode_name,
    is_gitlink,
    is_symlink,
    is_tree,
    join_path,
    parse_path,
    read_commit,
)
from emulator.repos.code_diff import BlobSide, differences, file_history

Output = dict[str, Any]

# BatchGetCommits takes up to 100 commit IDs (CommitIdsLimitExceededException's documentation).
MAX_BATCH_COMMITS = 100
# Page sizes when the caller gives none; the model documents no default.
DIFFERENCES_PAGE = 100
HISTORY_PAGE = 100
MAX_PAGE = 1000

# Input member -> (error when missing, error when invalid), for the operations of this module
# (see `emulator.api.codecommit.validation_error`; a code the operation's model does not list
# becomes ValidationException there).
MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "blobId": ("BlobIdRequiredException", "InvalidBlobIdException"),
    "filePath": ("PathRequiredException", "InvalidPathException"),
    "folderPath": ("PathRequiredException", "InvalidPathException"),
    "beforePath": (None, "InvalidPathException"),
    "afterPath": (None, "InvalidPathException"),
    "commitSpecifier": ("CommitRequiredException", "InvalidCommitException"),
    "beforeCommitSpecifier": (None, "InvalidCommitException"),
    "afterCommitSpecifier": ("CommitRequiredException", "InvalidCommitException"),
    "commitIds": ("CommitIdsListRequiredException", "InvalidCommitIdException"),
    "MaxResults": (None, "InvalidMaxResultsException"),
    "maxResults": (None, "InvalidMaxResultsException"),
    "NextToken": (None, "InvalidContinuationTokenException"),
}


def _reader(ctx: RequestContext, name: str | None) -> CodeReader:
    return CodeReader(ctx.emu.repos, repository(ctx, name), ctx.emu.pack_cache)


def _page_size(requested: int | None, default: int) -> int:
    if requested is None:
        return default
    if requested < 1:
        raise error("InvalidMaxResultsException")
    return min(requested, MAX_PAGE)


def _user(person: Person) -> Output:
    return {"name": person.name, "email": person.email, "date": person.date}


def _commit(info: CommitInfo) -> Output:
    return {
        "commitId": info.commit_id,
        "treeId": info.tree_id,
        "parents": list(info.parents),
        "message": info.message,
        "author": _user(info.author),
        "committer": _user(info.committer),
        "additionalData": "",
    }


# -- blobs, files and folders ------------------------------------------------------------------


def get_blob(ctx: RequestContext, repository_name: str, blob_id: str) -> Output:
    sha = check_object_id(blob_id, "BlobIdRequiredException", "InvalidBlobIdException")
    with _reader(ctx, repository_name) as reader:
        return {"content": reader.blob(sha)}


def get_file(
    ctx: RequestContext,
    repository_name: str,
    file_path: str,
    commit_specifier: str | None = None,
) -> Output:
    with _reader(ctx, repository_name) as reader:
        found = reader.file(commit_specifier, file_path)
    return {
        "commitId": found.commit_id,
        "blobId": found.blob_id,
        "filePath": found.path,
        "fileMode": file_mode_name(found.mode),
        "fileSize": len(found.content),
        "fileContent": found.content,
    }


def get_folder(
    ctx: RequestContext,
    repository_name: str,
    folder_path: str,
    commit_specifier: str | None = None,
) -> Output:
    with _reader(ctx, repository_name) as reader:
        folder = reader.folder(commit_specifier, folder_path)
    sub_folders, files, links, modules = [], [], [], []
    for e in folder.entries:
        where = {"absolutePath": e.absolute_path, "relativePath": e.relative_path}
        if is_tree(e.mode):
            sub_folders.append({"treeId": e.sha, **where})
        elif is_gitlink(e.mode):
            modules.append({"commitId": e.sha, **where})
        elif is_symlink(e.mode):
            links.append({"blobId": e.sha, **where, "fileMode": file_mode_name(e.mode)})
        else:
            files.append({"blobId": e.sha, **where, "fileMode": file_mode_name(e.mode)})
    return {
        "commitId": folder.commit_id,
        "folderPath": folder.path,
        "treeId": folder.tree_id,
        "subFolders": sub_folders,
        "files": files,
        "symbolicLinks": links,
        "subModules": modules,
    }


# -- commits -------------------------------------------------------------------------------------


def get_commit(ctx: RequestContext, repository_name: str, commit_id: str) -> Output:
    sha = check_object_id(commit_id, "CommitIdRequiredException", "InvalidCommitIdException")
    with _reader(ctx, repository_name) as reader:
        found = read_commit(reader, sha)
    if isinstance(found, ClientError):
        raise found
    return {"commit": _commit(found)}


def batch_get_commits(ctx: RequestContext, commit_ids: list[str], repository_name: str) -> Output:
    if not commit_ids:
        raise error("CommitIdsListRequiredException")
    if len(commit_ids) > MAX_BATCH_COMMITS:
        raise error("CommitIdsLimitExceededException")
    commits: list[Output] = []
    errors: list[Output] = []
    with _reader(ctx, repository_name) as reader:
        for given in dict.fromkeys(commit_ids):
            try:
                sha = check_object_id(
                    given, "CommitIdRequiredException", "InvalidCommitIdException"
                )
                found = read_commit(reader, sha)
            except ClientError as exc:
                found = exc
            if isinstance(found, ClientError):
                errors.append(
                    {"commitId": given, "errorCode": found.code, "errorMessage": found.message}
                )
            else:
                commits.append(_commit(found))
    return {"commits": commits, "errors": errors}


# -- differences and history ---------------------------------------------------------------------


def _blob_metadata(side: BlobSide | None) -> Output | None:
    if side is None:
        return None
    return {"blobId": side.blob_id, "path": side.path, "mode": f"{side.mode:06o}"}


def get_differences(
    ctx: RequestContext,
    repository_name: str,
    after_commit_specifier: str,
    before_commit_specifier: str | None = None,
    before_path: str | None = None,
    after_path: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> Output:
    size = _page_size(max_results, DIFFERENCES_PAGE)
    repo = repository(ctx, repository_name)
    with CodeReader(ctx.emu.repos, repo, ctx.emu.pack_cache) as reader:
        found = differences(
            reader, before_commit_specifier, after_commit_specifier, before_path, after_path
        )
    listing = "\0".join(
        [
            "differences",
            repo.id,
            before_commit_specifier or "",
            after_commit_specifier,
            before_path or "",
            after_path or "",
        ]
    )
    items, token = page(found, next_token, size, listing)
    return {
        "differences": [
            {
                "beforeBlob": _blob_metadata(d.before),
                "afterBlob": _blob_metadata(d.after),
                "changeType": d.change_type,
            }
            for d in items
        ],
        "NextToken": token,
    }


def list_file_commit_history(
    ctx: RequestContext,
    repository_name: str,
    file_path: str,
    commit_specifier: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> Output:
    size = _page_size(max_results, HISTORY_PAGE)
    repo = repository(ctx, repository_name)
    with CodeReader(ctx.emu.repos, repo, ctx.emu.pack_cache) as reader:
        parts = parse_path(file_path)
        commit_id = reader.resolve(commit_specifier)
        listing = "\0".join(["history", repo.id, commit_specifier or "", join_path(parts)])
        start = offset_of(next_token, listing)
        found = file_history(reader, commit_id, parts, start, size)
        versions = found.versions
        token = token_at(start + size, listing) if found.more else None
    return {
        "revisionDag": [
            {
                "commit": _commit(v.commit),
                "blobId": v.blob_id,
                "path": v.path,
                "revisionChildren": list(v.children),
            }
            for v in versions
        ],
        "nextToken": token,
    }
