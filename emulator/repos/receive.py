"""git-receive-pack: take a push, check it, store it and move the refs.

Used by every door (smart HTTP, SSH): it sees only a `read(n)` callable (1..n bytes, b"" at the
end) and a `write(data)` callable.

The steps mirror `git receive-pack` with `receive.fsckObjects` on:
1. read the commands (and push options) as pkt-lines;
2. stream the pack into a quarantine file in the repository's scratch dir, indexing it as it
   arrives (each object inflated once, `pack_indexer`) and checking every object while its
   content is in memory; complete a thin pack with bases from the store;
3. check connectivity: every object a pushed object references exists in the quarantine or the
   store. Stored objects passed the same check when they were pushed, so this proves every new
   tip's whole history is present without walking old history;
4. check each command (ref name, namespace, permission, tip type);
5. publish the pack and move the refs by compare-and-swap, all or nothing with `atomic`, one
   by one otherwise, through the one write path every writer uses (`write_path`);
6. report each ref's true outcome. A published pack is never removed here, even when no ref
   update applied: an identical concurrent push may rely on it. The background collector
   (`maintenance`) removes what no ref reaches, under the repository's lock, which pushes
   hold from step 3 to step 5.

dulwich's `ReceivePackHandler` is not used: it reports a lost compare-and-swap as ok, does not
check connectivity, applies `atomic` ref by ref and runs hook scripts. No hook ever runs here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from dulwich.errors import HangupException
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import RawObjectID
from dulwich.pack import extend_pack
from dulwich.protocol import ReceivableProtocol, pkt_line
from dulwich.refs import Ref, check_ref_format

from emulator.config import Limits
from emulator.errors import INTERNAL_ERROR, ClientStreamError
from emulator.repos.branches import MAX_BRANCH_NAME
from emulator.repos.commit_graph import load_graph
from emulator.repos.files import RepoFiles
from emulator.repos.gitmodules import check_special_blob, non_blob
from emulator.repos.model import ZERO_SHA, RefUpdate, Repository
from emulator.repos.object_checks import (
    BLOB,
    COMMIT,
    TAG,
    ObjectCheckError,
    TreeVerdicts,
    check_raw_object,
)
from emulator.repos.pack_indexer import (
    ClientGone,
    IndexedPack,
    PackError,
    PackSizeError,
    PackWorkExceeded,
    StreamIndexer,
    WorkLimit,
)
from emulator.repos.pack_reader import PackCache, PackReader
from emulator.repos.pkt_reader import PktReader
from emulator.repos.service import ATOMIC_FAILED, RepositoryService
from emulator.repos.shallow import SHALLOW_UPDATE_REFUSED, refs_needing_shallow
from emulator.repos.write_path import StagedPack, write_refs

log = logging.getLogger(__name__)

AGENT = b"agent=ccemu/0.1"
CAPABILITIES = (
    b"report-status",
    b"delete-refs",
    b"side-band-64k",
    b"quiet",
    b"atomic",
    b"ofs-delta",
    b"push-options",
    b"object-format=sha1",
    AGENT,
)
_SIDEBAND_DATA, _SIDEBAND_PROGRESS = 1, 2
_SIDEBAND_MAX = 65515
_HEX = frozenset(b"0123456789abcdef")
ALLOWED_NAMESPACES = (b"refs/heads/", b"refs/tags/")

# `authorize_ref(refname)` returns None if the principal may update the ref, else the reason.
AuthorizeRef = Callable[[bytes], str | None]


class PushRejected(Exception):
    """The request cannot be processed at all (malformed commands); reported as `ERR`."""


class PackTooLarge(Exception):
    pass


# What a client can do wrong while sending its pack; anything else is a fault of ours.
_CLIENT_FAULTS = (
    PackError,
    ObjectCheckError,
    PackTooLarge,
    HangupException,
    ClientStreamError,
)


@dataclass
class Command:
    old: bytes
    new: bytes
    ref: bytes
    error: str | None = None

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO_SHA


def advertise(refs: Mapping[bytes, bytes]) -> Iterator[bytes]:
    """The receive-pack ref advertisement as pkt-lines (without any HTTP `# service=` line)."""
    caps = b" ".join(CAPABILITIES)
    if not refs:
        yield pkt_line(ZERO_SHA + b" capabilities^{}\x00" + caps + b"\n")
    for i, (name, sha) in enumerate(sorted(refs.items())):
        yield pkt_line(sha + b" " + name + (b"\x00" + caps if i == 0 else b"") + b"\n")
    yield pkt_line(None)


def _is_hex_sha(value: bytes) -> bool:
    return len(value) == 40 and all(c in _HEX for c in value)


@dataclass
class Quarantine(StagedPack):
    """A received, indexed and checked pack waiting in the scratch dir."""

    object_count: int = 0
    objects: IndexedPack | None = None  # what the pack holds


class ReceivePack:
    """One push to one repository."""

    def __init__(
        self,
        repos: RepositoryService,
        repo: Repository,
        limits: Limits,
        authorize_ref: AuthorizeRef,
        cache: PackCache | None = None,
        actor: str | None = None,
    ) -> None:
        self.repos = repos
        self.actor = actor  # the pusher's ARN, for the events the ref updates cause
        self.repo = repo
        self.limits = limits
        self.authorize_ref = authorize_ref
        self.files: RepoFiles = repos.files(repo)
        self.store = repos.object_store(repo)
        # Parsed indexes of the stored packs, shared with other requests when the door has a
        # cache: thin-pack bases and the connectivity check look objects up through it.
        self.cache = cache if cache is not None else PackCache()
        self._reader: PackReader | None = None
        # The repository's ref window (`RepositoryService.ref_window`), held from the
        # connectivity check to the ref update so the collector cannot remove what the
        # check found; released when the request ends.
        self._window = contextlib.ExitStack()
        self._in_window = False
        self._gone: Callable[[], bool] = lambda: False  # set by serve()
        self.caps: set[bytes] = set()  # the client's capabilities, once its first command is read
        self.client_shallow: set[bytes] = set()  # `shallow` lines: the client's boundary commits
        self._received_links: dict[bytes, tuple[bytes, ...]] = {}  # commit/tag -> parents/target

    def advertise(self) -> Iterator[bytes]:
        return advertise(self.repos.refs(self.repo))

    # -- the request ------------------------------------------------------------------------

    def serve(
        self,
        read: Callable[[int], bytes],
        write: Callable[[bytes], None],
        gone: Callable[[], bool] = lambda: False,
    ) -> None:
        """Handle one push: commands, pack, report. Blocking. `gone()` tells whether the
        client has hung up: indexing its pack stops then instead of running to the end."""
        self._gone = gone
        proto = ReceivableProtocol(read, write)
        try:
            commands, caps = self._read_commands(proto)
        except PushRejected as exc:
            self._refuse(proto, str(exc))
            return
        if not commands:
            return
        sideband = b"side-band-64k" in caps
        unpack_error: str | None = None
        quarantine: Quarantine | None = None
        try:
            if any(not c.is_delete for c in commands):
                try:
                    quarantine = self._receive_pack(proto)
                except _CLIENT_FAULTS as exc:  # the pack, or the stream it came in, is bad
                    unpack_error = _describe(exc)
                except ClientGone:
                    log.warning("push to %s abandoned: the client hung up", self.repo.name)
                    return
                except ConnectionError:
                    raise  # nobody is left to answer
                except Exception:
                    # Ours, not the client's: logged with its traceback, told as no more
                    # than that (its text may name the data dir's paths).
                    log.exception("push to %s failed while its pack was stored", self.repo.name)
                    unpack_error = INTERNAL_ERROR
            if unpack_error is not None:
                for c in commands:
                    c.error = "unpacker error"
            else:
                self._apply(commands, quarantine, atomic=b"atomic" in caps)
        finally:
            if quarantine is not None:
                quarantine.discard()
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._window.close()
            self._in_window = False
        if b"report-status" in caps:
            self._report(proto, commands, unpack_error, sideband)
        elif sideband and unpack_error is not None and b"quiet" not in caps:
            proto.write_sideband(_SIDEBAND_PROGRESS, f"error: {unpack_error}\n".encode())
            proto.write_pkt_line(None)

    def _read_commands(self, proto: ReceivableProtocol) -> tuple[list[Command], set[bytes]]:
        """The commands, as git's read_head_info reads them: `shallow <id>` lines first (a push
        from a shallow clone), then `old new ref` with the capabilities after a NUL on the
        first, then a flush; push options follow when both sides use them."""
        # Never reads past the flush, so the pack that follows is read from `proto` after it.
        pkts = PktReader(
            proto.recv, self.limits.max_negotiation_body, error=PushRejected, prefix=""
        )
        commands: list[Command] = []
        caps: set[bytes] = set()
        while True:
            line = pkts.read()
            if line is None:
                break
            if line == b"":
                raise PushRejected("unexpected end of request")
            if line.startswith(b"shallow ") and not commands:
                sha = line[8:].rstrip(b"\n")
                if not _is_hex_sha(sha):
                    raise PushRejected(f"protocol error: expected shallow sha, got {sha[:60]!r}")
                self.client_shallow.add(bytes.fromhex(sha.decode()))
                continue
            line, nul, cap_text = line.partition(b"\0")
            if nul and not commands:
                caps = set(cap_text.split())
                self.caps = caps  # from here on, a refusal goes on the side band if asked
            line = line.rstrip(b"\n")
            # git's queue_command: old SP new SP refname (the rest, checked later)
            old, new, ref = line[:40], line[41:81], line[82:]
            if not (
                len(line) > 82
                and line[40:41] == line[81:82] == b" "
                and _is_hex_sha(old)
                and _is_hex_sha(new)
            ):
                raise PushRejected(f"protocol error: expected old/new/ref, got {line[:120]!r}")
            commands.append(Command(old, new, ref))
            if len(commands) > self.limits.max_refs_per_push:
                raise PushRejected(
                    f"too many ref updates in one push (limit {self.limits.max_refs_per_push})"
                )
        if b"push-options" in caps and commands:
            # Options are accepted and ignored (no hooks consume them), but must be consumed.
            count = 0
            while (option := pkts.read()) is not None:
                if option == b"":
                    raise PushRejected("unexpected end of request")
                count += 1
                if count > 1000:
                    raise PushRejected("too many push options")
        return commands, caps

    def _refuse(self, proto: ReceivableProtocol, message: str) -> None:
        """Refuse the whole request with git's `ERR` line. A client that asked for side-band
        demultiplexes everything it reads, so there the line travels in band 1, where its
        report-status reader looks (git's client dies with "remote error: ..."); a bare `ERR`
        would be read as band 69 ('E'). Without report-status the text goes to band 2, where
        git's receive-pack sends its error messages (rp_error)."""
        text = " ".join(message.split())[:1000].encode("utf-8", "replace")
        if b"side-band-64k" not in self.caps:
            proto.write_pkt_line(b"ERR " + text)
            return
        if b"report-status" in self.caps:
            proto.write_sideband(_SIDEBAND_DATA, pkt_line(b"ERR " + text))
        else:
            proto.write_sideband(_SIDEBAND_PROGRESS, b"error: " + text + b"\n")
        proto.write_pkt_line(None)

    # -- the pack ---------------------------------------------------------------------------

    def _receive_pack(self, proto: ReceivableProtocol) -> Quarantine | None:
        limit = self.limits.max_git_request
        received = 0

        def recv(size: int) -> bytes:
            nonlocal received
            data = proto.recv(size)
            received += len(data)
            if received > limit:
                raise PackTooLarge(f"pack exceeds the maximum size of {limit} bytes")
            return data

        # referenced binary SHA -> an object that names it (for the error message): one entry
        # per object named, not one per tree entry (a history's trees name millions)
        referenced: dict[bytes, bytes] = {}

        specials: dict[bytes, str] = {}  # blobs named .gitmodules or .gitattributes
        verdicts = TreeVerdicts()  # this push's trees, by their modes and names

        def check(type_num: int, sha: bytes, content: bytes) -> None:
            refs = check_raw_object(
                type_num, content, sha.hex().encode(), self.limits, specials, verdicts
            )
            if self.client_shallow and type_num in (COMMIT, TAG):
                refs = self._shallow_links(type_num, sha, refs)
            if refs:
                referenced.update(dict.fromkeys(refs, sha))

        fmt = DEFAULT_OBJECT_FORMAT
        # Scratch files come from the store: an encrypted store keeps them encrypted too.
        pack_file = self.files.create_scratch(prefix="quarantine-", suffix=".pack")
        pack_path = pack_file.path
        idx_path: Path | None = None
        try:
            with pack_file:
                f = cast(BinaryIO, pack_file)  # read, write, seek and tell are all it needs
                indexer = StreamIndexer(
                    recv,
                    f,
                    self._stored_object,
                    check,
                    self.limits.max_object_size,
                    work=WorkLimit(
                        self.limits.push_inflate_allowance, self.limits.push_inflate_ratio
                    ),
                    gone=self._gone,
                )
                indexed = indexer.run()
                self._check_special_blobs(specials, indexer)
                if indexed is None:
                    pack_path.unlink()
                    return None  # nothing new: git writes no pack either
                bases = indexed.external_bases
                if bases:
                    # A thin pack: store the bases it was made against in the pack itself.
                    indexed.checksum, extra = extend_pack(
                        f,
                        {RawObjectID(sha) for sha in bases},
                        get_raw=lambda sha: bases[sha],
                        object_format=fmt,
                    )
                    for sha, offset, crc in extra:
                        indexed.add(sha, offset, crc, bases[sha][0])
            # The pack is fsynced when it is published; a refused push never needs it durable.
            with self.files.create_scratch(prefix="quarantine-", suffix=".idx") as idx:
                idx_path = idx.path
                present = indexed.write_index(cast(BinaryIO, idx))
            quarantine = Quarantine(
                self.files,
                pack_path,
                idx_path,
                f"pack-{indexed.checksum.hex()}",
                len(indexed),
                indexed,
            )
            self._enter_window()
            self._check_connectivity(referenced, present)
            return quarantine
        except BaseException:
            for path in (idx_path, pack_path):
                if path is not None:
                    path.unlink(missing_ok=True)
            raise

    def _check_special_blobs(self, specials: Mapping[bytes, str], pack: StreamIndexer) -> None:
        """git's checks of the `.gitmodules` and `.gitattributes` the pushed trees name, in the
        pack or already stored (one the repository lacks fails the connectivity check)."""
        for sha, kind in specials.items():
            found = pack.object(sha) or self._stored_object(sha)
            if found is None:
                continue
            type_num, content = found
            # Parsing a config file costs about a hundred times more per byte than inflating.
            pack.charge(100 * len(content))
            problem = non_blob(kind) if type_num != BLOB else check_special_blob(kind, content)
            if problem is not None:
                raise ObjectCheckError(f"object {sha.hex()} at {kind}: {problem}")

    # -- the stored objects -----------------------------------------------------------------

    def _enter_window(self) -> None:
        """Hold the ref window from here to the ref update, and look objects up in the packs
        stored now: a pack listed before may have been retired by the collector since."""
        if not self._in_window:
            self._window.enter_context(self.repos.ref_window(self.repo))
            self._in_window = True
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _stored(self, refresh: bool = False) -> PackReader:
        if self._reader is None or refresh:
            if self._reader is not None:
                self._reader.close()
            self._reader = PackReader(self.files, self.store.pack_names(), self.cache)
        return self._reader

    def _stored_object(self, sha: bytes) -> tuple[int, bytes] | None:
        """Type and content of a stored object (a thin pack's base), by binary SHA."""
        return self._stored().get(sha)

    def _missing_from_store(self, shas: set[bytes], refresh: bool = False) -> set[bytes]:
        reader = self._stored(refresh)
        missing = shas
        for ix in reader.indexes:
            missing = {s for s in missing if s not in ix.shas}
            if not missing:
                break
        return missing

    def _check_connectivity(self, referenced: dict[bytes, bytes], present: list[bytes]) -> None:
        """Every object in `referenced` (SHA -> an object that names it) is in `present` (the
        pack's objects) or stored."""
        missing = set(referenced).difference(present)
        if missing:
            missing = self._missing_from_store(missing)
        if missing:  # a push that completed meanwhile may have stored them
            missing = self._missing_from_store(missing, refresh=True)
        if missing:
            ref = min(missing)
            raise ObjectCheckError(
                f"missing object {ref.hex()} referenced by {referenced[ref].hex()}"
            )

    # -- the refs ---------------------------------------------------------------------------

    def _object_type(self, sha: bytes, quarantine: Quarantine | None) -> int | None:
        binary = bytes.fromhex(sha.decode())
        if quarantine is not None and quarantine.objects is not None:
            type_num = quarantine.objects.type_of(binary)
            if type_num is not None:
                return type_num
        found = self._stored().get(binary)
        if found is None:
            found = self._stored(refresh=True).get(binary)
        return None if found is None else found[0]

    def _check_command(
        self, cmd: Command, quarantine: Quarantine | None, seen: set[bytes]
    ) -> str | None:
        if not check_ref_format(Ref(cmd.ref)):
            return "funny refname"
        try:
            # CodeCommit names branches and tags as strings: a ref that is not UTF-8 could be
            # pushed but never named through the API (GetBranch, DeleteBranch), so refuse it.
            name = cmd.ref.decode("utf-8")
        except UnicodeDecodeError:
            return "funny refname: ref names must be valid UTF-8"
        if name.startswith("refs/heads/") and len(name) - 11 > MAX_BRANCH_NAME:
            return f"funny refname: branch names are at most {MAX_BRANCH_NAME} characters"
        if not cmd.ref.startswith(ALLOWED_NAMESPACES):
            return "only refs/heads/* and refs/tags/* may be pushed"
        if cmd.ref in seen:
            return "multiple updates for ref"
        seen.add(cmd.ref)
        denied = self.authorize_ref(cmd.ref)
        if denied is not None:
            return denied
        if cmd.is_delete:
            return None
        type_num = self._object_type(cmd.new, quarantine)
        if type_num is None:
            return "missing necessary objects"
        if cmd.ref.startswith(b"refs/heads/") and type_num != COMMIT:
            return "branches must point to commits"
        return None

    # -- a push from a shallow clone (see `shallow`) ------------------------------------------

    def _shallow_links(self, type_num: int, sha: bytes, refs: list[bytes]) -> list[bytes]:
        """Remember where a received commit or tag leads, for `_refuse_shallow_updates`; the
        parents of a commit the client says is shallow are not required (git checks
        connectivity with the client's shallow list as its --shallow-file)."""
        self._received_links[sha] = tuple(refs[1:] if type_num == COMMIT else refs)
        if type_num == COMMIT and sha in self.client_shallow:
            return refs[:1]
        return refs

    def _refuse_shallow_updates(self, commands: Sequence[Command]) -> bool:
        """git's update_shallow_info with receive.shallowUpdate off: refuse the refs whose new
        history needs one of the client's shallow commits that is not already part of the
        repository's history. A pack that carries such a commit is never stored, since its
        history is incomplete: every ref that would need the pack is refused then, and True
        is returned (the pack must not be published)."""
        if not self.client_shallow:
            return False
        todo = {c.ref: c.new for c in commands if c.error is None and not c.is_delete}
        if not todo:  # deletes only: the pack is not needed, so keep no doubtful one
            return any(s in self._received_links for s in self.client_shallow)
        reader = self._stored()
        graph = load_graph(reader)
        links = self._received_links

        def parents(sha: bytes) -> tuple[bytes, ...] | None:
            if sha in links:
                return links[sha]
            info = graph.get(sha)
            if info is not None:
                return info[1]
            target = reader.peel(sha)  # a stored annotated tag
            return None if target is None else (target,)

        old_tips = {bytes.fromhex(v.decode()) for v in self.repos.refs(self.repo).values()}
        new_tips = {ref: bytes.fromhex(new.decode()) for ref, new in todo.items()}
        refused = refs_needing_shallow(parents, new_tips, self.client_shallow, old_tips)
        carried = any(s in links and s not in graph for s in self.client_shallow)
        for c in commands:
            if c.ref in refused:
                c.error = SHALLOW_UPDATE_REFUSED
            elif carried and c.ref in todo:
                # git would take this ref and keep the pack; here a stored object always has
                # its whole history (what the connectivity check relies on), so it cannot be.
                c.error = f"{SHALLOW_UPDATE_REFUSED}: the pack carries shallow history"
        return carried

    def _apply(
        self, commands: Sequence[Command], quarantine: Quarantine | None, *, atomic: bool
    ) -> None:
        self._enter_window()  # a push of deletions only has no connectivity check
        seen: set[bytes] = set()
        for c in commands:
            c.error = self._check_command(c, quarantine, seen)
        if self._refuse_shallow_updates(commands):
            quarantine = None  # it carries shallow history: never stored, even beside deletes
        if atomic and any(c.error is not None for c in commands):
            for c in commands:
                if c.error is None:
                    c.error = ATOMIC_FAILED
            return
        todo = [c for c in commands if c.error is None]
        if not todo:
            return
        # Each command was authorized among its checks above, in git's order (name, namespace,
        # permission, then objects), so the write path is given no `authorize_ref`. A pack
        # published for ref updates that all failed stays: a concurrent push of the very same
        # pack may rely on it. The collector removes it if no ref reaches it.
        try:
            results = write_refs(
                self.repos,
                self.repo,
                [RefUpdate(c.ref, c.old, c.new) for c in todo],
                actor=self.actor,
                staged=quarantine,
                atomic=atomic,
                cache=self.cache,
            ).results
        except Exception:
            log.exception("ref update of a push to %s failed", self.repo.name)
            results = [f"failed to update refs: {INTERNAL_ERROR}"] * len(todo)
        for c, result in zip(todo, results, strict=True):
            c.error = result

    # -- the answer -------------------------------------------------------------------------

    def _report(
        self,
        proto: ReceivableProtocol,
        commands: Sequence[Command],
        unpack_error: str | None,
        sideband: bool,
    ) -> None:
        lines = [b"unpack ok\n" if unpack_error is None else _line(b"unpack ", unpack_error)]
        for c in commands:
            if c.error is None:
                lines.append(b"ok " + c.ref + b"\n")
            else:
                lines.append(_line(b"ng " + c.ref + b" ", c.error))
        report = b"".join(pkt_line(line) for line in lines) + pkt_line(None)
        if not sideband:
            proto.write(report)
            return
        for i in range(0, len(report), _SIDEBAND_MAX):
            proto.write_sideband(_SIDEBAND_DATA, report[i : i + _SIDEBAND_MAX])
        proto.write_pkt_line(None)


def _line(prefix: bytes, message: str) -> bytes:
    text = " ".join(message.split())[:1000]  # one line, bounded
    return prefix + text.encode("utf-8", "replace") + b"\n"


def _describe(exc: BaseException) -> str:
    """The client's fault, in words for the client."""
    if isinstance(exc, HangupException):
        return "pack is truncated"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, PackError) and not isinstance(exc, PackSizeError | PackWorkExceeded):
        return f"invalid pack: {text}"
    return text
