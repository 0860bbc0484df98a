"""Reading a repository's code as CodeCommit's API shows it: commit specifiers, commits, trees,
files, folders and blobs, read from the stored packs.

`CodeReader` is one request's view of one repository (a `PackReader` over its packs, with the
emulator's shared `PackCache`). It raises CodeCommit's errors for what the request names wrongly;
`emulator.repos.code_diff` builds differences and file histories on it.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import TypeVar

from dulwich.objects import Commit, ShaFile
from dulwich.refs import Ref, check_ref_format

from emulator.codecommit_errors import error
from emulator.errors import ClientError
from emulator.repos.commit_graph import DECODED_COMMIT_BYTES
from emulator.repos.commit_graph import Commit as GraphCommit
from emulator.repos.model import Repository
from emulator.repos.pack_cache import DICT_ITEM, INT, SHA, Weighed
from emulator.repos.pack_reader import (
    OBJ_BLOB,
    OBJ_COMMIT,
    OBJ_TAG,
    OBJ_TREE,
    PackCache,
    PackFormatError,
    PackReader,
    find_tree_entry,
    iter_tree,
    parse_entry_header,
    tag_target,
)
from emulator.repos.service import RepositoryService

HEADS = "refs/heads/"
TAGS = "refs/tags/"
# CodeCommit's quota: "File size: maximum 6 MB for any individual file when using the CodeCommit
# console, APIs, or the AWS CLI" (the model's FileContent shape: at most 6,291,456 bytes).
MAX_FILE_SIZE = 6 * 1024 * 1024
_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")
_HEX_ID = re.compile(rb"[0-9a-fA-F]{40}")
_TAG_CHAIN = 100
# What one remembered item of each `RepoMemo` table is estimated to hold (see pack_cache): a
# step is a (tree, name) key and a (mode, id) value; a commit as the API shows it is about ten
# small strings and objects plus its message; a generation is an id and an int; a peeled id two
# hex strings and a tuple.
_STEP_BYTES = 300
_COMMIT_BYTES = 1500  # plus twice the message's length (str and the raw bytes it came from)
_GENERATION_BYTES = SHA + INT + DICT_ITEM
_PEELED_BYTES = 300
_MEMO_SHARE = 8  # a repository's memo may take up to this fraction of the cache
_K = TypeVar("_K")
_V = TypeVar("_V")

# Tree entry modes (as git writes them, octal text) and what CodeCommit calls them.
MODE_TREE = 0o040000
MODE_FILE = 0o100644
MODE_EXECUTABLE = 0o100755
MODE_SYMLINK = 0o120000
MODE_GITLINK = 0o160000


def file_mode_name(mode: int) -> str:
    """`FileModeTypeEnum`: EXECUTABLE, NORMAL or SYMLINK (git's old 100664 is a normal file)."""
    if mode == MODE_SYMLINK:
        return "SYMLINK"
    return "EXECUTABLE" if mode & 0o111 else "NORMAL"


def is_tree(mode: int) -> bool:
    return mode & 0o170000 == MODE_TREE


def is_gitlink(mode: int) -> bool:
    return mode & 0o170000 == MODE_GITLINK


def is_symlink(mode: int) -> bool:
    return mode & 0o170000 == MODE_SYMLINK


def is_blob(mode: int) -> bool:
    return mode & 0o170000 in (0o100000, MODE_SYMLINK)


@dataclass(frozen=True)
class TreeEntry:
    name: bytes
    mode: int
    sha: str  # hex


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    date: str  # CodeCommit's `UserInfo.date`: git's own form, `1484167798 -0800`


@dataclass(frozen=True)
class CommitInfo:
    commit_id: str
    tree_id: str
    parents: tuple[str, ...]
    message: str
    author: Person
    committer: Person


@dataclass(frozen=True)
class FileContent:
    commit_id: str
    blob_id: str
    path: str
    mode: int
    content: bytes


@dataclass(frozen=True)
class FolderEntry:
    absolute_path: str
    relative_path: str
    mode: int
    sha: str  # a tree, blob or (for a submodule) commit id


@dataclass(frozen=True)
class Folder:
    commit_id: str
    path: str
    tree_id: str
    entries: tuple[FolderEntry, ...]


def text(raw: bytes) -> str:
    """Names, paths and messages as JSON can carry them: UTF-8, anything else replaced."""
    return raw.decode("utf-8", "replace")


def parse_path(path: str | None, *, folder: bool = False) -> tuple[bytes, ...]:
    """The components of a path as the API takes it: `/examples/file.md` and `examples/file.md`
    name the same file; for a folder, `` and `/` are the root. Empty, `.` and `..` components
    are refused (git stores none), as is a NUL."""
    if path is None or (path == "" and not folder):
        raise error("PathRequiredException")
    trimmed = path.strip("/") if folder else path.lstrip("/")
    if trimmed == "":
        if folder:
            return ()
        raise error("InvalidPathException")
    parts = trimmed.split("/")
    if any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise error("InvalidPathException")
    return tuple(p.encode("utf-8", "surrogatepass") for p in parts)


def join_path(parts: tuple[bytes, ...]) -> str:
    return text(b"/".join(parts))


def _person(raw: bytes, when: int, offset: int) -> Person:
    name, _, rest = raw.partition(b" <")
    email = rest[:-1] if rest.endswith(b">") else rest
    return Person(text(name), text(email), format_date(when, offset))


def format_date(when: int, offset: int) -> str:
    """CodeCommit's `UserInfo.date`: git's own form, epoch seconds and the offset in seconds
    east of UTC as `±hhmm` (`1484167798 -0800`)."""
    sign = "-" if offset < 0 else "+"
    minutes = abs(offset) // 60
    return f"{when} {sign}{minutes // 60:02d}{minutes % 60:02d}"


class _Table(dict[_K, _V]):
    """A dict that counts the estimated bytes put in it and starts afresh past its budget."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.used = 0

    def put(self, key: _K, value: _V, size: int) -> None:
        if self.used + size > self.budget:
            self.clear()
            self.used = 0
        self[key] = value
        self.used += size


class RepoMemo(Weighed):
    """What stays true of a repository's objects, since they are named by their content: the
    entry a tree holds under a name, a commit as the API shows it, a commit's generation
    (`commit_graph.generations`). Kept in the emulator's `PackCache` per repository, so a
    history walked again after a push reads only the new commits and trees. Each table has a
    quarter of `budget` bytes (estimated); one that fills up is emptied."""

    def __init__(self, budget: int) -> None:
        self.table_budget = max(1, budget // 4)
        self.steps: _Table[tuple[bytes, bytes], tuple[int, bytes] | None] = _Table(
            self.table_budget
        )
        self.commits: _Table[str, CommitInfo] = _Table(self.table_budget)
        self.generations: dict[bytes, int] = {}
        self.decoded: dict[bytes, GraphCommit] = {}
        # object id -> what its tags lead to
        self.peeled: _Table[str, tuple[int, str]] = _Table(self.table_budget)

    @staticmethod
    def of(repo: Repository, cache: PackCache) -> RepoMemo:
        def build() -> tuple[object, int]:
            memo = RepoMemo(cache.max_bytes // _MEMO_SHARE)
            return memo, memo.cache_bytes()

        memo = cache.get_or_build(("memo", repo.id), build, owner=repo.id)
        assert isinstance(memo, RepoMemo)
        return memo

    def known_generations(self) -> dict[bytes, int]:
        """The generations table, to be filled by `commit_graph.generations`; a new one once
        it is over its budget (a new dict, not emptied: a cached walk may hold the old one)."""
        if len(self.generations) * _GENERATION_BYTES > self.table_budget:
            self.generations = {}
        return self.generations

    def decoded_commits(self) -> dict[bytes, GraphCommit]:
        """Commits as a walk reads them (`GraphView`), kept between requests: a history asked
        for again from a new tip decodes only the new commits. A new table once it is over its
        budget (a walk in progress keeps filling the old one, then drops it)."""
        if len(self.decoded) * DECODED_COMMIT_BYTES > self.table_budget:
            self.decoded = {}
        return self.decoded

    def cache_bytes(self) -> int:
        generations = len(self.generations) * _GENERATION_BYTES
        decoded = len(self.decoded) * DECODED_COMMIT_BYTES
        return self.steps.used + self.commits.used + self.peeled.used + generations + decoded


class CodeReader:
    """One request's read access to one repository's objects and refs. Not thread-safe; use it
    as a context manager."""

    def __init__(self, repos: RepositoryService, repo: Repository, cache: PackCache) -> None:
        self.repos = repos
        self.repo = repo
        self._store = store = repos.object_store(repo)
        self._names = store.pack_names()
        self.reader = PackReader(store.files, self._names, cache)
        self.memo = RepoMemo.of(repo, cache)

    def __enter__(self) -> CodeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()

    def _refreshed(self) -> bool:
        """Read the packs stored now, if they changed since this reader listed them: a push
        that completed meanwhile may have moved a ref this request then read to a commit in a
        pack published after the listing. True if there are new packs to look in."""
        names = self._store.pack_names()
        if names == self._names:
            return False
        old = self.reader
        self.reader = PackReader(self._store.files, names, old.cache)
        self._names = names
        old.close()
        return True

    # -- objects ----------------------------------------------------------------------------

    def get(self, sha: str) -> tuple[int, bytes] | None:
        binary = bytes.fromhex(sha)
        found = self.reader.get(binary)
        if found is None and self._refreshed():
            found = self.reader.get(binary)
        return found

    def header(self, sha: str) -> tuple[int, int] | None:
        """(type, size) of a stored object, from entry headers alone: a large blob is measured
        without inflating it."""
        binary = bytes.fromhex(sha)
        loc = self.reader.locate(binary)
        if loc is None and self._refreshed():
            loc = self.reader.locate(binary)
        if loc is None:
            return None
        p, off = loc
        size: int | None = None
        for _ in range(10_000):
            end = self.reader.indexes[p].entry_end(off)
            raw = self.reader.read_at(p, off, min(4096, end - off))
            hdr = parse_entry_header(raw, off)
            if size is None:
                size = hdr.size if hdr.type <= OBJ_TAG else _delta_target_size(raw, hdr.data_start)
            if hdr.type <= OBJ_TAG:
                return hdr.type, size
            if hdr.base_offset is not None:
                off = hdr.base_offset
            else:
                assert hdr.base_sha is not None
                base = self.reader.locate(hdr.base_sha)
                if base is None:
                    raise PackFormatError(f"missing delta base {hdr.base_sha.hex()}")
                p, off = base
        raise PackFormatError("delta chain too long")

    def peel(self, sha: str) -> tuple[int, str] | None:
        """The object an id names once annotated tags are followed: (type, id)."""
        known = self.memo.peeled.get(sha)
        # Still stored? (an index lookup: maintenance may have collected an unreachable object)
        if known is not None and bytes.fromhex(sha) in self.reader:
            return known
        start = sha
        for _ in range(_TAG_CHAIN):
            found = self.header(sha)
            if found is None:
                return None  # not remembered: a later push may bring it
            if found[0] != OBJ_TAG:
                self.memo.peeled.put(start, (found[0], sha), _PEELED_BYTES)
                return found[0], sha
            obj = self.get(sha)
            assert obj is not None
            sha = tag_target(obj[1]).hex()
        raise PackFormatError("tag chain too long")

    def raw_tree(self, sha: bytes) -> bytes:
        """A tree's stored form (binary id), for scanning without building entries."""
        obj = self.reader.get(sha)
        if obj is None or obj[0] != OBJ_TREE:
            raise PackFormatError(f"tree {sha.hex()} is missing")
        return obj[1]

    def tree(self, sha: str) -> list[TreeEntry]:
        return [
            TreeEntry(name, int(mode, 8), bin_sha.hex())
            for mode, name, bin_sha in iter_tree(self.raw_tree(bytes.fromhex(sha)))
        ]

    def commit(self, sha: str) -> CommitInfo:
        known = self.memo.commits.get(sha)
        if known is not None:
            return known
        obj = self.get(sha)
        if obj is None or obj[0] != OBJ_COMMIT:
            raise PackFormatError(f"commit {sha} is missing")
        info = _plain_commit(sha, obj[1]) or _dulwich_commit(sha, obj[1])
        self.memo.commits.put(sha, info, _COMMIT_BYTES + 2 * len(info.message))
        return info

    def commit_tree(self, sha: str) -> str:
        return self.commit(sha).tree_id

    def tree_of(self, sha: str) -> bytes:
        """A commit's tree (binary id), read off its first line."""
        obj = self.get(sha)
        if obj is None or obj[0] != OBJ_COMMIT:
            raise PackFormatError(f"commit {sha} is missing")
        head = obj[1][:46]
        if head.startswith(b"tree ") and head.endswith(b"\n") and _HEX_ID.fullmatch(head[5:45]):
            return bytes.fromhex(head[5:45].decode())
        return bytes.fromhex(self.commit(sha).tree_id)

    # -- commit specifiers -----------------------------------------------------------------

    def resolve(self, spec: str | None, *, required: bool = False) -> str:
        """The commit a commit specifier names, as CodeCommit takes one: a full commit ID, a
        branch name, a tag, a full reference (`refs/heads/main`) or `HEAD` (the default
        branch); none given means the default branch's tip. A short name is looked up in git's
        order (`refs/<name>`, `refs/tags/<name>`, `refs/heads/<name>`, git-rev-parse(1))."""
        if spec is None or spec == "":
            if required:
                raise error("CommitRequiredException")
            return self._default_tip()
        if _FULL_SHA.fullmatch(spec):
            return self._commit_of(spec.lower())
        if spec == "HEAD":
            return self._default_tip()
        encoded = spec.encode("utf-8", "surrogatepass")
        if b"\x7f" in encoded or not check_ref_format(Ref(b"refs/x/" + encoded)):
            raise error("InvalidCommitException")
        candidates = [spec] if spec.startswith("refs/") else []
        candidates += [f"refs/{spec}", f"{TAGS}{spec}", f"{HEADS}{spec}"]
        names = [name.encode("utf-8", "surrogatepass") for name in candidates]
        refs = self.repos.refs_named(self.repo, names)
        for name in names:
            sha = refs.get(name)
            if sha is not None:
                return self._commit_of(sha.decode())
        raise error("CommitDoesNotExistException")

    def _default_tip(self) -> str:
        current = self.repos.get_by_id(self.repo.id) or self.repo
        branch = current.default_branch
        sha = None if branch is None else self.repos.ref(self.repo, (HEADS + branch).encode())
        if sha is None:
            # The model's text for this error: "...or no commit was specified, and the
            # specified repository has no default branch."
            raise error("CommitDoesNotExistException")
        return sha.decode()

    def _commit_of(self, sha: str) -> str:
        found = self.peel(sha)
        if found is None:
            raise error("CommitDoesNotExistException")
        if found[0] != OBJ_COMMIT:
            raise error("InvalidCommitException")
        return found[1]

    # -- paths --------------------------------------------------------------------------------

    def lookup(self, tree_id: str, parts: tuple[bytes, ...]) -> tuple[int, str] | None:
        """(mode, id) of the entry at `parts` under tree `tree_id`; the tree itself for ()."""
        found = self.lookup_bin(bytes.fromhex(tree_id), parts)
        return None if found is None else (found[0], found[1].hex())

    def lookup_bin(self, tree: bytes, parts: tuple[bytes, ...]) -> tuple[int, bytes] | None:
        """`lookup` with binary ids. Each (tree, name) step is remembered (`RepoMemo`): a
        history walk asks for the same subfolders of many commits."""
        mode, sha = MODE_TREE, tree
        steps = self.memo.steps
        for part in parts:
            if not is_tree(mode):
                return None
            key = (sha, part)
            if key in steps:
                found = steps[key]
            else:
                found = find_tree_entry(self.raw_tree(sha), part)
                steps.put(key, found, _STEP_BYTES)
            if found is None:
                return None
            mode, sha = found
        return mode, sha

    def file(self, spec: str | None, path: str | None) -> FileContent:
        parts = parse_path(path)
        commit_id = self.resolve(spec)
        found = self.lookup(self.commit_tree(commit_id), parts)
        if found is None or not is_blob(found[0]):
            raise error("FileDoesNotExistException")
        mode, blob_id = found
        return FileContent(commit_id, blob_id, join_path(parts), mode, self.blob(blob_id))

    def blob(self, blob_id: str) -> bytes:
        """A blob's content; one larger than CodeCommit's API limit is FileTooLargeException."""
        found = self.header(blob_id)
        if found is None or found[0] != OBJ_BLOB:
            raise error("BlobIdDoesNotExistException")
        if found[1] > MAX_FILE_SIZE:
            raise error("FileTooLargeException")
        obj = self.get(blob_id)
        assert obj is not None
        return obj[1]

    def folder(self, spec: str | None, path: str | None) -> Folder:
        parts = parse_path(path, folder=True)
        commit_id = self.resolve(spec)
        found = self.lookup(self.commit_tree(commit_id), parts)
        if found is None or not is_tree(found[0]):
            raise error("FolderDoesNotExistException")
        entries = []
        for entry in self.tree(found[1]):
            entries.append(
                FolderEntry(
                    absolute_path=join_path((*parts, entry.name)),
                    relative_path=text(entry.name),
                    mode=entry.mode,
                    sha=entry.sha,
                )
            )
        return Folder(commit_id, join_path(parts), found[1], tuple(entries))


def _dulwich_commit(sha: str, data: bytes) -> CommitInfo:
    c = ShaFile.from_raw_string(OBJ_COMMIT, data)
    assert isinstance(c, Commit)
    return CommitInfo(
        commit_id=sha,
        tree_id=c.tree.decode(),
        parents=tuple(p.decode() for p in c.parents),
        message=text(c.message),
        author=_person(c.author, c.author_time, c.author_timezone),
        committer=_person(c.committer, c.commit_time, c.commit_timezone),
    )


def _plain_commit(sha: str, data: bytes) -> CommitInfo | None:
    """The commit as `_dulwich_commit` reads it, for the usual shape (tree, parents, one-line
    author and committer, a blank line): several times faster, which a page of history
    notices. None for anything else, which dulwich then reads (or refuses) as it always did."""
    end = data.find(b"\n\n")
    if end < 0 or not data.startswith(b"tree "):
        return None
    lines = data[:end].split(b"\n")
    tree = lines[0][5:]
    parents = []
    i = 1
    while i < len(lines) and lines[i].startswith(b"parent "):
        parents.append(lines[i][7:])
        i += 1
    author = committer = None
    for j in range(i, len(lines)):
        line = lines[j]
        if b" " not in line:
            return None  # dulwich refuses a header without a value
        if j + 1 < len(lines) and lines[j + 1].startswith(b" "):
            if line.startswith((b"author ", b"committer ")):
                return None  # a folded header: dulwich joins its lines
            continue
        if author is None and line.startswith(b"author "):
            author = _plain_person(line[7:])
            if author is None:
                return None
        elif committer is None and line.startswith(b"committer "):
            committer = _plain_person(line[10:])
            if committer is None:
                return None
    if author is None or committer is None:
        return None
    for h in (tree, *parents):
        if not _HEX_ID.fullmatch(h):
            return None
    return CommitInfo(
        commit_id=sha,
        tree_id=tree.decode(),
        parents=tuple(p.decode() for p in parents),
        message=text(data[end + 2 :]),
        author=author,
        committer=committer,
    )


def _plain_person(value: bytes) -> Person | None:
    """dulwich's parse_time_entry and parse_timezone, for a well-formed identity line."""
    sep = value.rfind(b"> ")
    if sep < 0:
        return None
    when, _, zone = value[sep + 2 :].rpartition(b" ")
    if not when.isdigit() or len(zone) < 2 or zone[:1] not in b"+-" or not zone[1:].isdigit():
        return None
    offset = int(zone[1:])
    seconds = (offset // 100) * 3600 + (offset % 100) * 60
    if zone[:1] == b"-":
        seconds = -seconds
    return _person(value[: sep + 1], int(when), seconds)


def _delta_target_size(raw: bytes, data_start: int) -> int:
    """The result size a delta's header declares (after the base size), from the first
    inflated bytes of the delta."""
    head = zlib.decompressobj().decompress(raw[data_start:], 32)
    pos = 0
    for _ in range(2):
        size = shift = 0
        while True:
            if pos >= len(head):
                raise PackFormatError("truncated delta header")
            c = head[pos]
            pos += 1
            size |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
    return size


def check_object_id(sha: str | None, required: str, invalid: str) -> str:
    """A full object id, lower-cased, or the operation's errors for a missing or malformed one."""
    if sha is None or sha == "":
        raise error(required)
    if not _FULL_SHA.fullmatch(sha):
        raise error(invalid)
    return sha.lower()


def read_commit(reader: CodeReader, sha: str) -> CommitInfo | ClientError:
    """GetCommit and BatchGetCommits: the commit with this full id, or the error for it."""
    found = reader.header(sha)
    if found is None:
        return error("CommitIdDoesNotExistException")
    if found[0] != OBJ_COMMIT:
        return error("InvalidCommitIdException")
    return reader.commit(sha)
