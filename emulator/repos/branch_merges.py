"""Merges that write: MergeBranchesByFastForward, MergeBranchesBySquash,
MergeBranchesByThreeWay and CreateUnreferencedMergeCommit.

The merge itself is `emulator.repos.merge` (the engine the read-only merge operations use); this
module turns its result into a commit and writes it through the one write path
(`write_path.write_refs`): the target branch moves by compare-and-swap in the same transaction
as the events a push would fire, with the caller as their actor. A target branch that moved
meanwhile is CodeCommit's `ConcurrentReferenceUpdateException`.

- Fast-forward moves the target branch to the source commit when the destination is its
  ancestor; anything else is `ManualMergeRequiredException`.
- Squash makes one commit with the merged tree and the destination as its only parent;
  three-way makes a merge commit with the destination and the source as parents (also when a
  fast-forward was possible: it always records the merge, as `git merge --no-ff`).
- Conflicts that the strategy leaves are settled by `conflictResolution` (replace a file's
  content with the base's, the source's, the destination's or new content, optionally with a
  file mode; delete a file); a merge with conflicts left is `ManualMergeRequiredException`.
- The target branch is `targetBranch`, else the branch the destination specifier names.
- `keepEmptyFolders` keeps each folder of the destination the merge leaves empty, with a
  `.gitkeep` file in it, as CreateCommit does.
- An unreferenced merge commit is stored with no ref pointing at it: it can be read by its id
  until the background collector removes what no ref reaches (after the repository's next
  maintenance pass).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dulwich.objects import Blob, Commit, ObjectID, ShaFile

from emulator.codecommit_errors import error
from emulator.repos.branches import validate_branch_name
from emulator.repos.code import HEADS, CodeReader, parse_path
from emulator.repos.merge import (
    FILE_LEVEL,
    NONE,
    Entry,
    MergeResult,
    merge_commits,
)
from emulator.repos.model import RefUpdate, Repository
from emulator.repos.pack_reader import PackCache
from emulator.repos.service import RepositoryService
from emulator.repos.tree_edit import FILE_MODES, MAX_FILE_SIZE, check_identity, keep_emptied
from emulator.repos.write_path import publish_pack, stage_objects, write_refs

FAST_FORWARD, SQUASH, THREE_WAY = "FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"
MAX_RESOLUTION_ENTRIES = 1000  # AWS publishes no number for this


@dataclass(frozen=True)
class Merged:
    commit_id: str
    tree_id: str


@dataclass(frozen=True)
class MergeCommit:
    """What a merge's commit takes from the request: author (also the committer), email and
    message, and whether folders the merge leaves empty are kept."""

    name: str | None
    email: str | None
    message: str | None
    keep_empty_folders: bool = False  # a `.gitkeep` in each folder the merge left empty


def merge_branches(
    repos: RepositoryService,
    repo: Repository,
    cache: PackCache,
    source_spec: str | None,
    destination_spec: str | None,
    option: str,
    *,
    actor: str,
    target_branch: str | None = None,
    level: str | None = None,
    strategy: str | None = None,
    resolution: Mapping[str, Any] | None = None,
    author: MergeCommit = MergeCommit(None, None, None),
) -> Merged:
    """Merge the source into the destination and move the target branch (see above)."""
    with CodeReader(repos, repo, cache) as reader:
        source = reader.resolve(source_spec, required=True)
        destination = reader.resolve(destination_spec, required=True)
        target = _target_branch(repos, repo, reader, target_branch, destination_spec)
        old_tip = repos.ref(repo, target)
        assert old_tip is not None
        if option == FAST_FORWARD:
            result = merge_commits(reader, source, destination)
            if not result.fast_forward:
                raise error("ManualMergeRequiredException")
            objects: list[ShaFile] = []
            commit_id, tree_id = source, reader.commit_tree(source)
        else:
            commit, built = _merge_commit(
                reader, source, destination, option, level, strategy, resolution, author, actor
            )
            objects = built
            commit_id, tree_id = commit.id.decode(), commit.tree.decode()
    outcome = write_refs(
        repos,
        repo,
        [RefUpdate(target, old_tip, commit_id.encode())],
        actor=actor,
        objects=objects,
    )
    if outcome.results != [None]:
        raise error("ConcurrentReferenceUpdateException", "merge")
    return Merged(commit_id, tree_id)


def unreferenced_merge_commit(
    repos: RepositoryService,
    repo: Repository,
    cache: PackCache,
    source_spec: str | None,
    destination_spec: str | None,
    option: str,
    *,
    actor: str,
    level: str | None = None,
    strategy: str | None = None,
    resolution: Mapping[str, Any] | None = None,
    author: MergeCommit = MergeCommit(None, None, None),
) -> Merged:
    """The merge commit, stored but referenced by no branch."""
    if option == FAST_FORWARD:
        raise error("InvalidMergeOptionException")  # a fast-forward makes no commit
    with CodeReader(repos, repo, cache) as reader:
        source = reader.resolve(source_spec, required=True)
        destination = reader.resolve(destination_spec, required=True)
        commit, objects = _merge_commit(
            reader, source, destination, option, level, strategy, resolution, author, actor
        )
    staged = stage_objects(repos.files(repo), objects)
    try:
        with repos.ref_window(repo):
            published = publish_pack(staged)
    finally:
        staged.discard()
    if published is not None:
        repos.request_maintenance(repo)
    return Merged(commit.id.decode(), commit.tree.decode())


def _target_branch(
    repos: RepositoryService,
    repo: Repository,
    reader: CodeReader,
    target_branch: str | None,
    destination_spec: str | None,
) -> bytes:
    if target_branch is None:
        spec = destination_spec or ""
        name = spec[len(HEADS) :] if spec.startswith(HEADS) else spec
        ref = (HEADS + name).encode("utf-8", "surrogatepass")
        if not name or repos.ref(repo, ref) is None:
            raise error("InvalidTargetBranchException")
        return ref
    name = validate_branch_name(target_branch)
    ref = (HEADS + name).encode()
    if repos.ref(repo, ref) is None:
        if repos.ref(repo, f"refs/tags/{name}".encode()) is not None:
            raise error("BranchNameIsTagNameException")
        raise error("BranchDoesNotExistException")
    return ref


def _merge_commit(
    reader: CodeReader,
    source: str,
    destination: str,
    option: str,
    level: str | None,
    strategy: str | None,
    resolution: Mapping[str, Any] | None,
    author: MergeCommit,
    actor: str,
) -> tuple[Commit, list[ShaFile]]:
    if option not in (SQUASH, THREE_WAY):
        raise error("InvalidMergeOptionException")
    check_identity(author.name, author.email, author.message)
    level, strategy = level or FILE_LEVEL, strategy or NONE
    result = merge_commits(reader, source, destination, level, strategy)
    extra: list[ShaFile] = []
    if resolution:
        resolutions, extra = _resolutions(reader, result, resolution)
        result = merge_commits(reader, source, destination, level, strategy, resolutions)
    if not result.mergeable or result.tree_id is None:
        raise error("ManualMergeRequiredException")
    objects: list[ShaFile] = [*result.objects, *extra]
    tree_id = result.tree_id.encode()
    if author.keep_empty_folders:
        # the folders of the destination that the merge emptied
        destination_tree = reader.commit_tree(destination).encode()
        known: dict[bytes, ShaFile] = {bytes(obj.id): obj for obj in objects}

        def get(sha: bytes) -> ShaFile:
            found = known.get(sha)
            if found is not None:
                return found
            stored = reader.get(sha.decode())
            assert stored is not None
            obj: ShaFile = ShaFile.from_raw_string(stored[0], stored[1])
            return obj

        tree_id = keep_emptied(get, destination_tree, objects, tree_id)
    commit = Commit()
    commit.tree = ObjectID(tree_id)
    parents = [destination] if option == SQUASH else [destination, source]
    commit.parents = [ObjectID(p.encode()) for p in parents]
    who = f"{author.name or actor} <{author.email or ''}>".encode()
    commit.author = commit.committer = who
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = (author.message or "").encode()
    return commit, [*objects, commit]


def _resolutions(
    reader: CodeReader, result: MergeResult, resolution: Mapping[str, Any]
) -> tuple[dict[str, Entry | None], list[ShaFile]]:
    """`conflictResolution` as the engine's resolutions (path -> entry, or None to delete),
    with the blobs new content makes."""
    conflicts = {fm.path: fm for fm in result.conflicts}
    replace: Sequence[Mapping[str, Any]] = resolution.get("replaceContents") or []
    deletes: Sequence[Mapping[str, Any]] = resolution.get("deleteFiles") or []
    modes: Sequence[Mapping[str, Any]] = resolution.get("setFileModes") or []
    if len(replace) + len(deletes) + len(modes) > MAX_RESOLUTION_ENTRIES:
        raise error("MaximumConflictResolutionEntriesExceededException")
    out: dict[str, Entry | None] = {}
    objects: list[ShaFile] = []

    def conflict(path: str | None) -> str:
        parts = parse_path(path)
        key = "/".join(p.decode("utf-8", "surrogateescape") for p in parts)
        if key in out:
            raise error("MultipleConflictResolutionEntriesException")
        if key not in conflicts:
            raise error("InvalidConflictResolutionException")
        return key

    mode_of = {str(m.get("filePath", "")).lstrip("/"): m.get("fileMode") for m in modes}
    for entry in replace:
        path = conflict(entry.get("filePath"))
        fm = conflicts[path]
        kind = entry.get("replacementType")
        if kind is None:
            raise error("ReplacementTypeRequiredException")
        side = {"KEEP_BASE": fm.base, "KEEP_SOURCE": fm.source, "KEEP_DESTINATION": fm.destination}
        mode_name = entry.get("fileMode") or mode_of.pop(path, None)
        if kind == "USE_NEW_CONTENT":
            content = entry.get("content")
            if content is None:
                raise error("ReplacementContentRequiredException")
            if len(content) > MAX_FILE_SIZE:
                raise error("FileContentSizeLimitExceededException")
            blob = Blob.from_string(content)
            objects.append(blob)
            out[path] = (_mode(mode_name, 0o100644), blob.id.decode())
        elif kind in side:
            if entry.get("content") is not None:
                # Content only goes with USE_NEW_CONTENT; a KEEP_* type takes a side's file.
                raise error("InvalidReplacementContentException")
            version = side[kind]
            if version is None:  # that side has no file here: the resolution deletes it
                out[path] = None
            else:
                out[path] = (_mode(mode_name, version.mode), version.sha)
        else:
            raise error("InvalidReplacementTypeException")
    for entry in deletes:
        out[conflict(entry.get("filePath"))] = None
    for path, mode_name in mode_of.items():
        key = conflict(path)
        dest = conflicts[key].destination
        if dest is None:
            raise error("InvalidConflictResolutionException")
        out[key] = (_mode(mode_name, dest.mode), dest.sha)
    return out, objects


def _mode(name: str | None, default: int) -> int:
    if name is None:
        return default
    if name not in FILE_MODES:
        raise error("InvalidFileModeException")
    return FILE_MODES[name]
