"""git-upload-pack: the ref advertisement and the pack sent to a fetching client.

Interface used by every door (smart HTTP now, SSH later):

- `advertise(refs, head, peel)` yields the pkt-line frames of the v0 ref advertisement (without
  the smart-HTTP `# service=` preamble, which is the HTTP door's business).
- `UploadPack(store, refs, limits, cache=...).serve(read, write, stateless=True)` reads one
  request (wants, haves, done) from `read` and writes the negotiation answer and the pack
  (side-band-64k) to `write`. Blocking: doors run it in a worker thread. With
  `stateless=False` (SSH, git daemon) the caller has written the advertisement and the whole
  v0 conversation, several negotiation rounds included, happens in one call.

The protocol follows git's upload-pack.c (v0/v1, Documentation/gitprotocol-pack.txt). Packs are
made of stored entries copied as they are (see `pack_send`), so the server's cost follows the
size of what is sent, not of the repository.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from emulator.config import Limits
from emulator.repos.advertisement import (
    CAPABILITIES,
    ZERO_ID,
    advertise,
    cached_peel,
    open_reader,
)
from emulator.repos.closures import repo_closures
from emulator.repos.commit_graph import (
    Graph,
    can_all_reach,
    commits_to_send,
    load_graph,
    mark_have,
)
from emulator.repos.object_store import RepoObjectStore
from emulator.repos.object_walk import ObjectWalk, tags_reaching
from emulator.repos.output_buffer import Write
from emulator.repos.pack_reader import (
    OBJ_TAG,
    PackCache,
    PackFormatError,
    PackReader,
    tag_target,
)
from emulator.repos.pack_send import (
    FLUSH,
    SIDEBAND_64K_DATA,
    SIDEBAND_DATA,
    PackOutput,
    pkt,
    send_closure,
    send_objects,
    send_whole_packs,
)
from emulator.repos.pkt_reader import PktReader, UploadPackError, parse_id
from emulator.repos.reachability import clone_objects, tips_of
from emulator.repos.sha_table import ShaTable
from emulator.repos.shallow import (
    NoCommitsSelected,
    depth_boundary,
    relative_boundary,
    rev_list_boundary,
)

__all__ = [
    "CAPABILITIES",
    "ZERO_ID",
    "PackCache",
    "UploadPack",
    "UploadPackError",
    "advertise",
    "cached_peel",
    "open_reader",
]

log = logging.getLogger(__name__)

INFINITE_DEPTH = 0x7FFFFFFF  # git's INFINITE_DEPTH, sent by `fetch --unshallow`


# -- the service ---------------------------------------------------------------------------


class UploadPack:
    def __init__(
        self,
        store: RepoObjectStore,
        refs: Mapping[bytes, bytes],
        limits: Limits,
        *,
        cache: PackCache | None = None,
        head: bytes | None = None,
    ) -> None:
        self.store = store
        self.refs = refs
        self.head = head  # the default branch (`main` or `refs/heads/main`), if known
        self.limits = limits
        self.cache = cache if cache is not None else PackCache()
        self._reader: PackReader | None = None
        self._graph: Graph | None = None

    # lazily opened: an empty request or ls-remote needs neither
    @property
    def reader(self) -> PackReader:
        if self._reader is None:
            self._reader = open_reader(self.store, self.cache)
        return self._reader

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = load_graph(self.reader)
        return self._graph

    def advertisement(self, head: bytes | None) -> Iterator[bytes]:
        try:
            yield from advertise(self.refs, head, cached_peel(self.reader))
        finally:
            self.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def serve(
        self,
        read: Callable[[int], bytes],
        write: Write,
        *,
        stateless: bool = True,
    ) -> None:
        session = _Session(
            self, PktReader(read, self.limits.max_negotiation_body), write, stateless
        )
        try:
            session.run()
        except UploadPackError as e:
            session.error(str(e))
        except PackFormatError as e:
            log.error("upload-pack: repository data is damaged: %s", e)
            session.error("upload-pack: aborting due to possible repository corruption")
        except (BrokenPipeError, ConnectionError):
            raise
        except Exception:
            log.exception("upload-pack failed")
            session.error("upload-pack: internal error")
        finally:
            self.close()


class _Session:
    """One upload-pack conversation: git's upload_pack_data."""

    def __init__(self, up: UploadPack, reader: PktReader, write: Write, stateless: bool) -> None:
        self.up = up
        self.pkts = reader
        self.write = write
        self.stateless = stateless
        self.wants: list[bytes] = []
        self.caps: set[bytes] = set()
        self.client_shallow: set[bytes] = set()
        self.depth = 0
        self.deepen_since = 0
        self.deepen_not: list[bytes] = []  # commits of the refs `deepen-not` names
        self.haves: list[bytes] = []  # git's have_obj: every have we know, in order
        self._have_set: set[bytes] = set()
        self.they_have: set[bytes] = set()
        self.oldest_have = 0
        self.ready_known = False
        self.ready = False
        self.new_shallow: set[bytes] = set()
        self.unshallowed: set[bytes] = set()
        self.out: PackOutput | None = None

    # -- output --
    def send(self, line: bytes) -> None:
        self.write(pkt(line))

    def error(self, message: str) -> None:
        try:
            if self.out is not None and self.out.started and self._sideband():
                self.write(pkt(b"\x03" + message.encode() + b"\n"))
            else:
                self.send(b"ERR " + message.encode())
        except (BrokenPipeError, ConnectionError):
            pass

    def _sideband(self) -> int | None:
        if b"side-band-64k" in self.caps:
            return SIDEBAND_64K_DATA
        if b"side-band" in self.caps:
            return SIDEBAND_DATA
        return None

    # -- conversation --
    def run(self) -> None:
        if not self.receive_needs():
            return
        if self.stateless and self.pkts.peek() == b"":
            return  # a stateless client reads the shallow list before negotiating
        if self.get_common_commits():
            self.create_pack()

    def receive_needs(self) -> bool:
        first = True
        while True:
            line = self.pkts.read()
            if line is None or line == b"":
                break
            line = line.rstrip(b"\n")
            if line.startswith(b"shallow "):
                sha = parse_id(line[8:], "shallow")
                if sha in self.up.graph:
                    self.client_shallow.add(sha)
                elif sha in self.up.reader:
                    raise UploadPackError(f"upload-pack: invalid shallow object {sha.hex()}")
                continue
            if line.startswith(b"deepen "):
                try:
                    self.depth = int(line[7:])
                except ValueError:
                    self.depth = 0
                if self.depth <= 0:
                    raise UploadPackError(f"upload-pack: invalid deepen: {line.decode()}")
                continue
            if line.startswith(b"deepen-not "):
                self.deepen_not.append(self._expand_ref(line[11:]))
                continue
            if line.startswith(b"deepen-since "):
                try:
                    self.deepen_since = int(line[13:])
                except ValueError:
                    self.deepen_since = 0
                if self.deepen_since <= 0:
                    raise UploadPackError(f"upload-pack: invalid deepen-since: {line.decode()}")
                continue
            if not line.startswith(b"want "):
                raise UploadPackError(
                    "upload-pack: protocol error, expected to get object ID, not "
                    f"'{line[:80].decode(errors='replace')}'"
                )
            sha = parse_id(line[5:45], "want")
            if first:
                self.caps = set(line[46:].replace(b"\0", b" ").split())
                first = False
            if sha not in self.wants:
                self.wants.append(sha)
        if not self.wants:
            return False
        self.check_wants()
        if self.depth and (self.deepen_since or self.deepen_not):
            raise UploadPackError(
                "upload-pack: deepen and deepen-since (or deepen-not) cannot be used together"
            )
        if self.depth or self.deepen_since or self.deepen_not:
            self.send_shallow_list()
            self.write(FLUSH)
        return True

    def _expand_ref(self, name: bytes) -> bytes:
        """The commit a `deepen-not <ref>` names, by git's ref_rev_parse_rules (expand_ref):
        exactly one of name, refs/name, refs/tags/name, refs/heads/name, refs/remotes/name,
        refs/remotes/name/HEAD must exist."""
        text = name.rstrip(b"\n")
        rules = (b"", b"refs/", b"refs/tags/", b"refs/heads/", b"refs/remotes/")
        found = [self.up.refs[r + text] for r in rules if r + text in self.up.refs]
        tail = b"refs/remotes/" + text + b"/HEAD"
        if tail in self.up.refs:
            found.append(self.up.refs[tail])
        shown = text[:200].decode(errors="replace")
        if len(found) > 1:
            raise UploadPackError(f"upload-pack: ambiguous deepen-not: deepen-not {shown}")
        if not found:
            raise UploadPackError(f"upload-pack: deepen-not is not a ref: deepen-not {shown}")
        sha = bytes.fromhex(found[0].decode("ascii"))
        return self.up.reader.peel(sha) or sha

    def check_wants(self) -> None:
        tips: set[bytes] = set()
        peel = None
        for hexsha in self.up.refs.values():
            try:
                tips.add(bytes.fromhex(hexsha.decode("ascii")))
            except ValueError:
                continue
        non_tip = [w for w in self.wants if w not in tips]
        if not non_tip:
            return
        peel = cached_peel(self.up.reader)
        for t in list(tips):
            p = peel(t.hex().encode())
            if p is not None:
                tips.add(bytes.fromhex(p.decode()))
        non_tip = [w for w in non_tip if w not in tips]
        if not non_tip:
            return
        # In stateless RPC the refs may have moved since the advertisement another request
        # made (git's check_non_tip): a want reachable from a current tip is still fine.
        graph = self.up.graph
        if self.stateless and all(w in graph for w in non_tip):
            reachable = _reachable_from(graph, [t for t in tips if t in graph], set(non_tip))
            missing = [w for w in non_tip if w not in reachable]
            if not missing:
                return
            non_tip = missing
        raise UploadPackError(f"upload-pack: not our ref {non_tip[0].hex()}")

    def send_shallow_list(self) -> None:
        """git's send_shallow_list: the new boundary (`shallow`) and the client's shallow
        commits it now gets the parents of (`unshallow`), see `emulator.repos.shallow`."""
        graph = self.up.graph
        reader = self.up.reader

        def commit_of(sha: bytes) -> bytes:  # a tag is deepened from its commit (deref_tag)
            return sha if sha in graph else reader.peel(sha) or sha

        commits = [c for c in map(commit_of, self.wants) if c in graph]
        if self.depth >= INFINITE_DEPTH:
            boundary: set[bytes] = set()
            not_shallow = set(self.client_shallow)
        elif self.depth and b"deepen-relative" in self.caps:
            tips = [commit_of(bytes.fromhex(v.decode("ascii"))) for v in self.up.refs.values()]
            boundary, not_shallow = relative_boundary(graph, tips, self.client_shallow, self.depth)
        elif self.depth:
            boundary, not_shallow = depth_boundary(graph, commits, self.depth)
        else:
            try:
                boundary, not_shallow = rev_list_boundary(
                    graph, commits, self.deepen_since, self.deepen_not
                )
            except NoCommitsSelected as e:
                raise UploadPackError(f"upload-pack: {e}") from None
        self.new_shallow = set()
        for c in sorted(boundary):
            if c not in self.client_shallow and c not in not_shallow:
                self.send(b"shallow " + c.hex().encode() + b"\n")
                self.new_shallow.add(c)
        for c in sorted(self.client_shallow):
            if c in not_shallow:
                self.send(b"unshallow " + c.hex().encode() + b"\n")
                self.unshallowed.add(c)

    def _got_have(self, sha: bytes) -> bool:
        """git's got_oid: False if we do not have the object."""
        graph = self.up.graph
        if sha in graph:
            when = mark_have(graph, sha, self.they_have)
            if when is not None and (not self.oldest_have or when < self.oldest_have):
                self.oldest_have = when
            self.ready_known = False
        elif sha not in self.up.reader:
            return False
        if sha not in self._have_set:
            self._have_set.add(sha)
            self.haves.append(sha)
        return True

    def _ok_to_give_up(self) -> bool:
        if not self.haves:
            return False
        if not self.ready_known:
            self.ready = can_all_reach(self.up.graph, self.wants, self.they_have, self.oldest_have)
            self.ready_known = True
        return self.ready

    def get_common_commits(self) -> bool:
        """Negotiation (git's get_common_commits); True when the pack is to be sent."""
        multi_ack = (
            2 if b"multi_ack_detailed" in self.caps else (1 if b"multi_ack" in self.caps else 0)
        )
        no_done = b"no-done" in self.caps
        last_hex = b""
        got_common = got_other = sent_ready = False
        while True:
            line = self.pkts.read()
            if line is None or line == b"":
                if line == b"" and not self.stateless:
                    return False  # the client hung up
                if multi_ack == 2 and got_common and not got_other and self._ok_to_give_up():
                    sent_ready = True
                    self.send(b"ACK " + last_hex + b" ready\n")
                if not self.haves or multi_ack:
                    self.send(b"NAK\n")
                if no_done and sent_ready:
                    self.send(b"ACK " + last_hex + b"\n")
                    return True
                if self.stateless:
                    return False
                got_common = got_other = False
                continue
            line = line.rstrip(b"\n")
            if line.startswith(b"have "):
                sha = parse_id(line[5:], "have")
                if not self._got_have(sha):
                    got_other = True
                    if multi_ack and self._ok_to_give_up():
                        hexsha = sha.hex().encode()
                        if multi_ack == 2:
                            sent_ready = True
                            self.send(b"ACK " + hexsha + b" ready\n")
                        else:
                            self.send(b"ACK " + hexsha + b" continue\n")
                    continue
                got_common = True
                last_hex = sha.hex().encode()
                if multi_ack == 2:
                    self.send(b"ACK " + last_hex + b" common\n")
                elif multi_ack:
                    self.send(b"ACK " + last_hex + b" continue\n")
                elif len(self.haves) == 1:
                    self.send(b"ACK " + last_hex + b"\n")
                continue
            if line == b"done":
                if self.haves:
                    if multi_ack:
                        self.send(b"ACK " + last_hex + b"\n")
                    return True
                self.send(b"NAK\n")
                return True
            raise UploadPackError(
                f"upload-pack: expected SHA1 list, got '{line[:80].decode(errors='replace')}'"
            )

    # -- the pack --
    def create_pack(self) -> None:
        sideband = self._sideband()
        self.out = out = PackOutput(self.write, sideband)
        reader = self.up.reader
        shallow_mode = bool(
            self.depth or self.deepen_since or self.deepen_not or self.client_shallow
        )
        if not self.haves and not shallow_mode and self._wants_every_ref():
            # A clone: only what the refs reach goes out (never the objects of a deleted
            # branch or a force-pushed-away commit). The stored packs go as they are when they
            # hold exactly that, which the background collector keeps true.
            exact, objects = clone_objects(
                reader, self.up.graph, tips_of(self.up.refs.values()), self._default_closure()
            )
            if exact:
                send_whole_packs(reader, out, b"ofs-delta" in self.caps)
            else:
                assert objects is not None
                send_objects(reader, out, list(objects), (), False)
        elif not self.haves and not shallow_mode and all(w in self.up.graph for w in self.wants):
            # A clone of some branches (`--single-branch`, a fetch into an empty repository):
            # every object the wanted commits reach, kept and grown per repository (`closures`).
            tips = tuple(sorted(set(self.wants)))
            closure = repo_closures(reader).of(reader, self.up.graph, tips)
            tags: list[bytes] = []
            if b"include-tag" in self.caps:
                tags = tags_reaching(reader, self.up.graph, self._tag_chains(), closure.members)
            if b"ofs-delta" in self.caps:
                send_closure(reader, out, closure.members, closure.in_pack, tags)
            else:
                send_objects(reader, out, [*closure.members, *tags], (), False)
        else:
            walk = self._enumerate()
            send_objects(reader, out, walk.order, walk.client_has, b"thin-pack" in self.caps)
        if sideband:
            self.write(FLUSH)

    def _default_closure(self) -> tuple[bytes, Callable[[ShaTable], None]] | None:
        """For a walk of every ref: the default branch's commit, walked first, and where what
        it reaches is kept for the clones of that branch alone (`closures`)."""
        head = self.up.head
        if not head:
            return None
        value = self.up.refs.get(head if head.startswith(b"refs/") else b"refs/heads/" + head)
        tip = next(iter(tips_of([value])), None) if value is not None else None
        if tip is None:
            return None
        reader = self.up.reader

        def keep(members: ShaTable) -> None:
            repo_closures(reader).seed((tip,), members)

        return tip, keep

    def _wants_every_ref(self) -> bool:
        """Every ref's object is wanted (a clone, or a fetch into an empty repository)."""
        wanted = {w.hex().encode() for w in self.wants}
        return bool(self.up.refs) and all(v in wanted for v in self.up.refs.values())

    def _enumerate(self) -> ObjectWalk:
        graph = self.up.graph
        walk = ObjectWalk(self.up.reader, graph, max_objects=50_000_000)
        have_commits: list[bytes] = []
        for h in self.haves:
            if h in graph:
                have_commits.append(h)
            else:
                walk.client_has.add(h)
                obj = self.up.reader.get(h)
                if obj is not None and obj[0] == OBJ_TAG:
                    target = self.up.reader.peel(h)
                    if target is not None and target in graph:
                        have_commits.append(target)
        want_commits: list[bytes] = []
        for w in self.wants:
            c = walk.add_object(w)
            if c is not None:
                want_commits.append(c)
        # Walk with the client's view of history: its shallow commits (still shallow after
        # this fetch) and the new shallow boundary have no parents; an unshallowed commit's
        # parents are wanted (git's send_unshallow).
        cut = (self.client_shallow - self.unshallowed) | self.new_shallow
        seeds = list(want_commits)
        for s in self.unshallowed:
            seeds.extend(graph[s][1])
        haves = have_commits + sorted(self.unshallowed)
        commits, boundary = commits_to_send(graph, seeds, haves, cut, self.client_shallow)
        roots = walk.add_boundary(boundary)
        walk.add_commits(commits, roots)
        if b"include-tag" in self.caps:
            walk.include_tags(self._tag_chains())
        return walk

    def _tag_chains(self) -> Iterator[tuple[bytes, list[bytes]]]:
        reader = self.up.reader
        peel = cached_peel(reader)
        for hexsha in self.up.refs.values():
            if peel(hexsha) is None:
                continue
            sha = bytes.fromhex(hexsha.decode("ascii"))
            chain: list[bytes] = []
            cur = sha
            for _ in range(100):
                if reader.type_of(cur) != OBJ_TAG:
                    break  # the tagged object is not inflated (it may be a large blob)
                obj = reader.get(cur)
                assert obj is not None
                cur = tag_target(obj[1])
                chain.append(cur)
            yield sha, chain


def _reachable_from(graph: Graph, tips: list[bytes], targets: set[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    seen: set[bytes] = set()
    stack = list(tips)
    while stack and len(found) < len(targets):
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        if c in targets:
            found.add(c)
        info = graph.get(c)
        if info is not None:
            stack.extend(info[1])
    return found
