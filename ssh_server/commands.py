"""The exec command grammar. Nothing else runs: there is no shell, and nothing is ever passed to
one. git sends `git-upload-pack '/v1/repos/NAME'` (quoted by git's sq_quote); hand-written
commands may leave out the quotes or the leading slash.

    command = service SP path / service SP "'" path "'"
    service = "git-upload-pack" / "git-receive-pack" / "git-upload-archive"
    path    = ["/"] "v1/repos/" name
    name    = 1*100 (ALPHA / DIGIT / "_" / "." / "-")   ; CodeCommit's names, "-lead" included

Anything else — extra arguments, options such as `--help`, shell syntax (`;`, `|`, backticks,
`$()`), control characters (newline, NUL), more than 4 KiB — is refused with `CommandRefused`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emulator.repos.git_session import RECEIVE_PACK, UPLOAD_ARCHIVE, UPLOAD_PACK

MAX_COMMAND = 4096
SERVICES = (UPLOAD_PACK, RECEIVE_PACK, UPLOAD_ARCHIVE)
# A name may start with "-" (CodeCommit allows it): it is always behind "v1/repos/", so it can
# never be read as an option, and it never reaches an argv or a shell, only the repository
# lookup.
_NAME = r"(?P<name>[A-Za-z0-9_.-]{1,100})"
_PATH = rf"/?v1/repos/{_NAME}"
_COMMAND = re.compile(
    rf"(?P<service>{'|'.join(SERVICES)}) (?:'{_PATH}'|{_PATH.replace('name', 'bare')})"
)
USAGE = (
    "ccemu serves git only: git-upload-pack, git-receive-pack or git-upload-archive"
    " '/v1/repos/NAME'"
)


class CommandRefused(Exception):
    """The command is not one ccemu runs; the message is for the user's terminal."""


@dataclass(frozen=True)
class GitCommand:
    service: str
    repository: str


def parse_command(raw: bytes) -> GitCommand:
    if len(raw) > MAX_COMMAND:
        raise CommandRefused(f"command longer than {MAX_COMMAND} bytes refused; {USAGE}")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise CommandRefused(f"command is not ASCII; {USAGE}") from None
    if not text.isprintable():
        raise CommandRefused(f"command contains control characters; {USAGE}")
    m = _COMMAND.fullmatch(text)
    if m is None:
        service = text.split(" ", 1)[0]
        if service in SERVICES:
            raise CommandRefused(f"invalid arguments to {service}; {USAGE}")
        raise CommandRefused(f"no shell access; {USAGE}")
    name = m.group("name") or m.group("bare")
    if name in (".", ".."):
        raise CommandRefused(f"invalid repository name; {USAGE}")
    return GitCommand(m.group("service"), name)
