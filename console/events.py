"""The Events page: what `/_ccemu/events` knows, for the signed-in principal's account.

Each event (newest first) with its deliveries and their attempts, and the dead letters with a
Redeliver button. Events are ccemu's own, not an AWS API, so there is no AWS operation to run:
the page asks the one gate (`Authorizer.authorize`) for two ccemu actions on the account's
event log, `arn:aws:ccemu:REGION:ACCOUNT:events`:

- `ccemu:ListEvents` to see the page;
- `ccemu:RedeliverEvent` to put a dead delivery back in the queue.

The account's root user is allowed both, as it is every action in its account; an IAM user or
a role session needs a policy that allows them (`"Action": "ccemu:*"`, or `"*"` as
AdministratorAccess has), and a refusal is the denial page naming the action and statement.
Only the account's own events and dead letters are shown or redelivered. (`/_ccemu/events`
itself answers anyone who can reach the loopback port, as `/_ccemu/health` does; the console
is a door for people who sign in, so it asks.)
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.sessions import Session
from emulator.events.outbox import Attempt, Delivery
from emulator.iam.authorize import AccessDenied

if TYPE_CHECKING:
    from console.app import Console

LIST = "ccemu:ListEvents"
REDELIVER = "ccemu:RedeliverEvent"
SHOWN = 100  # events on the page
MAX_BODY = 4000  # characters of a delivery's body shown


def _time(when: datetime | None) -> str:
    return "" if when is None else when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _body(raw: bytes) -> str:
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return f"({len(raw)} bytes, not text)"
    try:
        text = json.dumps(json.loads(text), indent=2)
    except ValueError:
        pass
    return text if len(text) <= MAX_BODY else text[:MAX_BODY] + "\n…"


def _attempt(a: Attempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "time": _time(a.started),
        "ms": round(a.duration * 1000, 1),
        "status": a.status,
        "error": a.error,
    }


def _delivery(d: Delivery, attempts: list[Attempt] | None = None) -> dict[str, Any]:
    return {
        "id": d.id,
        "event": d.event_id,
        "kind": d.kind,
        "source": d.source,
        "destination": d.destination,
        "url": d.url,
        "state": d.state,
        "count": d.attempts,
        "next": _time(d.next_attempt) if d.state == "pending" else "",
        "created": _time(d.created),
        "finished": _time(d.finished),
        "body": _body(d.body),
        "attempts": [_attempt(a) for a in attempts or []],
    }


class EventPages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.emu = console.emu

    def routes(self) -> list[Route]:
        page = self.console.page
        return [
            Route("/events", page(self.events), methods=["GET"]),
            Route("/events/redeliver", page(self.redeliver), methods=["POST"]),
        ]

    def _authorize(self, request: Request, session: Session, action: str) -> None:
        from console.app import Denied

        p = session.principal
        resource = f"arn:aws:ccemu:{self.emu.config.region}:{p.account}:events"
        try:
            self.emu.authorizer.authorize(
                p,
                action,
                resource,
                source_ip=request.client.host if request.client else None,
                secure_transport=request.url.scheme == "https",
            )
        except AccessDenied as exc:
            raise Denied.of(exc) or exc from None

    async def events(
        self, request: Request, session: Session, status: int = 200, error: str = ""
    ) -> Response:
        self._authorize(request, session, LIST)
        account = session.principal.account
        repository = request.query_params.get("repository", "").strip()[:100] or None
        outbox = self.emu.events.outbox
        logs = await run_in_threadpool(
            outbox.log, repository=repository, limit=SHOWN, account=account
        )
        dead = await run_in_threadpool(outbox.dead_letters, SHOWN, account)
        events = [
            {
                "id": e.event.id,
                "kind": e.event.kind,
                "region": e.event.region,
                "repository": e.event.repository,
                "actor": e.event.actor,
                "time": _time(e.event.created),
                "deliveries": [_delivery(d, list(a)) for d, a in e.deliveries],
            }
            for e in reversed(logs)
        ]
        notices = list(session.notes)
        session.notes.clear()
        return self.console.render(
            request,
            "events.html",
            status,
            session,
            events=events,
            dead=[_delivery(d) for d in dead],
            repository=repository or "",
            notices=notices,
            error=error,
        )

    async def redeliver(self, request: Request, session: Session) -> Response:
        from console.app import _redirect

        self._authorize(request, session, REDELIVER)
        ident = request.state.form.get("delivery", "")
        outbox = self.emu.events.outbox
        account = session.principal.account
        dead = await run_in_threadpool(outbox.dead_letters, 1000, account)
        if not ident.isdigit() or int(ident) not in {d.id for d in dead}:
            error = f"No dead letter {ident[:20]} in account {account}."
            return await self.events(request, session, 404, error)
        await run_in_threadpool(outbox.redeliver, ident)
        session.notes.append(f"Delivery {ident} is queued again.")
        del session.notes[:-5]
        return _redirect(request, "/events")
