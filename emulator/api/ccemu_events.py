"""ccemu's own event endpoints (not AWS APIs), under `/_ccemu`:

- `GET /_ccemu/events?repository=NAME&since=TIME`: events with their deliveries and attempts
  (`since`: epoch seconds or ISO 8601);
- `POST|GET /_ccemu/events/wait?timeout=SECONDS`: returns once no delivery is pending, or when the
  timeout passes (`"idle": false`), so a test can assert on what was sent;
- `GET /_ccemu/events/dead`: the dead-letter list; `POST /_ccemu/events/{id}/redeliver` puts a
  dead delivery (its number) or every finished delivery of an event (its id) back in the queue;
- `GET|POST /_ccemu/webhooks`, `DELETE /_ccemu/webhooks/{id}`: EventBridge-style webhook URLs;
- `GET /_ccemu/sns/...pem`: the certificate SNS messages are signed with;
- `GET /?Action=ConfirmSubscription&TopicArn=...&Token=...` and `GET /?Action=Unsubscribe&
  SubscriptionArn=...`: the SubscribeURL and UnsubscribeURL of SNS messages, unsigned as on AWS.

Like `/_ccemu/health`, these need no credentials: ccemu binds loopback unless told otherwise.
But every web page the user opens can make the browser POST to 127.0.0.1 without asking first
(a form, or `fetch` in `no-cors` mode): a page that added a webhook would receive every event
after it. So the POSTs that change something refuse a request that carries `Origin` (browsers
name the page there), and adding a webhook wants `Content-Type: application/json`, which a page
cannot send cross-origin without a CORS preflight that ccemu never approves.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from emulator.core import Emulator
from emulator.errors import ServiceError
from emulator.events.outbox import Attempt, Delivery, EventLog
from emulator.events.sns_signing import CERT_PATH

MAX_WAIT = 300.0


def _time(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def _body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        try:
            return raw.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode()}


def _attempt(a: Attempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "time": _time(a.started),
        "durationMs": round(a.duration * 1000, 3),
        "status": a.status,
        "error": a.error,
    }


def delivery_json(d: Delivery, attempts: list[Attempt] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "eventId": d.event_id,
        "kind": d.kind,
        "source": d.source,
        "destination": d.destination,
        "url": d.url,
        "messageId": d.message_id,
        "state": d.state,
        "attemptCount": d.attempts,
        "nextAttempt": _time(d.next_attempt) if d.state == "pending" else None,
        "created": _time(d.created),
        "finished": _time(d.finished),
        "headers": dict(d.headers),
        "body": _body(d.body),
    }
    if attempts is not None:
        out["attempts"] = [_attempt(a) for a in attempts]
    return out


def _log_json(entry: EventLog) -> dict[str, Any]:
    e = entry.event
    return {
        "id": e.id,
        "kind": e.kind,
        "account": e.account,
        "region": e.region,
        "repository": e.repository,
        "actor": e.actor,
        "time": _time(e.created),
        "detail": e.detail,
        "deliveries": [delivery_json(d, list(a)) for d, a in entry.deliveries],
    }


def _since(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


def _cross_site(request: Request, *, json_body: bool) -> Response | None:
    """The refusal of a state-changing request a web page could have sent, or None."""
    if "origin" in request.headers:
        return JSONResponse(
            {"error": "refused: a request from a web page (it carries Origin)"}, status_code=403
        )
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if json_body and kind != "application/json":
        return JSONResponse({"error": "expected Content-Type: application/json"}, status_code=415)
    return None


def routes(emu: Emulator) -> list[BaseRoute]:
    events = emu.events

    async def list_events(request: Request) -> Response:
        try:
            since = _since(request.query_params.get("since"))
        except ValueError:
            return _bad("since must be epoch seconds or an ISO 8601 time")
        logs = await run_in_threadpool(
            events.outbox.log, repository=request.query_params.get("repository"), since=since
        )
        return JSONResponse({"events": [_log_json(e) for e in logs]})

    async def wait(request: Request) -> Response:
        try:
            timeout = float(request.query_params.get("timeout", "30"))
        except ValueError:
            return _bad("timeout must be a number of seconds")
        timeout = max(0.0, min(timeout, MAX_WAIT))
        idle = await run_in_threadpool(events.outbox.wait_idle, timeout)
        pending = await run_in_threadpool(events.outbox.pending_count)
        return JSONResponse({"idle": idle, "pending": pending, "timedOut": not idle})

    async def dead(request: Request) -> Response:
        found = await run_in_threadpool(events.outbox.dead_letters)
        return JSONResponse({"deliveries": [delivery_json(d) for d in found]})

    async def redeliver(request: Request) -> Response:
        if (refused := _cross_site(request, json_body=False)) is not None:
            return refused
        ident = str(request.path_params["ident"])
        count = await run_in_threadpool(events.outbox.redeliver, ident)
        if count == 0:
            return JSONResponse({"error": f"nothing to redeliver for {ident}"}, status_code=404)
        return JSONResponse({"redelivering": count})

    async def webhooks(request: Request) -> Response:
        if request.method == "POST":
            if (refused := _cross_site(request, json_body=True)) is not None:
                return refused
            try:
                doc = json.loads(await request.body())
                url = doc["url"]
                if not isinstance(url, str):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return _bad('expected a JSON body {"url": "http://..."}')
            try:
                hook = await run_in_threadpool(events.webhooks.add, url)
            except ValueError as exc:
                return _bad(str(exc))
            return JSONResponse({"id": hook.id, "url": hook.url}, status_code=201)
        hooks = await run_in_threadpool(events.webhooks.all)
        return JSONResponse(
            {"webhooks": [{"id": h.id, "url": h.url, "created": _time(h.created)} for h in hooks]}
        )

    async def delete_webhook(request: Request) -> Response:
        removed = await run_in_threadpool(events.webhooks.remove, request.path_params["ident"])
        return Response(status_code=204 if removed else 404)

    async def cert(request: Request) -> Response:
        return Response(events.signer.cert_pem, media_type="application/x-pem-file")

    return [
        Route("/_ccemu/events", list_events, methods=["GET"]),
        Route("/_ccemu/events/wait", wait, methods=["GET", "POST"]),
        Route("/_ccemu/events/dead", dead, methods=["GET"]),
        Route("/_ccemu/events/{ident}/redeliver", redeliver, methods=["POST"]),
        Route("/_ccemu/webhooks", webhooks, methods=["GET", "POST"]),
        Route("/_ccemu/webhooks/{ident}", delete_webhook, methods=["DELETE"]),
        Route(CERT_PATH, cert, methods=["GET"]),
    ]


SNS_NS = "http://sns.amazonaws.com/doc/2010-03-31/"


def _xml(op: str, result: str, status: int = 200) -> Response:
    body = (
        f'<{op}Response xmlns="{SNS_NS}"><{op}Result>{result}</{op}Result>'
        f"<ResponseMetadata><RequestId>ccemu</RequestId></ResponseMetadata></{op}Response>"
    )
    return Response(body, status_code=status, media_type="text/xml")


def _xml_error(code: str, message: str, status: int) -> Response:
    from xml.sax.saxutils import escape

    body = (
        f'<ErrorResponse xmlns="{SNS_NS}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>ccemu</RequestId></ErrorResponse>"
    )
    return Response(body, status_code=status, media_type="text/xml")


async def sns_link(emu: Emulator, request: Request) -> Response:
    """`GET /?Action=...`: the SubscribeURL and UnsubscribeURL that SNS messages carry."""
    from xml.sax.saxutils import escape

    params = request.query_params
    action = params.get("Action")
    try:
        if action == "ConfirmSubscription":
            sub = await run_in_threadpool(
                emu.events.sns.confirm, params.get("TopicArn", ""), params.get("Token", "")
            )
            arn = f"<SubscriptionArn>{escape(sub.arn)}</SubscriptionArn>"
            return _xml("ConfirmSubscription", arn)
        if action == "Unsubscribe":
            await run_in_threadpool(emu.events.sns.unsubscribe, params.get("SubscriptionArn", ""))
            return _xml("Unsubscribe", "")
    except ServiceError as exc:
        return _xml_error(exc.code, exc.message, exc.status)
    return _xml_error("InvalidAction", "GET / serves ConfirmSubscription and Unsubscribe", 400)
