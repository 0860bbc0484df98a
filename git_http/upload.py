"""git-upload-pack for the HTTP door.

`serve_upload_pack` is the one place that chooses the engine: the pack-reusing engine of
`emulator.repos.upload_pack`, over the repository's pack store and a snapshot of its refs.
"""

from __future__ import annotations

from collections.abc import Callable

from emulator.config import Limits
from emulator.repos.model import Repository
from emulator.repos.pack_reader import PackCache
from emulator.repos.service import RepositoryService
from emulator.repos.upload_pack import UploadPack


def serve_upload_pack(
    repos: RepositoryService,
    repo: Repository,
    limits: Limits,
    cache: PackCache,
    read: Callable[[int], bytes],
    write: Callable[[bytes], None],
    *,
    advertise: bool,
) -> None:
    """Write the v0 ref advertisement (`advertise`) or answer one stateless upload-pack
    request read from `read`. Blocking."""
    engine = UploadPack(repos.object_store(repo), repos.refs(repo), limits, cache=cache)
    if advertise:
        # HEAD is a symref to the default branch; the engine leaves HEAD out if it is gone.
        head = repo.default_branch.encode() if repo.default_branch else None
        for frame in engine.advertisement(head):
            write(frame)
        return
    # The engine answers every failure in-band (`ERR ...`); a body the door could not read
    # (bad gzip, over the size cap) should instead reach git as the HTTP status it is.
    body_errors: list[Exception] = []

    def guarded_read(size: int) -> bytes:
        try:
            return read(size)
        except Exception as exc:
            body_errors.append(exc)
            raise

    engine.serve(guarded_read, write, stateless=True)
    if body_errors:
        raise body_errors[0]
