"""git-upload-pack for the HTTP door: the stateless-RPC halves of the conversation."""

from __future__ import annotations

from collections.abc import Callable

from emulator.repos.git_session import GitSession
from emulator.repos.output_buffer import Write


def serve_upload_pack(
    session: GitSession,
    read: Callable[[int], bytes],
    write: Write,
    *,
    advertise: bool,
) -> None:
    """Write the v0 ref advertisement (`advertise`) or answer one stateless upload-pack
    request read from `read`. Blocking."""
    if advertise:
        for frame in session.upload_pack().advertisement(session.head):
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

    session.upload_pack().serve(guarded_read, write, stateless=True)
    if body_errors:
        raise body_errors[0]
