"""git-upload-pack for the HTTP door.

`serve_upload_pack` is the one place that chooses the engine. Until the fast engine of
`emulator.repos.upload_pack` is ready it drives dulwich's `UploadPackHandler` over a backend
built on the repository's pack store and a snapshot of its SQLite refs.
"""

from __future__ import annotations

from collections.abc import Callable

from dulwich.protocol import ReceivableProtocol, pkt_line
from dulwich.refs import DictRefsContainer, Ref
from dulwich.repo import BaseRepo
from dulwich.server import Backend, BackendRepo, UploadPackHandler

from emulator.repos.model import Repository
from emulator.repos.service import RepositoryService

SIDEBAND_MAX_DATA = 65515  # a pkt-line holds at most 65520 bytes: 4 of length, 1 of channel
_CHANNEL_DATA = 1


class FramingProtocol(ReceivableProtocol):
    """A protocol that packs side-band channel 1 (pack data) into full 64k frames.

    dulwich writes one side-band packet per object chunk, which costs ~3 writes per object;
    git reads frames of any size, so we coalesce until a frame is full or something else
    (progress, a flush-pkt) has to go out in order.
    """

    def __init__(self, recv: Callable[[int], bytes], write: Callable[[bytes], None]) -> None:
        super().__init__(recv, write)
        self._pending = bytearray()

    def _flush_data(self) -> None:
        while self._pending:
            frame = bytes(self._pending[:SIDEBAND_MAX_DATA])
            del self._pending[:SIDEBAND_MAX_DATA]
            self.write(pkt_line(bytes([_CHANNEL_DATA]) + frame))

    def write_sideband(self, channel: int, blob: bytes) -> None:
        if channel != _CHANNEL_DATA:
            self._flush_data()
            super().write_sideband(channel, blob)
            return
        self._pending += blob
        while len(self._pending) >= SIDEBAND_MAX_DATA:
            frame = bytes(self._pending[:SIDEBAND_MAX_DATA])
            del self._pending[:SIDEBAND_MAX_DATA]
            self.write(pkt_line(bytes([_CHANNEL_DATA]) + frame))

    def write_pkt_line(self, line: bytes | None) -> None:
        self._flush_data()
        super().write_pkt_line(line)


class _SnapshotBackend(Backend):
    def __init__(self, repo: BaseRepo) -> None:
        self._repo = repo

    def open_repository(self, path: str) -> BackendRepo:
        return self._repo  # type: ignore[return-value]  # BaseRepo provides what upload-pack uses


def _snapshot(repos: RepositoryService, repo: Repository) -> BaseRepo:
    refs: dict[Ref, bytes] = {Ref(k): v for k, v in repos.refs(repo).items()}
    if repo.default_branch is not None:
        target = b"refs/heads/" + repo.default_branch.encode()
        # HEAD is a symref to the default branch; a deleted default branch leaves no HEAD.
        if target in refs:
            refs[Ref(b"HEAD")] = b"ref: " + target
    return BaseRepo(repos.object_store(repo), DictRefsContainer(refs))


def serve_upload_pack(
    repos: RepositoryService,
    repo: Repository,
    read: Callable[[int], bytes],
    write: Callable[[bytes], None],
    *,
    advertise: bool,
) -> None:
    """Write the v0 ref advertisement (`advertise`) or answer one stateless upload-pack
    request read from `read`. Blocking."""
    proto = FramingProtocol(read, write)
    backend = _SnapshotBackend(_snapshot(repos, repo))
    handler = UploadPackHandler(
        backend, ["/"], proto, stateless_rpc=True, advertise_refs=advertise
    )
    handler.handle()
    proto._flush_data()
