"""CodeCommit's read-only merge operations: GetMergeCommit, GetMergeOptions, GetMergeConflicts,
DescribeMergeConflicts and BatchDescribeMergeConflicts. Collected into
`emulator.api.codecommit.SERVICE`.

Each handler merges through `emulator.repos.merge` (which states where CodeCommit's merge
rules differ from git's) and renders what it finds as the model names it; nothing is stored.
Line ranges of a hunk count lines from 0 and end after the last line (`endLine` is exclusive),
as the AWS CLI's documented example (`startLine` 0) suggests; `hunkContent` is the lines'
bytes, base64-encoded (the model's HunkContent is a string).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from emulator.api.codecommit.common import entry_error, repository
from emulator.api.pagination import page
from emulator.api.service import RequestContext
from emulator.api.shapes import Invalid
from emulator.codecommit_errors import error
from emulator.errors import ClientError, ServiceError
from emulator.repos.branch_merges import MergeCommit, merge_branches, unreferenced_merge_commit
from emulator.repos.code import CodeReader, file_mode_name, parse_path
from emulator.repos.merge import (
    FILE_LEVEL,
    NONE,
    FileMerge,
    Hunk,
    MergeResult,
    Version,
    describe_path,
    find_merge_commit,
    merge_base,
    merge_commits,
)
from emulator.repos.model import Repository

Output = dict[str, Any]

FAST_FORWARD, SQUASH, THREE_WAY = "FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"
# Page sizes when the caller gives none (the model documents no default), and the largest
# ccemu answers with.
CONFLICT_FILES_PAGE = 100
MERGE_HUNKS_PAGE = 100
MAX_PAGE = 1000

# Input member -> (error when missing, error when invalid), for the operations of this module
# (see `emulator.api.codecommit.validation_error`).
MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "sourceCommitSpecifier": ("CommitRequiredException", "InvalidCommitException"),
    "destinationCommitSpecifier": ("CommitRequiredException", "InvalidCommitException"),
    "conflictDetailLevel": (None, "InvalidConflictDetailLevelException"),
    "conflictResolutionStrategy": (None, "InvalidConflictResolutionStrategyException"),
    "mergeOption": ("MergeOptionRequiredException", "InvalidMergeOptionException"),
    "maxConflictFiles": (None, "InvalidMaxConflictFilesException"),
    "maxMergeHunks": (None, "InvalidMaxMergeHunksException"),
    "filePaths": (None, "InvalidPathException"),
    "targetBranch": (None, "InvalidTargetBranchException"),
}


@contextmanager
def _reader(ctx: RequestContext, repo: Repository) -> Iterator[CodeReader]:
    with CodeReader(ctx.emu.repos, repo, ctx.emu.pack_cache) as reader:
        yield reader


def _resolve(
    reader: CodeReader, source: str | None, destination: str | None, sided: bool = False
) -> tuple[str, str]:
    """Both commit specifiers as commit ids. With `sided`, a malformed one is answered with the
    error naming its side (GetMergeConflicts' model lists those)."""
    ids = []
    for spec, invalid in (
        (source, "InvalidSourceCommitSpecifierException"),
        (destination, "InvalidDestinationCommitSpecifierException"),
    ):
        try:
            ids.append(reader.resolve(spec, required=True))
        except ClientError as exc:
            if sided and exc.code == "InvalidCommitException":
                raise error(invalid) from None
            raise
    return ids[0], ids[1]


def _page_size(requested: int | None, default: int, invalid: str) -> int:
    if requested is None:
        return default
    if requested < 1:
        raise error(invalid)
    return min(requested, MAX_PAGE)


def _describable(option: str) -> None:
    # "If the merge option for the attempted merge is specified as FAST_FORWARD_MERGE, an
    # exception is thrown" (DescribeMergeConflicts); a fast-forward has no conflicts to show.
    if option == FAST_FORWARD:
        raise error("InvalidMergeOptionException")


def _merge(
    reader: CodeReader,
    source: str,
    destination: str,
    option: str,
    level: str | None,
    strategy: str | None,
) -> MergeResult:
    result = merge_commits(reader, source, destination, level or FILE_LEVEL, strategy or NONE)
    if option == FAST_FORWARD and not result.fast_forward:
        # Not mergeable by fast-forward, whatever the trees would make.
        return MergeResult(source, destination, result.base_id, False, [], None, [])
    return result


# -- rendering ------------------------------------------------------------------------------------


def _three(fm: FileMerge, value: Any) -> Output:
    out: Output = {}
    for key, side in (("source", fm.source), ("destination", fm.destination), ("base", fm.base)):
        got = None if side is None else value(side)
        if got is not None:
            out[key] = got
    return out


def _mode(v: Version) -> str | None:
    return file_mode_name(v.mode) if v.object_type in ("FILE", "SYMBOLIC_LINK") else None


def _operation(fm: FileMerge, side: Version | None) -> str | None:
    base = fm.base
    if base is None:
        return None if side is None else "A"
    if side is None:
        return "D"
    return None if (side.mode, side.sha) == (base.mode, base.sha) else "M"


def _metadata(fm: FileMerge) -> Output:
    operations = {
        key: op
        for key, op in (
            ("source", _operation(fm, fm.source)),
            ("destination", _operation(fm, fm.destination)),
        )
        if op is not None
    }
    return {
        "filePath": fm.path,
        "fileSizes": _three(fm, lambda v: v.size),
        "fileModes": _three(fm, _mode),
        "objectTypes": _three(fm, lambda v: v.object_type),
        "numberOfConflicts": fm.number_of_conflicts,
        "isBinaryFile": _three(fm, lambda v: v.binary),
        "contentConflict": fm.content_conflict,
        "fileModeConflict": fm.mode_conflict,
        "objectTypeConflict": fm.type_conflict,
        "mergeOperations": operations,
    }


def _hunk(h: Hunk) -> Output:
    out: Output = {"isConflict": h.is_conflict}
    for key, side in (("source", h.source), ("destination", h.destination), ("base", h.base)):
        if side is not None:
            out[key] = {
                "startLine": side.start,
                "endLine": side.end,
                "hunkContent": base64.b64encode(side.content).decode(),
            }
    return out


def _ids(result: MergeResult) -> Output:
    return {
        "sourceCommitId": result.source_id,
        "destinationCommitId": result.destination_id,
        "baseCommitId": result.base_id,
    }


def _listing(kind: str, repo: Repository, result: MergeResult, *more: object) -> str:
    return "\0".join(
        [kind, repo.id, result.source_id, result.destination_id, *(str(m) for m in more)]
    )


# -- operations -----------------------------------------------------------------------------------


def get_merge_commit(
    ctx: RequestContext,
    repository_name: str,
    source_commit_specifier: str,
    destination_commit_specifier: str,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
) -> Output:
    """The merge of the source into the destination: the commit in the destination's history
    that merged the source (none when it came in by fast-forward, or not yet)."""
    repo = repository(ctx, repository_name)
    with _reader(ctx, repo) as reader:
        source, destination = _resolve(
            reader, source_commit_specifier, destination_commit_specifier
        )
        return {
            "sourceCommitId": source,
            "destinationCommitId": destination,
            "baseCommitId": merge_base(reader, source, destination),
            "mergedCommitId": find_merge_commit(reader, source, destination),
        }


def get_merge_options(
    ctx: RequestContext,
    repository_name: str,
    source_commit_specifier: str,
    destination_commit_specifier: str,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
) -> Output:
    repo = repository(ctx, repository_name)
    with _reader(ctx, repo) as reader:
        source, destination = _resolve(
            reader, source_commit_specifier, destination_commit_specifier
        )
        result = _merge(
            reader,
            source,
            destination,
            THREE_WAY,
            conflict_detail_level,
            conflict_resolution_strategy,
        )
    options = [FAST_FORWARD] if result.fast_forward else []
    if result.mergeable:
        options += [SQUASH, THREE_WAY]
    return {"mergeOptions": options, **_ids(result)}


def get_merge_conflicts(
    ctx: RequestContext,
    repository_name: str,
    destination_commit_specifier: str,
    source_commit_specifier: str,
    merge_option: str,
    conflict_detail_level: str | None = None,
    max_conflict_files: int | None = None,
    conflict_resolution_strategy: str | None = None,
    next_token: str | None = None,
) -> Output:
    size = _page_size(max_conflict_files, CONFLICT_FILES_PAGE, "InvalidMaxConflictFilesException")
    repo = repository(ctx, repository_name)
    with _reader(ctx, repo) as reader:
        source, destination = _resolve(
            reader, source_commit_specifier, destination_commit_specifier, sided=True
        )
        result = _merge(
            reader,
            source,
            destination,
            merge_option,
            conflict_detail_level,
            conflict_resolution_strategy,
        )
    listing = _listing(
        "conflicts", repo, result, merge_option, conflict_detail_level, conflict_resolution_strategy
    )
    items, token = page(result.conflicts, next_token, size, listing)
    mergeable = result.fast_forward if merge_option == FAST_FORWARD else result.mergeable
    return {
        "mergeable": mergeable,
        **_ids(result),
        "conflictMetadataList": [_metadata(fm) for fm in items],
        "nextToken": token,
    }


def describe_merge_conflicts(
    ctx: RequestContext,
    repository_name: str,
    destination_commit_specifier: str,
    source_commit_specifier: str,
    merge_option: str,
    file_path: str,
    max_merge_hunks: int | None = None,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
    next_token: str | None = None,
) -> Output:
    size = _page_size(max_merge_hunks, MERGE_HUNKS_PAGE, "InvalidMaxMergeHunksException")
    _describable(merge_option)
    parts = parse_path(file_path)
    repo = repository(ctx, repository_name)
    with _reader(ctx, repo) as reader:
        source, destination = _resolve(
            reader, source_commit_specifier, destination_commit_specifier
        )
        result = _merge(
            reader,
            source,
            destination,
            merge_option,
            conflict_detail_level,
            conflict_resolution_strategy,
        )
        fm = describe_path(reader, result, parts)
    if fm is None:
        raise error("FileDoesNotExistException")
    listing = _listing(
        "hunks",
        repo,
        result,
        merge_option,
        conflict_detail_level,
        conflict_resolution_strategy,
        fm.path,
    )
    hunks, token = page(fm.hunks, next_token, size, listing)
    return {
        "conflictMetadata": _metadata(fm),
        "mergeHunks": [_hunk(h) for h in hunks],
        "nextToken": token,
        **_ids(result),
    }


def batch_describe_merge_conflicts(
    ctx: RequestContext,
    repository_name: str,
    destination_commit_specifier: str,
    source_commit_specifier: str,
    merge_option: str,
    max_merge_hunks: int | None = None,
    max_conflict_files: int | None = None,
    file_paths: list[str] | None = None,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
    next_token: str | None = None,
) -> Output:
    files = _page_size(max_conflict_files, CONFLICT_FILES_PAGE, "InvalidMaxConflictFilesException")
    hunks = _page_size(max_merge_hunks, MERGE_HUNKS_PAGE, "InvalidMaxMergeHunksException")
    _describable(merge_option)
    wanted = None if not file_paths else [parse_path(p) for p in file_paths]
    repo = repository(ctx, repository_name)
    errors: list[Output] = []
    with _reader(ctx, repo) as reader:
        source, destination = _resolve(
            reader, source_commit_specifier, destination_commit_specifier
        )
        result = _merge(
            reader,
            source,
            destination,
            merge_option,
            conflict_detail_level,
            conflict_resolution_strategy,
        )
        conflicts = result.conflicts
        if wanted is not None:
            # Only the conflicts among the paths asked for; a path in none of the commits is
            # reported in `errors`.
            chosen: list[FileMerge] = []
            for parts, given in zip(wanted, file_paths or [], strict=True):
                fm = describe_path(reader, result, parts)
                if fm is None:
                    exc = error("FileDoesNotExistException")
                    errors.append(
                        {"filePath": given, "exceptionName": exc.code, "message": exc.message}
                    )
                elif fm in conflicts and fm not in chosen:
                    chosen.append(fm)
            conflicts = [fm for fm in result.conflicts if fm in chosen]
    listing = _listing(
        "batch-conflicts",
        repo,
        result,
        merge_option,
        conflict_detail_level,
        conflict_resolution_strategy,
        "\0".join(file_paths or []),
    )
    items, token = page(conflicts, next_token, files, listing)
    return {
        "conflicts": [
            {"conflictMetadata": _metadata(fm), "mergeHunks": [_hunk(h) for h in fm.hunks[:hunks]]}
            for fm in items
        ],
        "nextToken": token,
        "errors": errors,
        **_ids(result),
    }


# -- merges that write --------------------------------------------------------------------------


def merge_branches_by_fast_forward(
    ctx: RequestContext,
    repository_name: str,
    source_commit_specifier: str,
    destination_commit_specifier: str,
    target_branch: str | None = None,
) -> Output:
    merged = merge_branches(
        ctx.emu.repos,
        repository(ctx, repository_name),
        ctx.emu.pack_cache,
        source_commit_specifier,
        destination_commit_specifier,
        FAST_FORWARD,
        actor=ctx.principal.arn,
        target_branch=target_branch,
    )
    return {"commitId": merged.commit_id, "treeId": merged.tree_id}


def _merge_writing(
    ctx: RequestContext,
    option: str,
    repository_name: str,
    source_commit_specifier: str,
    destination_commit_specifier: str,
    target_branch: str | None,
    conflict_detail_level: str | None,
    conflict_resolution_strategy: str | None,
    author_name: str | None,
    email: str | None,
    commit_message: str | None,
    keep_empty_folders: bool,
    conflict_resolution: dict[str, Any] | None,
) -> Output:
    merged = merge_branches(
        ctx.emu.repos,
        repository(ctx, repository_name),
        ctx.emu.pack_cache,
        source_commit_specifier,
        destination_commit_specifier,
        option,
        actor=ctx.principal.arn,
        target_branch=target_branch,
        level=conflict_detail_level,
        strategy=conflict_resolution_strategy,
        resolution=conflict_resolution,
        author=MergeCommit(author_name, email, commit_message, keep_empty_folders),
    )
    return {"commitId": merged.commit_id, "treeId": merged.tree_id}


def merge_branches_by_squash(
    ctx: RequestContext,
    repository_name: str,
    source_commit_specifier: str,
    destination_commit_specifier: str,
    target_branch: str | None = None,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
    author_name: str | None = None,
    email: str | None = None,
    commit_message: str | None = None,
    keep_empty_folders: bool = False,
    conflict_resolution: dict[str, Any] | None = None,
) -> Output:
    return _merge_writing(
        ctx,
        SQUASH,
        repository_name,
        source_commit_specifier,
        destination_commit_specifier,
        target_branch,
        conflict_detail_level,
        conflict_resolution_strategy,
        author_name,
        email,
        commit_message,
        keep_empty_folders,
        conflict_resolution,
    )


def merge_branches_by_three_way(
    ctx: RequestContext,
    repository_name: str,
    source_commit_specifier: str,
    destination_commit_specifier: str,
    target_branch: str | None = None,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
    author_name: str | None = None,
    email: str | None = None,
    commit_message: str | None = None,
    keep_empty_folders: bool = False,
    conflict_resolution: dict[str, Any] | None = None,
) -> Output:
    return _merge_writing(
        ctx,
        THREE_WAY,
        repository_name,
        source_commit_specifier,
        destination_commit_specifier,
        target_branch,
        conflict_detail_level,
        conflict_resolution_strategy,
        author_name,
        email,
        commit_message,
        keep_empty_folders,
        conflict_resolution,
    )


def create_unreferenced_merge_commit(
    ctx: RequestContext,
    repository_name: str,
    source_commit_specifier: str,
    destination_commit_specifier: str,
    merge_option: str,
    conflict_detail_level: str | None = None,
    conflict_resolution_strategy: str | None = None,
    author_name: str | None = None,
    email: str | None = None,
    commit_message: str | None = None,
    keep_empty_folders: bool = False,
    conflict_resolution: dict[str, Any] | None = None,
) -> Output:
    merged = unreferenced_merge_commit(
        ctx.emu.repos,
        repository(ctx, repository_name),
        ctx.emu.pack_cache,
        source_commit_specifier,
        destination_commit_specifier,
        merge_option,
        actor=ctx.principal.arn,
        level=conflict_detail_level,
        strategy=conflict_resolution_strategy,
        resolution=conflict_resolution,
        author=MergeCommit(author_name, email, commit_message, keep_empty_folders),
    )
    return {"commitId": merged.commit_id, "treeId": merged.tree_id}


_RESOLUTION_ERRORS: dict[str, tuple[str, str]] = {
    "filePath": ("PathRequiredException", "InvalidPathException"),
    "fileMode": ("FileModeRequiredException", "InvalidFileModeException"),
    "replacementType": ("ReplacementTypeRequiredException", "InvalidReplacementTypeException"),
    "content": ("ReplacementContentRequiredException", "FileContentSizeLimitExceededException"),
}


def _resolution_error(failures: list[Invalid]) -> ServiceError:
    """A constraint broken inside `conflictResolution`: the error of the entry's member."""
    return entry_error(failures, _RESOLUTION_ERRORS, error("InvalidConflictResolutionException"))


MEMBER_VALIDATION: dict[str, Callable[[list[Invalid]], ServiceError]] = {
    "conflictResolution": _resolution_error,
}
