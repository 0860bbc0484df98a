"""git-upload-archive: `git archive --remote=...` over a bidirectional transport (SSH).

The conversation, as git's builtin/upload-archive.c and archive.c have it:

    client: "argument <arg>\\n" pkt-lines (--format=..., --prefix=..., a tree-ish, paths), flush
    server: "ACK\\n" and a flush, then the archive on side-band channel 1, errors on channel 3,
            and a flush at the end -- or "NACK <reason>\\n" when the request is refused

The tree-ish must name what the repository advertises (a branch, a tag, HEAD or a full ref, with
an optional `:<path>`), as git's upload-archive allows by default
(`uploadArchive.allowUnreachable` false). Formats: tar, tgz / tar.gz and zip, written as a stream
(never the whole archive in memory), entries dated with the commit's time as git does.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, ObjectID, Tag, Tree
from dulwich.protocol import Protocol

MAX_ARGUMENTS = 64
MAX_ARGUMENT = 4096
_CHUNK = 65515  # side-band-64k payload

Read = Callable[[int], bytes]
Write = Callable[[bytes], None]


class ArchiveRefused(Exception):
    """The request names something the server will not archive; sent as `NACK <reason>`."""


@dataclass
class ArchiveRequest:
    format: str = "tar"
    prefix: str = ""
    treeish: str | None = None
    paths: list[str] = field(default_factory=list)
    level: int | None = None


def parse_arguments(args: list[str]) -> ArchiveRequest:
    req = ArchiveRequest()
    for arg in args:
        if arg.startswith("--format="):
            req.format = arg.split("=", 1)[1]
        elif arg.startswith("--prefix="):
            req.prefix = arg.split("=", 1)[1]
        elif len(arg) == 2 and arg[0] == "-" and arg[1].isdigit():
            req.level = int(arg[1])
        elif arg in ("--worktree-attributes", "-v", "--verbose"):
            continue
        elif arg.startswith("-"):
            raise ArchiveRefused(f"unsupported option {arg[:64]!r}")
        elif req.treeish is None:
            req.treeish = arg
        else:
            req.paths.append(arg.strip("/"))
    if req.treeish is None:
        raise ArchiveRefused("no tree-ish given")
    if req.format in ("tar.gz", "tgz"):
        req.format = "tgz"
    if req.format not in ("tar", "tgz", "zip"):
        raise ArchiveRefused(f"unknown archive format {req.format[:32]!r}")
    return req


def resolve(
    store: BaseObjectStore, refs: Mapping[bytes, bytes], head: bytes | None, treeish: str
) -> tuple[Tree, int]:
    """The tree to archive and the time its entries carry."""
    name, _, subpath = treeish.partition(":")
    candidates = [name, f"refs/heads/{name}", f"refs/tags/{name}"]
    if name == "HEAD" and head is not None:
        candidates = [f"refs/heads/{head.decode()}"]
    sha = next((refs[c.encode()] for c in candidates if c.encode() in refs), None)
    if sha is None:
        raise ArchiveRefused(f"no such ref: {name[:200]}")
    obj = store[ObjectID(sha)]
    mtime = 0
    while isinstance(obj, Tag):
        obj = store[obj.object[1]]
    if isinstance(obj, Commit):
        mtime = obj.commit_time
        obj = store[obj.tree]
    if not isinstance(obj, Tree):
        raise ArchiveRefused(f"{name[:200]} is not a tree-ish")
    for part in (p for p in subpath.split("/") if p):
        try:
            _mode, child = obj[part.encode()]
        except KeyError:
            raise ArchiveRefused(f"path not found: {subpath[:200]}") from None
        sub = store[child]
        if not isinstance(sub, Tree):
            raise ArchiveRefused(f"{subpath[:200]} is not a directory")
        obj = sub
    return obj, mtime


def _entries(
    store: BaseObjectStore, tree: Tree, base: str = ""
) -> Iterator[tuple[str, int, bytes]]:
    """(path, mode, sha) of every entry, directories before their contents, in tree order."""
    for item in tree.iteritems():
        path = base + item.path.decode("utf-8", "surrogateescape")
        yield path, item.mode, item.sha
        if stat.S_ISDIR(item.mode):
            sub = store[item.sha]
            assert isinstance(sub, Tree)
            yield from _entries(store, sub, path + "/")


def _selected(path: str, paths: list[str]) -> bool:
    return not paths or any(
        path == p or path.startswith(p + "/") or p.startswith(path + "/") for p in paths
    )


class _SidebandStream(io.RawIOBase):
    """A write-only stream whose bytes go out on side-band channel 1 in full frames."""

    def __init__(self, proto: Protocol) -> None:
        self._proto = proto
        self._buf = bytearray()
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buf += data
        self._pos += len(data)
        while len(self._buf) >= _CHUNK:
            self._proto.write_sideband(1, bytes(self._buf[:_CHUNK]))
            del self._buf[:_CHUNK]
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        if self._buf:
            self._proto.write_sideband(1, bytes(self._buf))
            self._buf.clear()


def write_archive(
    out: io.RawIOBase, store: BaseObjectStore, tree: Tree, mtime: int, req: ArchiveRequest
) -> None:
    entries = (
        (path, mode, sha) for path, mode, sha in _entries(store, tree) if _selected(path, req.paths)
    )
    if req.format == "zip":
        level = 6 if req.level is None else req.level
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
            for path, mode, sha in entries:
                name = req.prefix + path
                zinfo = zipfile.ZipInfo(name + ("/" if stat.S_ISDIR(mode) else ""))
                zinfo.date_time = _zip_time(mtime)
                zinfo.external_attr = (_unix_mode(mode) & 0xFFFF) << 16
                if stat.S_ISDIR(mode) or mode == 0o160000:
                    zf.writestr(zinfo, b"")
                else:
                    zinfo.compress_type = zipfile.ZIP_DEFLATED
                    zf.writestr(zinfo, _blob(store, sha))
        return
    with contextlib.ExitStack() as stack:
        target: io.RawIOBase | gzip.GzipFile = out
        if req.format == "tgz":
            level = 6 if req.level is None else req.level
            target = stack.enter_context(
                gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=mtime)
            )
        tf = stack.enter_context(tarfile.open(fileobj=target, mode="w|", format=tarfile.PAX_FORMAT))
        for path, mode, sha in entries:
            info = tarfile.TarInfo(req.prefix + path)
            info.mtime = mtime
            info.uname = info.gname = "root"
            if stat.S_ISDIR(mode) or mode == 0o160000:  # a submodule is an empty directory
                info.type = tarfile.DIRTYPE
                info.mode = 0o775
                tf.addfile(info)
            elif stat.S_ISLNK(mode):
                info.type = tarfile.SYMTYPE
                info.linkname = _blob(store, sha).decode("utf-8", "surrogateescape")
                info.mode = 0o777
                tf.addfile(info)
            else:
                data = _blob(store, sha)
                info.size = len(data)
                info.mode = 0o775 if mode & 0o111 else 0o664
                tf.addfile(info, io.BytesIO(data))


def _blob(store: BaseObjectStore, sha: bytes) -> bytes:
    return bytes(store[ObjectID(sha)].as_raw_string())


def _unix_mode(mode: int) -> int:
    if stat.S_ISDIR(mode) or mode == 0o160000:
        return stat.S_IFDIR | 0o775
    if stat.S_ISLNK(mode):
        return stat.S_IFLNK | 0o777
    return stat.S_IFREG | (0o775 if mode & 0o111 else 0o664)


def _zip_time(mtime: int) -> tuple[int, int, int, int, int, int]:
    import time

    t = time.gmtime(max(mtime, 315532800))  # zip cannot date before 1980
    return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def serve_upload_archive(
    store: BaseObjectStore,
    refs: Mapping[bytes, bytes],
    head: bytes | None,
    read: Read,
    write: Write,
) -> None:
    """Serve one `git archive --remote` request. Blocking."""
    proto = Protocol(read, write)
    args: list[str] = []
    while True:
        line = proto.read_pkt_line()
        if line is None:
            break
        if len(args) >= MAX_ARGUMENTS or len(line) > MAX_ARGUMENT:
            proto.write_pkt_line(b"NACK too many or too long arguments\n")
            return
        text = line.decode("utf-8", "replace").rstrip("\n")
        if not text.startswith("argument "):
            proto.write_pkt_line(b"NACK expected 'argument' lines\n")
            return
        args.append(text[len("argument ") :])
    try:
        req = parse_arguments(args)
        tree, mtime = resolve(store, refs, head, req.treeish or "")
    except ArchiveRefused as exc:
        proto.write_pkt_line(f"NACK {exc}\n".encode())
        return
    proto.write_pkt_line(b"ACK\n")
    proto.write_pkt_line(None)
    out = _SidebandStream(proto)
    try:
        write_archive(out, store, tree, mtime, req)
        out.flush()
    except (KeyError, zlib.error, OSError) as exc:
        proto.write_sideband(3, f"fatal: cannot build the archive: {exc}\n".encode())
    proto.write_pkt_line(None)
