"""The access log's entry for every HTTP request (API and git alike): an ASGI middleware that
opens the entry, records the status the client got, and writes the line as the last of the
response goes out (a git response streams: its outcome, a refused ref included, is known only
then), so a client that has its answer finds the line written."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.access_log import AccessLog


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp, log: AccessLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        with self.log.request(client[0] if client else None) as entry:

            async def record(message: Message) -> None:
                if message["type"] == "http.response.start":
                    entry.status = int(message["status"])
                    for key, value in message.get("headers", []):
                        if key.lower() == b"x-amzn-errortype":  # the API's error code
                            entry.error = entry.error or value.decode("latin-1").split(":")[0]
                elif message["type"] == "http.response.body" and not message.get("more_body"):
                    self.log.finish(entry)  # before the client has the whole answer
                await send(message)

            await self.app(scope, receive, record)
