"""The SSH door's limits (see ssh_server.server), apart from it so that the composition root
can set them without loading paramiko."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SSHLimits:
    handshake_timeout: float = 20.0  # banner and key exchange
    auth_timeout: float = 20.0  # from connect to authenticated (OpenSSH's LoginGraceTime)
    idle_timeout: float = 600.0  # a session that moves no data for this long is closed
    max_unauthenticated: int = 32
    hello_timeout: float = 5.0  # from accept to the client's version line and key exchange init
    max_connections: int = 512
    max_sessions_per_connection: int = 10
    max_running: int = 128  # commands running at once, all connections together
    max_auth_attempts: int = 20
