"""A dulwich object store that keeps objects in pack files only, read through `RepoFiles`."""

from __future__ import annotations

from collections.abc import Iterator

from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.object_store import BucketBasedObjectStore
from dulwich.pack import Pack, PackData, PackIndex, load_pack_index_file

from emulator.repos.files import PACK_DIR, RepoFiles

RETIRED = ".retired"  # marker of a pack merged into a newer one (see repack.py)


class RepoObjectStore(BucketBasedObjectStore):
    """Packs in, packs out: no loose objects. One instance per request or thread, since dulwich
    pack readers keep a file position."""

    def __init__(self, files: RepoFiles) -> None:
        super().__init__(object_format=DEFAULT_OBJECT_FORMAT)
        self.files = files

    def pack_names(self) -> list[str]:
        """Published packs: a `.pack` counts once its `.idx` exists (the index is published
        last), until it is retired."""
        entries = set(self.files.list(PACK_DIR))
        return sorted(
            name[: -len(".pack")]
            for name in entries
            if name.endswith(".pack")
            and name[: -len(".pack")] + ".idx" in entries
            and name[: -len(".pack")] + RETIRED not in entries  # merged into a newer pack
        )

    def _iter_pack_names(self) -> Iterator[str]:
        return iter(self.pack_names())

    def open_index(self, name: str) -> PackIndex:
        rel = f"{PACK_DIR}/{name}.idx"
        return load_pack_index_file(rel, self.files.open_read(rel), self.object_format)

    def open_data(self, name: str) -> PackData:
        rel = f"{PACK_DIR}/{name}.pack"
        return PackData(
            rel,
            file=self.files.open_read(rel),
            size=self.files.size(rel),
            object_format=self.object_format,
        )

    def _get_pack(self, name: str) -> Pack:
        pack = Pack.from_lazy_objects(lambda: self.open_data(name), lambda: self.open_index(name))
        pack.resolve_ext_ref = self.get_raw
        return pack

    def _remove_pack_by_name(self, name: str) -> None:
        self.files.delete(f"{PACK_DIR}/{name}.idx")
        self.files.delete(f"{PACK_DIR}/{name}.pack")
