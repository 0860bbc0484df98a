"""The v0 ref advertisement of git-upload-pack (gitprotocol-pack: "Reference Discovery")."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping

from emulator.repos.object_store import RepoObjectStore
from emulator.repos.pack_cache import SHA
from emulator.repos.pack_reader import OBJ_TAG, PackCache, PackFormatError, PackReader
from emulator.repos.pack_send import FLUSH, pkt

ZERO_ID = b"0" * 40


@functools.cache
def _agent() -> bytes:
    # Looked up on the first advertisement, not at import: importlib.metadata and the lookup
    # would add to every server's start-up.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"agent=ccemu/{version('ccemu')}".encode()
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return b"agent=ccemu"


CAPABILITIES = (
    b"multi_ack",
    b"thin-pack",
    b"side-band",
    b"side-band-64k",
    b"ofs-delta",
    b"shallow",
    b"deepen-since",
    b"deepen-not",
    b"deepen-relative",
    b"no-progress",
    b"include-tag",
    b"multi_ack_detailed",
    b"no-done",
    b"allow-tip-sha1-in-want",
    b"allow-reachable-sha1-in-want",
    b"object-format=sha1",
)  # and agent=, added by advertise()


# -- advertisement -------------------------------------------------------------------------


def advertise(
    refs: Mapping[bytes, bytes],
    head: bytes | None,
    peel: Callable[[bytes], bytes | None] | None = None,
) -> Iterator[bytes]:
    """The v0 ref advertisement: HEAD first (with `symref=`), then refs in name order, each
    annotated tag followed by its peeled `^{}` line, then a flush-pkt. `head` is HEAD's target
    (`refs/heads/main`, or just `main`); `peel` maps a hex id to the hex id an annotated tag
    finally points at (None for anything else)."""
    caps = [*CAPABILITIES, _agent()]
    head_ref = None
    if head:
        head_ref = head if head.startswith(b"refs/") else b"refs/heads/" + head
        if head_ref not in refs:
            head_ref = None
    if head_ref is not None:
        caps.insert(0, b"symref=HEAD:" + head_ref)
    capline = b" ".join(caps)
    lines: list[tuple[bytes, bytes]] = []
    if head_ref is not None:
        lines.append((refs[head_ref], b"HEAD"))
    lines.extend((refs[name], name) for name in sorted(refs))
    if not lines:
        yield pkt(ZERO_ID + b" capabilities^{}\0" + capline + b"\n")
        yield FLUSH
        return
    first = True
    for sha, name in lines:
        if first:
            yield pkt(sha + b" " + name + b"\0" + capline + b"\n")
            first = False
        else:
            yield pkt(sha + b" " + name + b"\n")
        if name != b"HEAD" and peel is not None:
            peeled = peel(sha)
            if peeled is not None:
                yield pkt(peeled + b" " + name + b"^{}\n")
    yield FLUSH


def open_reader(store: RepoObjectStore, cache: PackCache) -> PackReader:
    return PackReader(store.files, store.pack_names(), cache)


def cached_peel(reader: PackReader) -> Callable[[bytes], bytes | None]:
    """A `peel` for `advertise`: object types come from entry headers alone, and results are
    kept in the cache (objects never change under their id)."""

    def peel(hexsha: bytes) -> bytes | None:
        try:
            sha = bytes.fromhex(hexsha.decode("ascii"))
        except ValueError:
            return None

        def build() -> tuple[object, int]:
            if _stored_type(reader, sha) != OBJ_TAG:
                return b"", 1
            target = reader.peel(sha)
            return (target or b""), SHA

        out = reader.cached(("peel", sha), build)
        assert isinstance(out, bytes)
        return out.hex().encode() if out else None

    return peel


def _stored_type(reader: PackReader, sha: bytes) -> int:
    try:
        return reader.type_of(sha)
    except PackFormatError:  # a chain too long to follow: not a tag as far as peeling goes
        return 0
