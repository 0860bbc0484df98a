"""The access log (`ccemu serve --access-log PATH`, `-` for stderr): one JSON line per API call
and per git request, over HTTP or SSH.

    {"time": "2025-01-02T03:04:05.678Z", "door": "api", "source": "127.0.0.1",
     "principal": "arn:aws:iam::123456789012:user/alice", "action": "codecommit:GetRepository",
     "resource": ["arn:aws:codecommit:us-east-1:123456789012:demo"], "outcome": "allowed",
     "status": 200, "ms": 3}

Each door opens an entry for its request (`AccessLog.request`) and marks it as a call it serves
(`claim`); what the gate decides is noted by the gate itself (`note_decision`, from
`Authorizer.decide`), so every door and every check inside a request (the per-ref push check,
a customer managed key's permissions) is recorded in one place. The entry travels with the
request in a context variable: starlette's and anyio's worker threads run with a copy of the
request's context, and an SSH session sets it in its own thread.

`outcome` is `allowed`, `denied` (the gate refused: the request, or for a push some of its refs,
listed in `refs`), `unauthenticated` (git without valid credentials) or the error code the
client got; `status` is the HTTP status, or for SSH the exit status of the git command;
`resource` lists the ARNs the gate decided on (those refused, for a denial). No secret is ever
written: principals and resources are ARNs, never keys, passwords, signatures or tokens.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

MAX_RESOURCES = 20  # a listing may decide on many: the line names the first ones and the count

# The entry of the request being served in this context; None outside any logged request
# (background work, a disabled log). A per-request value, not shared state.
_current: ContextVar[AccessEntry | None] = ContextVar("ccemu_access_entry", default=None)


class AccessLogError(Exception):
    """The access log cannot be opened."""


@dataclass(frozen=True)
class Decision:
    action: str
    resource: str
    allowed: bool
    refs: tuple[str, ...] = ()


@dataclass
class AccessEntry:
    source: str | None
    door: str | None = None  # None until a door claims the request as one it serves
    principal: str | None = None
    action: str | None = None
    repository: str | None = None
    error: str | None = None
    status: int | None = None
    decisions: list[Decision] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    written: bool = False

    def outcome(self) -> str:
        if self.error in ("AccessDeniedException", "AccessDenied"):
            return "denied"
        if self.error:
            return self.error
        if self.status is not None and self.status >= 400:
            if self.door == "git-http" and self.status in (401, 403) and not self.principal:
                return "unauthenticated"
            return "error"
        return "denied" if self._denied_refs() else "allowed"

    def _denied_refs(self) -> list[str]:
        return [r for d in self.decisions if not d.allowed for r in d.refs]

    def resources(self) -> list[str]:
        outcome = self.outcome()
        wanted = [d for d in self.decisions if d.allowed == (outcome != "denied")]
        return list(dict.fromkeys(d.resource for d in (wanted or self.decisions)))

    def record(self) -> dict[str, object]:
        when = datetime.fromtimestamp(self.started, UTC)
        resources = self.resources()
        line: dict[str, object] = {
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "door": self.door,
            "source": self.source,
            "principal": self.principal,
            "action": self.action,
            "resource": resources[:MAX_RESOURCES],
            "outcome": self.outcome(),
            "status": self.status,
            "ms": round((time.time() - self.started) * 1000),
        }
        if len(resources) > MAX_RESOURCES:
            line["resources"] = len(resources)
        if self.repository is not None:
            line["repository"] = self.repository
        refs = self._denied_refs()
        if refs:
            line["refs"] = refs
        return line


# -- what doors and the gate note about the current request ---------------------------------


def claim(door: str, *, repository: str | None = None) -> None:
    """Mark the current request as one `door` serves (`api`, `git-http`, `git-ssh`)."""
    entry = _current.get()
    if entry is not None:
        entry.door = door
        if repository is not None:
            entry.repository = repository


def note_principal(arn: str) -> None:
    entry = _current.get()
    if entry is not None:
        entry.principal = arn


def note_action(action: str, *, repository: str | None = None) -> None:
    entry = _current.get()
    if entry is not None:
        entry.action = action
        if repository is not None:
            entry.repository = repository


def note_error(code: str) -> None:
    entry = _current.get()
    if entry is not None and entry.error is None:
        entry.error = code


def note_decision(
    principal: str,
    action: str,
    resource: str,
    allowed: bool,
    context: Mapping[str, str | Sequence[str]] | None = None,
) -> None:
    """What the gate decided (called by `Authorizer.decide`, for every door)."""
    entry = _current.get()
    if entry is None:
        return
    if entry.principal is None:
        entry.principal = principal
    refs = (context or {}).get("codecommit:References", ())
    entry.decisions.append(
        Decision(action, resource, allowed, (refs,) if isinstance(refs, str) else tuple(refs))
    )


# -- the log ------------------------------------------------------------------------------------


class AccessLog:
    """Appends one JSON line per claimed request to a file (created 0600) or stderr."""

    def __init__(self, target: str) -> None:
        self._lock = threading.Lock()
        self._own = target != "-"
        if not self._own:
            self._out: TextIO = sys.stderr
            return
        try:
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AccessLogError(f"cannot open the access log {target}: {exc.strerror}") from None
        self._out = os.fdopen(fd, "a", encoding="utf-8")

    @contextlib.contextmanager
    def request(self, source: str | None) -> Iterator[AccessEntry]:
        """The entry of one request, current in this context; written when done (if not
        before, by `finish`) if a door claimed it."""
        entry = AccessEntry(source)
        token = _current.set(entry)
        try:
            yield entry
        finally:
            _current.reset(token)
            self.finish(entry)

    def finish(self, entry: AccessEntry) -> None:
        """Write the entry's line now, once: a door calls it just before the end of its answer
        reaches the client, so whoever got the answer finds the line already there."""
        if entry.door is None or entry.written:
            return
        entry.written = True
        line = json.dumps(entry.record(), separators=(",", ":")) + "\n"
        with self._lock, contextlib.suppress(OSError, ValueError):
            # A full disk or a closed stderr must not fail the request being served.
            self._out.write(line)
            self._out.flush()

    def close(self) -> None:
        if self._own:
            with self._lock:
                self._out.close()
