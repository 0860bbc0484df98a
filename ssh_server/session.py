"""One exec request on one SSH channel, run in a worker thread (never on paramiko's transport
thread): parse the command, take the principal from the authenticated key id, open the git
session through the core's gate, and connect the service to the channel.

Errors reach git the way a remote command's errors do: a `fatal: …` line on the channel's
stderr (git copies it to the user's terminal) and a non-zero exit status.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from emulator.errors import ServiceError
from emulator.iam.principal import Principal
from emulator.repos.git_session import GitGate
from emulator.repos.output_buffer import Bytes, OutputBuffer
from ssh_server.commands import CommandRefused, parse_command

log = logging.getLogger(__name__)

FATAL = 128  # git's exit status for die()
FLUSH_BYTES = 256 * 1024  # the channel splits into SSH packets; fewer, larger writes are cheaper
FLUSH_SECONDS = 0.5  # ...but let progress lines through while a long pack is computed


@dataclass(frozen=True)
class Caller:
    """What the door knows of the client once it has authenticated."""

    key_id: str
    principal: Callable[[], Principal | None]  # looked up again per command: a key may be gone
    source_ip: str | None


class IdleTimeout(ConnectionAbortedError):
    """The client sent or took nothing for the idle timeout."""


class ChannelPipe:
    """`read(n)` / `write(data)` over a channel's stdin/stdout with an idle timeout.

    Writes are gathered into large chunks; everything written is flushed before the next
    read, so a request/response exchange never waits on output still held back here.
    A failing channel raises a `ConnectionError`, which the git services let through as
    "the client is gone"."""

    def __init__(self, channel: paramiko.Channel, idle_timeout: float) -> None:
        self.channel = channel
        self.idle_timeout = idle_timeout
        channel.settimeout(idle_timeout)
        self._out = OutputBuffer(self._send, FLUSH_BYTES, FLUSH_SECONDS)

    def gone(self) -> bool:
        """Whether the client has hung up (the channel or its connection is closed)."""
        transport = self.channel.get_transport()
        return self.channel.closed or transport is None or not transport.is_active()

    def read(self, size: int) -> bytes:
        self.flush()
        try:
            return self.channel.recv(size)
        except TimeoutError:
            raise IdleTimeout(f"no data for {self.idle_timeout:g} seconds") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionResetError(str(exc)) from None

    def write(self, data: Bytes) -> None:
        self._out.write(data)

    def flush(self) -> None:
        self._out.flush()

    def _send(self, data: bytes) -> None:
        try:
            self.channel.sendall(data)
        except TimeoutError:
            raise IdleTimeout(f"output not read for {self.idle_timeout:g} seconds") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise ConnectionResetError(str(exc) or "channel closed") from None


def finish(channel: paramiko.Channel, status: int, message: str | None = None) -> None:
    """Send `message` on stderr, the exit status, EOF, and close; the client may be gone."""
    try:
        if message:
            channel.sendall_stderr(message.encode("utf-8", "replace") + b"\n")
        channel.send_exit_status(status)
        channel.shutdown_write()
    except (OSError, EOFError, paramiko.SSHException):
        pass
    close(channel)


def close(channel: paramiko.Channel) -> None:
    with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
        channel.close()


def run_exec(
    gate: GitGate,
    channel: paramiko.Channel,
    caller: Caller,
    command: bytes,
    idle_timeout: float,
    before_exit: Callable[[int], None] = lambda status: None,
) -> None:
    """Serve one exec request to its end. Blocking: runs in a worker thread.
    `before_exit(status)` runs before the exit status is sent (the access log)."""
    try:
        status, message = _serve(gate, channel, caller, command, idle_timeout)
    except IdleTimeout as exc:
        log.info("ssh session of %s timed out: %s", caller.key_id, exc)
        status, message = FATAL, f"fatal: {exc}; closing the session"
    except (OSError, EOFError, paramiko.SSHException) as exc:
        # The client went away: nothing left to tell it. A push cut short this way changes
        # no ref, since its pack never completes.
        log.info("ssh session of %s ended: %s", caller.key_id, exc or type(exc).__name__)
        close(channel)
        return
    except Exception:
        log.exception("ssh session of %s failed", caller.key_id)
        status, message = FATAL, "fatal: internal error"
    before_exit(status)
    finish(channel, status, message)


def _serve(
    gate: GitGate,
    channel: paramiko.Channel,
    caller: Caller,
    command: bytes,
    idle_timeout: float,
) -> tuple[int, str | None]:
    try:
        parsed = parse_command(command)
    except CommandRefused as exc:
        return FATAL, f"fatal: {exc}"
    principal = caller.principal()
    if principal is None:
        return FATAL, f"fatal: SSH key {caller.key_id} is no longer active"
    try:
        session = gate.open(
            principal,
            None,  # an SSH key is not bound to a region: the gate authorizes the endpoint's
            parsed.repository,
            parsed.service,
            source_ip=caller.source_ip,
            # SSH is an encrypted transport, as HTTPS is.
            secure=True,
        )
    except ServiceError as exc:
        return FATAL, f"fatal: {exc.message}"
    pipe = ChannelPipe(channel, idle_timeout)
    try:
        session.serve_stateful(pipe.read, pipe.write, pipe.gone)
        pipe.flush()
    except ServiceError as exc:
        return FATAL, f"fatal: {exc.message}"
    return 0, None
