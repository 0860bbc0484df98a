"""A commit made of file changes, as CodeCommit's PutFile, DeleteFile and CreateCommit make it.

`build_commit` takes the parent commit and the changes (files put with their content or copied
or moved from another path of the parent, files deleted, modes set), checks them by
CodeCommit's rules, and returns the new objects (blobs, the trees along the changed paths, the
commit) without storing anything: the caller hands them to the write path, which stores them
and moves the branch by compare-and-swap.

Only the trees on the changed paths are read and rewritten, so the cost of a commit depends on
the depth of what it changes, not on the size of the repository or of its history.

Where CodeCommit's rules are documented (the service model's error shapes), they are applied as
written: a file of at most 6 MB and 7 MB of content in all, at most 100 changed files, no empty
file through PutFile, a path may not name or cross a file, folder or submodule it conflicts
with, and a commit that changes nothing is refused. An emptied folder disappears, or keeps a
`.gitkeep` file when `keep_empty_folders` asks for it (the model's documentation of
`keepEmptyFolders` for the merges and RestrictedSourceFileException; CreateCommit's says
`..gitkeep`, which reads as a slip).
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree

from emulator.codecommit_errors import error
from emulator.repos.code import parse_path

MAX_FILE_SIZE = 6 * 1024 * 1024  # FileContentSizeLimitExceededException: "6 MB"
MAX_CHANGE_SIZE = 7 * 1024 * 1024  # "... and the combined file content change size is 7 MB"
MAX_FILE_ENTRIES = 100  # files changed by one API commit (CodeCommit's quotas)
MAX_MESSAGE = 256 * 1024  # "Commit messages are limited to 256 KB"
MAX_NAME = 1024
MAX_EMAIL = 1024
KEEP_FILE = ".gitkeep"

FILE_MODES = {"NORMAL": 0o100644, "EXECUTABLE": 0o100755, "SYMLINK": 0o120000}
MODE_NAMES = {mode: name for name, mode in FILE_MODES.items()}
_GITLINK = 0o160000

GetObject = Callable[[bytes], ShaFile]  # hex SHA -> object of the repository


@dataclass(frozen=True)
class PutFile:
    path: str
    content: bytes | None = None
    mode: str | None = None  # NORMAL, EXECUTABLE, SYMLINK; None keeps an existing file's
    source: str | None = None  # copy (or move) the file at this path of the parent
    move: bool = False


@dataclass(frozen=True)
class SetMode:
    path: str
    mode: str | None  # None: FileModeRequiredException


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    when: int  # seconds since the epoch
    timezone: int = 0  # seconds east of UTC


@dataclass
class FileChange:
    path: str
    blob_id: str
    mode: str


@dataclass
class BuiltCommit:
    commit: Commit
    objects: list[ShaFile]  # every new object, the commit last
    tree_id: str
    added: list[FileChange] = field(default_factory=list)
    updated: list[FileChange] = field(default_factory=list)
    deleted: list[FileChange] = field(default_factory=list)


def normalize_path(path: str | None) -> tuple[str, ...]:
    """A file path as the API takes it (`code.parse_path`), and nothing inside `.git`."""
    parts = tuple(p.decode("utf-8", "surrogatepass") for p in parse_path(path))
    if any(part.lower() == ".git" for part in parts):
        raise error("InvalidPathException")
    return parts


def check_identity(name: str | None, email: str | None, message: str | None) -> None:
    if name is not None and len(name.encode()) > MAX_NAME:
        raise error("NameLengthExceededException")
    if email is not None and (len(email.encode()) > MAX_EMAIL or any(c in email for c in "<>\n")):
        raise error("InvalidEmailException")
    if message is not None and len(message.encode()) > MAX_MESSAGE:
        raise error("CommitMessageLengthExceededException")


def file_mode(name: str | None) -> int:
    if name not in FILE_MODES:
        raise error("InvalidFileModeException")
    return FILE_MODES[name]


class _Dir:
    """A tree being edited: its entries (name -> (mode, hex sha)) and its edited subtrees."""

    def __init__(self, get: GetObject, sha: bytes | None) -> None:
        self.entries: dict[bytes, tuple[int, bytes]] = {}
        if sha is not None:
            tree = get(sha)
            assert isinstance(tree, Tree)
            self.entries = {e.path: (e.mode, e.sha) for e in tree.iteritems()}
        self.subdirs: dict[bytes, _Dir] = {}
        self.get = get

    def subdir(self, name: bytes, create: bool) -> _Dir | None:
        found = self.subdirs.get(name)
        if found is not None:
            return found
        entry = self.entries.get(name)
        if entry is None:
            if not create:
                return None
            found = _Dir(self.get, None)
        elif stat.S_ISDIR(entry[0]):
            found = _Dir(self.get, entry[1])
        elif entry[0] == _GITLINK:
            raise error("FilePathConflictsWithSubmodulePathException")
        else:
            raise error("DirectoryNameConflictsWithFileNameException")
        self.subdirs[name] = found
        return found

    def write(self, out: list[ShaFile], keep_empty: bool) -> bytes | None:
        """Store the edited subtrees and this tree; its SHA, or None if it is left empty."""
        for name, sub in self.subdirs.items():
            sha = sub.write(out, keep_empty)
            if sha is None:
                self.entries.pop(name, None)
            else:
                self.entries[name] = (stat.S_IFDIR, sha)
        self.subdirs.clear()
        if not self.entries:
            if not keep_empty:
                return None
            keep = Blob.from_string(b"")
            out.append(keep)
            self.entries[KEEP_FILE.encode()] = (0o100644, keep.id)
        tree = Tree()
        for name, (mode, sha) in self.entries.items():
            tree.add(name, mode, ObjectID(sha))
        out.append(tree)
        return tree.id


def _walk(root: _Dir, parts: Sequence[str], create: bool) -> _Dir | None:
    here: _Dir | None = root
    for part in parts[:-1]:
        assert here is not None
        here = here.subdir(part.encode(), create)
        if here is None:
            return None
    return here


def _lookup(get: GetObject, tree_id: bytes | None, parts: Sequence[str]) -> tuple[int, bytes]:
    """(mode, sha) of the file at `parts` in a tree of the parent, or FileDoesNotExist."""
    if tree_id is None:
        raise error("FileDoesNotExistException")
    sha = tree_id
    mode = stat.S_IFDIR
    for part in parts:
        if not stat.S_ISDIR(mode):
            raise error("FileDoesNotExistException")
        tree = get(sha)
        assert isinstance(tree, Tree)
        try:
            mode, sha = tree[part.encode()]
        except KeyError:
            raise error("FileDoesNotExistException") from None
    if stat.S_ISDIR(mode) or mode == _GITLINK:
        raise error("FileDoesNotExistException")
    return mode, sha


def build_commit(
    get: GetObject,
    parent: Commit | None,
    *,
    puts: Sequence[PutFile] = (),
    deletes: Sequence[str] = (),
    set_modes: Sequence[SetMode] = (),
    keep_empty_folders: bool = False,
    author: Identity,
    message: str,
    refuse_same_content: bool = False,
) -> BuiltCommit:
    """The commit that applies the changes to `parent` (None: the first commit)."""
    if not (puts or deletes or set_modes):
        raise error("FileEntryRequiredException")
    if len(puts) + len(deletes) + len(set_modes) > MAX_FILE_ENTRIES:
        raise error("MaximumFileEntriesExceededException")
    base_tree = parent.tree if parent is not None else None
    root = _Dir(get, base_tree)
    out: list[ShaFile] = []
    result_added: list[FileChange] = []
    result_updated: list[FileChange] = []
    result_deleted: list[FileChange] = []
    seen: set[tuple[str, ...]] = set()
    total = 0

    def claim(parts: tuple[str, ...]) -> None:
        if parts in seen:
            raise error("SamePathRequestException")
        seen.add(parts)

    def remove(parts: tuple[str, ...]) -> None:
        here = _walk(root, parts, create=False)
        name = parts[-1].encode()
        entry = None if here is None else here.entries.get(name)
        if here is None or entry is None or stat.S_ISDIR(entry[0]) or entry[0] == _GITLINK:
            raise error("FileDoesNotExistException")
        del here.entries[name]
        result_deleted.append(FileChange("/".join(parts), entry[1].decode(), _mode_name(entry[0])))

    for put in puts:
        parts = normalize_path(put.path)
        claim(parts)
        if put.content is not None and put.source is not None:
            raise error("FileContentAndSourceFileSpecifiedException")
        if put.source is not None:
            source = normalize_path(put.source)
            if source[-1] in (KEEP_FILE, "..gitkeep"):
                raise error("RestrictedSourceFileException")
            src_mode, blob_id = _lookup(get, base_tree, source)
            mode = file_mode(put.mode) if put.mode is not None else src_mode
            if put.move:
                claim(source)
                remove(source)
        elif put.content is not None:
            if len(put.content) > MAX_FILE_SIZE:
                raise error("FileContentSizeLimitExceededException")
            total += len(put.content)
            if total > MAX_CHANGE_SIZE:
                raise error("FileContentSizeLimitExceededException")
            blob = Blob.from_string(put.content)
            out.append(blob)
            blob_id = blob.id
            mode = file_mode(put.mode) if put.mode is not None else -1
        else:
            raise error("SourceFileOrContentRequiredException")
        here = _walk(root, parts, create=True)
        assert here is not None
        name = parts[-1].encode()
        existing = here.entries.get(name)
        if name in here.subdirs or (existing is not None and stat.S_ISDIR(existing[0])):
            raise error("FileNameConflictsWithDirectoryNameException")
        if existing is not None and existing[0] == _GITLINK:
            raise error("FilePathConflictsWithSubmodulePathException")
        if mode == -1:
            mode = existing[0] if existing is not None else FILE_MODES["NORMAL"]
        if existing == (mode, blob_id) and refuse_same_content:
            raise error("SameFileContentException")
        here.entries[name] = (mode, blob_id)
        change = FileChange("/".join(parts), blob_id.decode(), _mode_name(mode))
        (result_added if existing is None else result_updated).append(change)

    for path in deletes:
        parts = normalize_path(path)
        claim(parts)
        remove(parts)

    for item in set_modes:
        parts = normalize_path(item.path)
        claim(parts)
        if item.mode is None:
            raise error("FileModeRequiredException")
        mode = file_mode(item.mode)
        here = _walk(root, parts, create=False)
        entry = None if here is None else here.entries.get(parts[-1].encode())
        if here is None or entry is None or stat.S_ISDIR(entry[0]) or entry[0] == _GITLINK:
            raise error("FileDoesNotExistException")
        here.entries[parts[-1].encode()] = (mode, entry[1])
        result_updated.append(FileChange("/".join(parts), entry[1].decode(), _mode_name(mode)))

    tree_id = root.write(out, keep_empty=False)
    if tree_id is None:  # every file is gone: the root is an empty tree
        empty = Tree()
        out.append(empty)
        tree_id = empty.id
    if keep_empty_folders:
        tree_id = keep_emptied(get, base_tree, out, tree_id)
    if base_tree is not None and tree_id == base_tree:
        raise error("SameFileContentException" if refuse_same_content else "NoChangeException")
    commit = Commit()
    commit.tree = tree_id
    commit.parents = [parent.id] if parent is not None else []
    name_email = f"{author.name} <{author.email}>".encode()
    commit.author = commit.committer = name_email
    commit.author_time = commit.commit_time = author.when
    commit.author_timezone = commit.commit_timezone = author.timezone
    commit.encoding = None
    commit.message = message.encode()
    out.append(commit)
    # Objects the parent already has (an unchanged subtree) need not be stored again.
    unique = list({obj.id: obj for obj in out}.values())
    return BuiltCommit(
        commit,
        unique,
        tree_id.decode(),
        result_added,
        result_updated,
        result_deleted,
    )


def keep_emptied(
    get: GetObject, base_tree: bytes | None, out: list[ShaFile], tree_id: bytes
) -> bytes:
    """The tree with a `.gitkeep` in every folder of the parent the changes left empty."""
    if base_tree is None:
        return tree_id
    new_objects: dict[bytes, ShaFile] = {obj.id: obj for obj in out}

    def tree_of(sha: bytes) -> Tree:
        obj = new_objects.get(sha) or get(sha)
        assert isinstance(obj, Tree)
        return obj

    def redo(old: bytes | None, new: bytes | None) -> bytes | None:
        if old is None or old == new:
            return new  # nothing under an unchanged folder was emptied
        old_tree = tree_of(old)
        if new is None:
            # the folder is gone: keep it, with only the marker and its kept subfolders
            kept = Tree()
            for entry in old_tree.iteritems():
                if stat.S_ISDIR(entry.mode):
                    sub = redo(entry.sha, None)
                    if sub is not None:
                        kept.add(entry.path, stat.S_IFDIR, ObjectID(sub))
            if not kept.items():
                marker = Blob.from_string(b"")
                out.append(marker)
                kept.add(KEEP_FILE.encode(), 0o100644, marker.id)
            out.append(kept)
            return kept.id
        new_tree = tree_of(new)
        changed = False
        rebuilt = Tree()
        for entry in new_tree.iteritems():
            rebuilt.add(entry.path, entry.mode, entry.sha)
        for entry in old_tree.iteritems():
            if not stat.S_ISDIR(entry.mode):
                continue
            now = new_tree[entry.path] if entry.path in new_tree else None
            if now is not None and not stat.S_ISDIR(now[0]):
                continue
            sub = redo(entry.sha, None if now is None else now[1])
            if sub is not None and (now is None or sub != now[1]):
                rebuilt.add(entry.path, stat.S_IFDIR, ObjectID(sub))
                changed = True
        if not changed:
            return new
        out.append(rebuilt)
        return rebuilt.id

    result = redo(base_tree, tree_id)
    assert result is not None
    return result


def _mode_name(mode: int) -> str:
    return MODE_NAMES.get(mode, "NORMAL")
