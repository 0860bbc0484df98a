"""The SSH listener: accepts connections, runs a paramiko transport for each, and starts a worker
thread per command. Only the composition root (`emulator.server`) builds one.

Limits, each so that one client cannot exhaust the server: a handshake timeout, a deadline to
authenticate, a cap on connections that have not authenticated yet (OpenSSH's MaxStartups), on
all connections, on sessions per connection (MaxSessions) and on commands running at once, an
idle timeout on every session, and a cap on authentication attempts (MaxAuthTries).

Connections that have not authenticated are counted apart from those that have, and past their
cap new connections are not refused (OpenSSH's MaxStartups policy lets anyone who keeps that
many idle TCP connections open, reconnecting as they are dropped, lock every user out: the
stallers reconnect faster than a user retries). They wait in the listen backlog instead and are
taken in arrival order as room is made, so a user waits behind the stallers already queued,
never behind those who come later. Room is made fast: a client must send its version line and
its key exchange init within `hello_timeout` (a real client sends both at once), finish the key
exchange within `handshake_timeout`, and authenticate within `auth_timeout`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import paramiko
from paramiko.common import MSG_CHANNEL_REQUEST

from emulator import access_log
from emulator.core import Emulator
from emulator.iam.principal import Principal
from ssh_server.interface import GitServerInterface
from ssh_server.limits import SSHLimits
from ssh_server.session import Caller, finish, run_exec

__all__ = ["DISABLED_ALGORITHMS", "WINDOW_SIZE", "SSHLimits", "SSHServer"]

log = logging.getLogger(__name__)

# Weak algorithms paramiko still offers; OpenSSH clients have not needed any of them for years.
DISABLED_ALGORITHMS = {
    "ciphers": ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
    "macs": ["hmac-sha1", "hmac-md5", "hmac-sha1-96", "hmac-md5-96"],
}
WINDOW_SIZE = 8 * 1024 * 1024  # per channel: lets a push stream without waiting on acks
_POLL = 0.05


class _Transport(paramiko.Transport):
    """paramiko's transport, running a request's follow-up only once its reply is sent.

    paramiko answers a channel request (exec, shell, ...) after `ServerInterface` returned, on
    the transport thread. Work started from the interface could write output, an exit status
    and a close before that answer; OpenSSH then sees a reply for a closed channel and drops
    the connection. So the interface queues the start in `after_reply`, run here."""

    def __init__(self, sock: socket.socket, **kwargs: Any) -> None:
        super().__init__(sock, **kwargs)
        self.after_reply: dict[int, Callable[[], None]] = {}

    _channel_handler_table: ClassVar[dict[int, Callable[[paramiko.Channel, Any], None]]] = {
        **paramiko.Transport._channel_handler_table,  # type: ignore[attr-defined]
        MSG_CHANNEL_REQUEST: lambda channel, m: _channel_request(channel, m),
    }


def _channel_request(channel: paramiko.Channel, m: paramiko.Message) -> None:
    paramiko.Channel._handle_request(channel, m)  # type: ignore[attr-defined]
    transport = channel.get_transport()
    if isinstance(transport, _Transport):
        start = transport.after_reply.pop(channel.get_id(), None)
        if start is not None:
            start()


@dataclass(eq=False)
class _Pending:
    """A connection that has not authenticated yet."""

    conn: socket.socket
    since: float
    transport: paramiko.Transport | None = None

    def stage(self) -> int:
        """How far the client got: 0 nothing received, 1 its version line, 2 its key exchange
        init, 3 key exchange done (authenticating)."""
        t = self.transport
        if t is None or not t.remote_version:
            return 0
        if t.session_id is not None:
            return 3
        return 2 if getattr(t, "remote_kex_init", None) is not None else 1


class SSHServer:
    def __init__(
        self,
        emu: Emulator,
        sock: socket.socket,
        host_keys: list[paramiko.PKey],
        limits: SSHLimits | None = None,
    ) -> None:
        self.emu = emu
        self.sock = sock
        self.host_keys = host_keys
        self.limits = limits or SSHLimits()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._transports: set[paramiko.Transport] = set()
        self._pending: set[_Pending] = set()
        self._authenticated = 0
        self._room = threading.Condition(self._lock)  # notified when a connection leaves a count
        self._running = threading.BoundedSemaphore(self.limits.max_running)
        self._thread: threading.Thread | None = None

    @property
    def unauthenticated(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name="ssh-accept", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, end every connection, and wait (briefly) for the threads."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            transports = list(self._transports)
        for t in transports:
            t.close()
        deadline = time.monotonic() + 5
        for t in transports:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- connections ------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        self.sock.settimeout(0.25)
        while not self._stop.is_set():
            self._wait_for_room()
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                log.exception("ssh accept failed")
                time.sleep(0.1)
                continue
            entry = _Pending(conn, time.monotonic())
            with self._lock:
                self._pending.add(entry)
            threading.Thread(
                target=self._connection, args=(entry, addr[0]), name="ssh-conn", daemon=True
            ).start()

    def _wait_for_room(self) -> None:
        """Return once a new connection may be taken (or the server stops); until then, new
        connections wait in the listen backlog, in arrival order."""
        with self._room:
            while not self._stop.is_set() and (
                len(self._pending) >= self.limits.max_unauthenticated
                or len(self._pending) + self._authenticated >= self.limits.max_connections
            ):
                self._room.wait(0.25)

    def _connection(self, entry: _Pending, peer: str) -> None:
        conn = entry.conn
        authenticated = False
        transport: paramiko.Transport | None = None
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = _Transport(
                conn,
                default_window_size=WINDOW_SIZE,
                disabled_algorithms=DISABLED_ALGORITHMS,
            )
            transport.local_version = "SSH-2.0-ccemu"
            transport.handshake_timeout = self.limits.handshake_timeout
            transport.banner_timeout = self.limits.hello_timeout
            for key in self.host_keys:
                transport.add_server_key(key)
            with self._lock:
                if self._stop.is_set():
                    return
                entry.transport = transport
                self._transports.add(transport)
            interface = self._interface(transport, peer)
            transport.start_server(event=threading.Event(), server=interface)
            hello = entry.since + self.limits.hello_timeout
            deadline = entry.since + self.limits.auth_timeout
            while transport.is_active() and not transport.is_authenticated():
                now = time.monotonic()
                if now >= deadline or (now >= hello and entry.stage() < 2):
                    break
                time.sleep(_POLL)
            with self._room:
                self._pending.discard(entry)
                authenticated = transport.is_authenticated()
                if authenticated:
                    self._authenticated += 1
                self._room.notify()
            if not authenticated:
                return
            while transport.is_active() and not self._stop.is_set():
                transport.join(timeout=1.0)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            log.debug("ssh connection from %s failed: %s", peer, exc)
        finally:
            with self._room:
                self._pending.discard(entry)
                if authenticated:
                    self._authenticated -= 1
                if transport is not None:
                    self._transports.discard(transport)
                self._room.notify()
            if transport is not None:
                transport.close()
            conn.close()

    def _interface(self, transport: _Transport, peer: str) -> GitServerInterface:
        keys = self.emu.keys

        def principal() -> Principal | None:
            key_id = transport.get_username()
            blob = interface.accepted.get(key_id or "")
            if not transport.is_authenticated() or key_id is None or blob is None:
                return None
            return keys.ssh_principal(key_id, blob)

        def start_exec(channel: paramiko.Channel, command: bytes) -> None:
            caller = Caller(transport.get_username() or "", principal, peer)
            transport.after_reply[channel.get_id()] = lambda: self._start(
                channel,
                lambda: self._exec(channel, caller, command),
            )

        def refuse(channel: paramiko.Channel, message: str) -> None:
            transport.after_reply[channel.get_id()] = lambda: self._start(
                channel, lambda: finish(channel, 1, message)
            )

        interface = GitServerInterface(
            transport,
            keys.ssh_principal,
            start_exec,
            refuse,
            max_auth_attempts=self.limits.max_auth_attempts,
            max_sessions=self.limits.max_sessions_per_connection,
        )
        return interface

    def _exec(self, channel: paramiko.Channel, caller: Caller, command: bytes) -> None:
        """One git command, recorded in the access log (if any) with its exit status."""
        log = self.emu.access_log
        if log is None:
            run_exec(self.emu.git, channel, caller, command, self.limits.idle_timeout)
            return
        with log.request(caller.source_ip) as entry:
            access_log.claim("git-ssh")

            def before_exit(status: int) -> None:
                entry.status = status
                log.finish(entry)

            run_exec(self.emu.git, channel, caller, command, self.limits.idle_timeout, before_exit)

    def _start(self, channel: paramiko.Channel, job: Callable[[], None]) -> None:
        """Run `job` in a worker thread, off the transport thread."""
        if not self._running.acquire(blocking=False):
            threading.Thread(
                target=finish,
                args=(channel, 1, "fatal: too many git sessions at once; try again later"),
                daemon=True,
            ).start()
            return

        def work() -> None:
            try:
                job()
            finally:
                self._running.release()

        threading.Thread(target=work, name="ssh-session", daemon=True).start()
