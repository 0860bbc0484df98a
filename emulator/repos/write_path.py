"""The one write path: new objects into the pack store, refs moved by compare-and-swap.

Every writer of a repository comes through `write_refs`: a push (`receive`, with the pack it
received, indexed and checked), an API commit (`PutFile`, `CreateCommit`, merges: dulwich
objects built in memory) and, later, the console. The steps are the same for all:

1. refuse the updates the caller may not make (`authorize_ref`; with `atomic`, one refusal
   refuses them all and nothing is stored);
2. write objects built in memory as one pack in the repository's scratch dir, through the
   repository's `RepoFiles` (so an encrypted repository never holds them in plaintext), with
   the checks a push gets: each object well formed (`object_checks`, git's fsck rules), every
   object it names present in the new pack or the store, every new ref value present (also
   when the write brings no objects, as CreateBranch); a push's staged pack was checked so
   by `receive` as it arrived;
3. inside the repository's ref window (`RepositoryService.ref_window`: the collector removes
   no pack meanwhile), publish the pack (`.pack`, then `.idx`: readers see a pack once its
   index exists) and move the refs by compare-and-swap in one transaction, with the events
   the ref listeners write in that same transaction;
4. ask for maintenance when a pack was added.

A published pack is never removed here, even when no update applied (a lost compare-and-swap):
an identical concurrent write may rely on it. Its objects are unreachable then, never sent to
a client (`reachability`), and the background collector removes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import ShaFile
from dulwich.pack import write_pack_objects

from emulator.config import Limits
from emulator.repos.files import PACK_DIR, RepoFiles
from emulator.repos.gitmodules import check_special_blob, non_blob
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.repos.object_checks import BLOB, ObjectCheckError, check_raw_object
from emulator.repos.object_store import RETIRED
from emulator.repos.pack_indexer import write_index_v2
from emulator.repos.pack_reader import PackCache, PackReader
from emulator.repos.service import ATOMIC_FAILED, RepositoryService

# `authorize_ref(refname)` returns None if the writer may update the ref, else the reason.
AuthorizeRef = Callable[[bytes], str | None]


@dataclass
class StagedPack:
    """A pack and its index in the repository's scratch dir, checked and ready to publish.
    Its name is `pack-<checksum>`, as git names packs. `files` is the store that wrote them:
    only it can publish them (an encrypted store's scratch keys live in that object alone)."""

    files: RepoFiles
    pack_path: Path
    idx_path: Path
    name: str

    def discard(self) -> None:
        for path in (self.idx_path, self.pack_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@dataclass(frozen=True)
class WriteOutcome:
    """What a write did: per update, None if it applied, else why not; and the pack it added
    to the store (None when it stored nothing new)."""

    results: list[str | None]
    published: str | None

    @property
    def applied(self) -> bool:
        return all(r is None for r in self.results)


def write_refs(
    repos: RepositoryService,
    repo: Repository,
    updates: Sequence[RefUpdate],
    *,
    actor: str | None,
    objects: Sequence[ShaFile] = (),
    staged: StagedPack | None = None,
    authorize_ref: AuthorizeRef | None = None,
    atomic: bool = True,
    cache: PackCache | None = None,
    limits: Limits | None = None,
) -> WriteOutcome:
    """Store the new objects and move the refs (see the module docstring). The new objects are
    either `objects`, built in memory (checked and written as a pack here), or `staged`, a
    pack the caller has indexed and checked (a push's quarantine); not both. `actor` is the ARN
    the events name. Raises `ObjectCheckError` for an in-memory object that git would refuse
    or that names an object the repository lacks: nothing is stored then."""
    if objects and staged is not None:
        raise ValueError("write_refs takes objects built in memory or a staged pack, not both")
    results: list[str | None] = [None] * len(updates)
    if authorize_ref is not None:
        results = [authorize_ref(u.name) for u in updates]
    if any(r is not None for r in results) and atomic:
        return WriteOutcome([r if r is not None else ATOMIC_FAILED for r in results], None)
    todo = [i for i, r in enumerate(results) if r is None]
    if not todo:
        return WriteOutcome(results, None)
    files = repos.files(repo)
    cache = cache if cache is not None else repos.pack_cache
    own = staged is None and bool(objects)
    if own:
        staged = stage_objects(files, objects)
    published: str | None = None
    try:
        with repos.ref_window(repo):
            moves = [updates[i] for i in todo]
            if staged is None or own:
                _check_new_objects(repos, repo, files, cache, objects, moves, limits)
            if staged is not None:
                published = publish_pack(staged)
            applied = repos.update_refs(repo, moves, atomic=atomic, actor=actor)
        for i, result in zip(todo, applied, strict=True):
            results[i] = result
        return WriteOutcome(results, published)
    finally:
        if own and staged is not None:
            staged.discard()
        if published is not None:
            # Merging packs and collecting what no ref reaches happen in the background
            # (`maintenance`, also told of every ref change), never while the writer waits.
            repos.request_maintenance(repo)


def stage_objects(files: RepoFiles, objects: Sequence[ShaFile]) -> StagedPack:
    """Write `objects` as one pack and its index in the scratch dir (encrypted there when the
    store is). Objects are stored whole; the background merge keeps them as they are."""
    unique = list({obj.id: obj for obj in objects}.values())
    # Scratch files come from the store: an encrypted store keeps them encrypted too.
    pack_file = files.create_scratch(prefix="write-", suffix=".pack")
    idx_path: Path | None = None
    try:
        with pack_file:

            def write(data: bytes) -> None:
                pack_file.write(data)

            found, checksum = write_pack_objects(
                write, unique, DEFAULT_OBJECT_FORMAT, deltify=False
            )
        entries = sorted((sha, offset, crc) for sha, (offset, crc) in found.items())
        with files.create_scratch(prefix="write-", suffix=".idx") as idx:
            idx_path = idx.path
            write_index_v2(cast(BinaryIO, idx), entries, checksum)
        return StagedPack(files, pack_file.path, idx_path, f"pack-{checksum.hex()}")
    except BaseException:
        for path in (idx_path, pack_file.path):
            if path is not None:
                path.unlink(missing_ok=True)
        raise


def publish_pack(staged: StagedPack) -> str | None:
    """Move a staged pack into the store; returns its name if this call added it. Called
    inside the ref window, so the collector is not retiring or deleting packs meanwhile."""
    files = staged.files
    name = staged.name
    entries = set(files.list(PACK_DIR))
    if {f"{name}.pack", f"{name}.idx"} <= entries and f"{name}{RETIRED}" not in entries:
        return None  # the very same pack (its name is its checksum) is stored and visible
    files.publish(f"{PACK_DIR}/{name}.pack", staged.pack_path)
    files.publish(f"{PACK_DIR}/{name}.idx", staged.idx_path)
    # The same pack, retired by the collector and not yet deleted, is visible again.
    files.delete(f"{PACK_DIR}/{name}{RETIRED}")
    return name


def _check_new_objects(
    repos: RepositoryService,
    repo: Repository,
    files: RepoFiles,
    cache: PackCache,
    objects: Sequence[ShaFile],
    updates: Sequence[RefUpdate],
    limits: Limits | None,
) -> None:
    """A push's checks for objects built in memory: git's fsck rules on each, and everything
    they and the new ref values name present (in them or in the store). Inside the ref window,
    so what the store holds now stays until the refs are moved."""
    limits = limits if limits is not None else Limits()
    new = {bytes.fromhex(obj.id.decode()): obj for obj in objects}
    referenced: dict[bytes, bytes] = {}  # named object -> the new object naming it
    specials: dict[bytes, str] = {}  # blobs named .gitmodules or .gitattributes
    for sha, obj in new.items():
        content = obj.as_raw_string()
        for ref in check_raw_object(obj.type_num, content, obj.id, limits, specials):
            referenced.setdefault(ref, sha)
    tips = {bytes.fromhex(u.new.decode()): u.name for u in updates if u.new != ZERO_SHA}
    if not referenced and not tips:
        return  # deletions only
    with PackReader(files, repos.object_store(repo).pack_names(), cache) as stored:
        for ref, named_by in referenced.items():
            if ref not in new and ref not in stored:
                raise ObjectCheckError(f"missing object {ref.hex()} referenced by {named_by.hex()}")
        for tip, name in tips.items():
            if tip not in new and tip not in stored:
                raise ObjectCheckError(f"missing object {tip.hex()} for {name.decode()}")
        for sha, kind in specials.items():
            found = _content(new, stored, sha)
            if found is None:
                continue
            type_num, content = found
            problem = non_blob(kind) if type_num != BLOB else check_special_blob(kind, content)
            if problem is not None:
                raise ObjectCheckError(f"object {sha.hex()} at {kind}: {problem}")


def _content(new: dict[bytes, ShaFile], stored: PackReader, sha: bytes) -> tuple[int, bytes] | None:
    obj = new.get(sha)
    if obj is not None:
        return obj.type_num, obj.as_raw_string()
    return stored.get(sha)
