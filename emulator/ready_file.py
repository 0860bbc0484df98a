"""`ccemu serve --ready-file`: a file that exists exactly while a ready server runs.

A CI job waits for it (`until [ -f ready.json ]; do sleep 0.1; done`), so it must never be seen
early or half-written: a file left by an earlier run is removed at start, the new one appears
whole (written aside, then renamed over the path) once every listener accepts connections, and
it is removed when the server stops, unless another server has written it since.

Every listener accepts connections by then, the SSH listener included; the SSH door itself
(paramiko) loads in the background from that moment, so a client that connects at once may wait
for its banner the few tens of milliseconds that takes: it is kept waiting, never refused.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path


class ReadyFileError(Exception):
    """A stale ready file that cannot be removed: a waiting job would take it for this run's."""


def clear(path: Path) -> None:
    """Remove what an earlier run left at `path` (it may have been killed before its own exit
    removed it)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ReadyFileError(
            f"cannot remove the ready file {path} left by an earlier run: {exc.strerror}"
        ) from None


def write(path: Path, info: dict[str, str]) -> str:
    """Write `info` as JSON to `path` at once (a reader sees no file or the whole of it);
    returns the text written, for `remove`."""
    text = json.dumps(info, indent=2) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return text


def remove(path: Path, written: str) -> None:
    """Remove the ready file at exit if it is still the one this server wrote."""
    with contextlib.suppress(OSError):
        if path.read_text() == written:
            path.unlink()
