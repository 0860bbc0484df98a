"""A real HTTP receiver on 127.0.0.1 for event delivery tests: records every request and can be
told to answer an error status, or to go away (connection refused) and come back on its port.
`on_post`, when set, is called with each request it records before it answers (what a pipeline
does on an event); what that call raises is kept in `errors`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.refused: list[Received] = []  # answered with an error status
        self.status = 200
        self.on_post: Callable[[Received], None] | None = None
        self.errors: list[BaseException] = []
        self.lock = threading.RLock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    status = receiver.status
                    (receiver.requests if status < 300 else receiver.refused).append(got)
                    react = receiver.on_post if status < 300 else None
                if react is not None:
                    try:
                        react(got)
                    except Exception as exc:  # the test asserts on it
                        with receiver.lock:
                            receiver.errors.append(exc)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Go away: connections are refused until `start` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(
        self, count: int, timeout: float = 10.0, where: Callable[[Received], bool] | None = None
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = [r for r in self.requests if where is None or where(r)]
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(got)}: {got}")

    def notifications(self) -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.headers.get("x-amz-sns-message-type") == "Notification"
            ]


def wait_idle(url: str, timeout: float = 30.0) -> dict[str, Any]:
    import urllib.request

    req = urllib.request.Request(f"{url}/_ccemu/events/wait?timeout={timeout}", method="POST")
    with urllib.request.urlopen(req, timeout=timeout + 10) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def get_json(url: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def post_json(url: str, doc: object) -> Any:
    import urllib.request

    req = urllib.request.Request(
        url, data=json.dumps(doc).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())
