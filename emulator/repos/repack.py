"""Writing packs for the background maintenance (`maintenance`): every push adds a pack, and
every lookup walks the packs, so after many pushes the small packs are merged into one; and
when the packs hold objects no ref reaches, they are rewritten to hold exactly the reachable
ones.

The merge copies stored entries as they are, each object once; an OFS_DELTA keeps its
compressed delta and gets its base offset re-encoded for the new position of its base (a base
always precedes its delta: either earlier in the same pack, or already written from an earlier
pack). Nothing is inflated or deflated, so a merge costs about one read and one write of the
merged packs; only a kept delta whose base is dropped is resolved and stored whole.

Old packs are retired, not deleted: a `.retired` marker hides them from new readers while
requests that listed them before can still read them. They are deleted once retired for longer
than a grace period, or at start-up.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import BinaryIO, cast

from dulwich.pack import write_pack_index

from emulator.repos.files import PACK_DIR, RepoFiles
from emulator.repos.object_store import RETIRED
from emulator.repos.pack_reader import (
    OFS_DELTA,
    REF_DELTA,
    PackCache,
    PackReader,
    encode_entry_header,
    encode_ofs,
    parse_entry_header,
)
from emulator.repos.reachability import WalkInterrupted

CONSOLIDATE_AT = 16  # packs in a repository before a merge
RETIRED_GRACE = 15 * 60.0  # seconds a retired pack stays readable


def packs_to_merge(sizes: Sequence[tuple[str, int]]) -> list[str]:
    """Given (name, size) of every pack, the ones to merge: all of them, except the largest
    when it outweighs the others together (merging it each time would make every merge cost
    the whole repository)."""
    if len(sizes) < CONSOLIDATE_AT:
        return []
    ordered = sorted(sizes, key=lambda s: (-s[1], s[0]))
    (big, big_size), rest = ordered[0], ordered[1:]
    if big_size > sum(size for _, size in rest):
        return [name for name, _ in rest]
    return [big, *(name for name, _ in rest)]


def merge_packs(
    files: RepoFiles,
    names: list[str],
    cache: PackCache,
    scratch: Path,
    keep: Collection[bytes] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> str:
    """Write one pack (and index) holding every object of `names` (only those in `keep`, when
    given), publish it, and return its name. The caller retires the merged packs.

    A kept delta whose base is dropped is resolved and stored whole (git's repack does the
    same when `--depth` or reachability cuts a chain)."""
    # Scratch files come from the store: an encrypted store keeps them encrypted too.
    pack_file = files.create_scratch(prefix="merge-", suffix=".pack")
    pack_path = pack_file.path
    idx_path: Path | None = None
    try:
        with PackReader(files, names, cache) as reader, pack_file as out:
            unique: set[bytes] = set()
            for ix in reader.indexes:
                unique.update(ix.shas if keep is None else (s for s in ix.shas if s in keep))
            digest = hashlib.sha1()  # noqa: S324 - git's pack checksum
            header = b"PACK" + (2).to_bytes(4, "big") + len(unique).to_bytes(4, "big")
            out.write(header)
            digest.update(header)
            pos = len(header)
            new_offsets: dict[bytes, int] = {}
            entries: list[tuple[bytes, int, int]] = []
            for p, ix in enumerate(reader.indexes):
                for k in range(ix.count):
                    sha = ix.shas[ix.sorted_pos[k]]
                    if sha in new_offsets or sha not in unique:
                        continue
                    if should_stop is not None and not k % 4096 and should_stop():
                        raise WalkInterrupted
                    start, end = ix.sorted_offsets[k], ix.sorted_offsets[k + 1]
                    hdr = parse_entry_header(reader.read_at(p, start, min(end - start, 64)), start)
                    crc = 0
                    length = 0
                    base: bytes | None = None
                    if hdr.type == OFS_DELTA:
                        assert hdr.base_offset is not None
                        base = ix.sha_at(hdr.base_offset)
                    elif hdr.type == REF_DELTA:
                        base = hdr.base_sha
                    if base is not None and base not in unique:
                        # The base is dropped: store the object whole.
                        typ, data = reader.resolve_at(p, start)
                        whole = encode_entry_header(typ, len(data)) + zlib.compress(data)
                        out.write(whole)
                        digest.update(whole)
                        crc = zlib.crc32(whole)
                        new_offsets[sha] = pos
                        entries.append((sha, pos, crc))
                        pos += len(whole)
                        continue
                    if hdr.type == OFS_DELTA:
                        assert base is not None
                        prefix = encode_entry_header(OFS_DELTA, hdr.size) + encode_ofs(
                            pos - new_offsets[base]
                        )
                        out.write(prefix)
                        digest.update(prefix)
                        crc = zlib.crc32(prefix)
                        length = len(prefix)
                        start += hdr.data_start
                    for chunk in reader.iter_entry_chunks(p, start, end):
                        out.write(chunk)
                        digest.update(chunk)
                        crc = zlib.crc32(chunk, crc)
                        length += len(chunk)
                    new_offsets[sha] = pos
                    entries.append((sha, pos, crc))
                    pos += length
            checksum = digest.digest()
            out.write(checksum)
        entries.sort()
        with files.create_scratch(prefix="merge-", suffix=".idx") as idx:
            idx_path = idx.path
            write_pack_index(cast(BinaryIO, idx), entries, checksum, version=2)
        name = f"pack-{checksum.hex()}"
        files.publish(f"{PACK_DIR}/{name}.pack", pack_path)
        files.publish(f"{PACK_DIR}/{name}.idx", idx_path)  # the index last: then it is visible
        return name
    finally:
        pack_path.unlink(missing_ok=True)
        if idx_path is not None:
            idx_path.unlink(missing_ok=True)


def retire(files: RepoFiles, names: Sequence[str], scratch: Path) -> None:
    for name in names:
        marker = scratch / f"{name}{RETIRED}"
        marker.write_bytes(b"")
        files.publish(f"{PACK_DIR}/{name}{RETIRED}", marker)


def delete_retired(files: RepoFiles, *, older_than: float) -> int:
    """Delete retired packs whose marker is older than `older_than` seconds; returns how many."""
    deleted = 0
    now = time.time()
    for entry in files.list(PACK_DIR):
        if not entry.endswith(RETIRED):
            continue
        name = entry[: -len(RETIRED)]
        if now - files.mtime(f"{PACK_DIR}/{entry}") < older_than:
            continue
        files.delete(f"{PACK_DIR}/{name}.idx")
        files.delete(f"{PACK_DIR}/{name}.pack")
        files.delete(f"{PACK_DIR}/{entry}")
        deleted += 1
    return deleted
