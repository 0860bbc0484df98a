"""paramiko's `ServerInterface` for one connection: who may sign in, and which requests pass.

Everything here runs on paramiko's transport thread and must return at once: the only blocking
call is the SQLite lookup of a key id. Work starts in a worker thread (`start_exec`).

Authentication is public key only. paramiko calls `check_auth_publickey` both for a key the
client merely offers (no signature yet) and again once the signature checked out, so it only
answers yes/no; the principal is looked up from `transport.get_username()` when a command runs.

Requests:
- `session` channels after authentication, at most `max_sessions` at once; every other channel
  type (port forwarding, agent, X11) and every request before authentication is refused.
- `exec` runs the git command grammar (`ssh_server.commands`) in a worker thread.
- `shell` and `subsystem` (sftp) are answered with a message on stderr and exit status 1, so the
  user sees why (CodeCommit prints that interactive shells are not supported).
- `pty-req`, `env` (including git's `GIT_PROTOCOL`: the v0 protocol is served), `x11-req`,
  `auth-agent-req`, `window-change`, `tcpip-forward` and other global requests are refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_FAILED_RESOURCE_SHORTAGE,
    OPEN_SUCCEEDED,
)

from emulator.iam.principal import Principal

# (key id, public key blob) -> the principal, or None
KeyCheck = Callable[[str, bytes], Principal | None]
StartExec = Callable[[paramiko.Channel, bytes], None]
Refuse = Callable[[paramiko.Channel, str], None]

MAX_KEY_ID = 128


class GitServerInterface(paramiko.ServerInterface):
    def __init__(
        self,
        transport: paramiko.Transport,
        check_key: KeyCheck,
        start_exec: StartExec,
        refuse: Refuse,
        *,
        max_auth_attempts: int,
        max_sessions: int,
    ) -> None:
        self.transport = transport
        self._check_key = check_key
        self._start_exec = start_exec
        self._refuse = refuse
        self._max_auth_attempts = max_auth_attempts
        self._max_sessions = max_sessions
        self._attempts = 0
        self._lock = threading.Lock()
        # Open session channels; None until the channel runs (or is refused) its one command.
        # A channel that never asks for one counts until the connection ends.
        self._channels: dict[int, paramiko.Channel | None] = {}
        # The key each key id was accepted with: a key id has exactly one key, so this is the
        # key the client signed with once authentication completes.
        self.accepted: dict[str, bytes] = {}

    # -- authentication ---------------------------------------------------------------------

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        return AUTH_FAILED

    def check_auth_interactive(self, username: str, submethods: str) -> int:
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self._attempts += 1
        if self._attempts > self._max_auth_attempts or not 0 < len(username) <= MAX_KEY_ID:
            return AUTH_FAILED
        blob = key.asbytes()
        if self._check_key(username, blob) is None:
            return AUTH_FAILED
        self.accepted[username] = blob
        return AUTH_SUCCESSFUL

    def check_auth_gssapi_with_mic(
        self, username: str, gss_authenticated: int = AUTH_FAILED, cc_file: str | None = None
    ) -> int:
        return AUTH_FAILED

    def check_auth_gssapi_keyex(
        self, username: str, gss_authenticated: int = AUTH_FAILED, cc_file: str | None = None
    ) -> int:
        return AUTH_FAILED

    # -- channels ---------------------------------------------------------------------------

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if not self.transport.is_authenticated() or kind != "session":
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        with self._lock:
            self._channels = {i: c for i, c in self._channels.items() if c is None or not c.closed}
            if len(self._channels) >= self._max_sessions:
                return OPEN_FAILED_RESOURCE_SHORTAGE
            self._channels[chanid] = None
        return OPEN_SUCCEEDED

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: tuple[str, int], destination: tuple[str, int]
    ) -> int:
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_port_forward_request(self, address: str, port: int) -> int | bool:
        return False

    def check_global_request(self, kind: str, msg: paramiko.Message) -> bool:
        return False

    def _first_command(self, channel: paramiko.Channel) -> bool:
        """True once per channel, and only for a signed-in client: a channel runs one command."""
        if not self.transport.is_authenticated():
            return False
        with self._lock:
            if self._channels.get(channel.get_id(), channel) is not None:
                return False
            self._channels[channel.get_id()] = channel
        return True

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if not self._first_command(channel):
            return False
        self._start_exec(channel, command)
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        if not self._first_command(channel):
            return False
        self._refuse(
            channel,
            "You have successfully authenticated over SSH. You can use git to interact with"
            " ccemu. Interactive shells are not supported.",
        )
        return True

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if not self._first_command(channel):
            return False
        self._refuse(
            channel,
            f"fatal: subsystem '{name[:40]}' is not supported; ccemu serves git only",
        )
        return True

    def check_channel_pty_request(
        self,
        channel: paramiko.Channel,
        term: bytes,
        width: int,
        height: int,
        pixelwidth: int,
        pixelheight: int,
        modes: bytes,
    ) -> bool:
        return False

    def check_channel_env_request(
        self, channel: paramiko.Channel, name: bytes, value: bytes
    ) -> bool:
        return False

    def check_channel_x11_request(
        self,
        channel: paramiko.Channel,
        single_connection: bool,
        auth_protocol: str,
        auth_cookie: bytes,
        screen_number: int,
    ) -> bool:
        return False

    def check_channel_forward_agent_request(self, channel: paramiko.Channel) -> bool:
        return False

    def check_channel_window_change_request(
        self,
        channel: paramiko.Channel,
        width: int,
        height: int,
        pixelwidth: int,
        pixelheight: int,
    ) -> bool:
        return False
