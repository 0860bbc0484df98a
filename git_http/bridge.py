"""Run a blocking git service in a worker thread and stream both ways through ASGI.

The worker gets two callables: `read(n)` returns 1..n bytes of the request body (inflated if it
arrived gzip-encoded; b"" at the end) and `write(data)` queues response bytes. Writes are
coalesced into large chunks before they cross to the event loop, and a bounded queue makes a
slow client slow the worker down instead of filling memory.

The response status is decided lazily: if the worker fails with `GitHttpError` before it wrote
anything, the client gets that status and message (git prints it); once bytes have gone out the
status is 200 and errors must be reported in-band by the service itself.

Neither side may stall a worker forever: a request body that sends nothing for `stall_timeout`
seconds is abandoned (408 if nothing was answered yet; whatever was read is dropped, as for a
client that hung up), and so is a client that reads nothing of the answer for as long; the
connection is then closed.

starlette's `StreamingResponse` is not used: under ASGI spec 2.3 (uvicorn) it listens for
`http.disconnect` by calling `receive()` concurrently, which would steal request-body messages
from the worker.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.abc import ObjectReceiveStream, ObjectSendStream, TaskGroup
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from emulator.errors import INTERNAL_ERROR, ClientStreamError
from emulator.repos.output_buffer import OutputBuffer, Write

log = logging.getLogger(__name__)

Read = Callable[[int], bytes]
Job = Callable[[Read, Write], None]

FLUSH_BYTES = 128 * 1024  # crossing to the event loop costs; send big chunks
FLUSH_SECONDS = 0.5  # ...but let progress through while a long pack is computed
QUEUE_DEPTH = 8
DRAIN_LIMIT = 64 * 1024 * 1024  # unread request body we swallow so the client sees our answer


class GitHttpError(ClientStreamError):
    """A request the door refuses with an HTTP status (only possible before any output)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BodyTooLarge(GitHttpError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


class BodyStalled(GitHttpError, ConnectionError):
    """The client sent nothing of its request body for too long. A `ConnectionError` too: the
    git services treat it as a client that is gone, not as a fault of theirs."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"request body timed out: nothing received for {seconds:g} seconds")


@dataclass(frozen=True)
class _Failure:
    status: int
    message: str

    @property
    def body(self) -> bytes:
        return (self.message + "\n").encode()


class BodyReader:
    """Blocking, size-capped reads of the request body from a worker thread."""

    def __init__(self, next_chunk: Callable[[], bytes | None], *, gzip: bool, limit: int) -> None:
        self._next_chunk = next_chunk
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._compressed = b""
        self._buf = b""
        self._eof = False
        self._limit = limit
        self.total = 0

    def _fill(self, want: int) -> None:
        while not self._buf and not self._eof:
            if self._inflater is None:
                chunk = self._next_chunk()
                if chunk is None:
                    self._eof = True
                    return
                self._add(chunk)
                continue
            if not self._compressed:
                if self._inflater.eof:
                    self._eof = True
                    return
                chunk = self._next_chunk()
                if chunk is None:
                    if not self._inflater.eof:
                        raise GitHttpError(400, "truncated gzip request body")
                    self._eof = True
                    return
                self._compressed = chunk
            # Inflate in bounded steps so a small, highly compressed body cannot expand into
            # memory all at once; the cap applies to the inflated size.
            try:
                out = self._inflater.decompress(self._compressed, max(want, 65536))
            except zlib.error as exc:
                raise GitHttpError(400, f"invalid gzip request body: {exc}") from None
            self._compressed = self._inflater.unconsumed_tail
            if self._inflater.eof:
                self._compressed = b""
            self._add(out)

    def _add(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self._limit:
            raise BodyTooLarge(self._limit)
        self._buf += data

    def read(self, size: int) -> bytes:
        """Return between 1 and `size` bytes, or b"" at the end of the body."""
        self._fill(size)
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def drain(self, limit: int) -> None:
        """Swallow what is left of the body (up to `limit` bytes) so the client, which may still
        be sending, reads our answer instead of failing on a reset connection."""
        swallowed = 0
        self._limit = self.total + limit
        try:
            while swallowed < limit:
                self._buf = b""
                self._fill(65536)
                if not self._buf:
                    return
                swallowed += len(self._buf)
        except (GitHttpError, ConnectionError):
            return


class GitStreamResponse(Response):
    """Runs `job(read, write)` in a worker thread and streams what it writes."""

    def __init__(
        self,
        job: Job,
        *,
        media_type: str,
        body: bool = False,
        gzip: bool = False,
        limit: int = 0,
        drain: bool = False,
        workers: anyio.CapacityLimiter,
        stall_timeout: float,
        on_close: Callable[[], None] | None = None,
        hangup: threading.Event | None = None,
    ) -> None:
        super().__init__(content=None, status_code=200, media_type=media_type)
        self.headers["Cache-Control"] = "no-cache, max-age=0, must-revalidate"
        self.headers["Pragma"] = "no-cache"
        self.headers["Expires"] = "Fri, 01 Jan 1980 00:00:00 GMT"
        del self.headers["content-length"]
        self._job = job
        self._body = body
        self._gzip = gzip
        self._limit = limit
        self._drain = drain
        self._workers = workers
        self._stall_timeout = stall_timeout
        self._on_close = on_close
        self._stalled = False
        # Set once the client has hung up; the job may poll it (`hangup.is_set`) to stop work
        # no one will receive. Known once the body is read: uvicorn then has nothing left for
        # `receive()` but the disconnect.
        self.hangup = hangup if hangup is not None else threading.Event()
        self._receive: Receive | None = None
        self._watch = anyio.CancelScope()
        self._task_group: TaskGroup | None = None

    async def _next_body_chunk(self) -> bytes | None:
        """The next chunk of the request body, read from the ASGI messages themselves (not
        starlette's `request.stream()`, which hides when the body ends)."""
        if not self._body or self._stalled or self._receive is None:
            return None
        while True:
            try:
                with anyio.fail_after(self._stall_timeout):
                    message = await self._receive()
            except TimeoutError:
                # Nothing more is read: the drain after our answer must not wait again.
                self._stalled = True
                raise BodyStalled(self._stall_timeout) from None
            if message["type"] == "http.disconnect":
                self._body = False
                self.hangup.set()
                raise ConnectionResetError("the client hung up while sending its request")
            if not message.get("more_body", False):
                self._body = False
                self._watch_hangup()  # nothing is left to receive but the disconnect
                return message.get("body", b"") or None
            if message.get("body"):
                return bytes(message["body"])

    def _watch_hangup(self) -> None:
        if self._task_group is not None and self._receive is not None:
            self._task_group.start_soon(self._wait_for_disconnect, self._receive)

    async def _wait_for_disconnect(self, receive: Receive) -> None:
        with self._watch:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.hangup.set()

    async def _send_out(self, out: ObjectSendStream[bytes | _Failure], data: bytes) -> None:
        if self.hangup.is_set():
            raise anyio.BrokenResourceError  # nobody reads it: stop the worker
        try:
            with anyio.fail_after(self._stall_timeout):
                await out.send(data)
        except TimeoutError:
            # The client reads nothing: give the worker back, as for a client that hung up.
            raise anyio.BrokenResourceError from None

    def _run(self, out: ObjectSendStream[bytes | _Failure]) -> None:
        def emit(data: bytes) -> None:
            anyio.from_thread.run(self._send_out, out, data)

        def next_chunk() -> bytes | None:
            return anyio.from_thread.run(self._next_body_chunk)

        writer = OutputBuffer(emit, FLUSH_BYTES, FLUSH_SECONDS)
        reader = BodyReader(next_chunk, gzip=self._gzip, limit=self._limit)
        try:
            self._job(reader.read, writer.write)
            writer.flush()
            if self._drain:
                reader.drain(DRAIN_LIMIT)
        except GitHttpError as exc:
            if writer.started:
                log.warning("git request failed after output: %s", exc.message)
                return
            writer.discard()
            if self._drain:
                reader.drain(DRAIN_LIMIT)
            anyio.from_thread.run(out.send, _Failure(exc.status, exc.message))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
            return  # the client went away
        except Exception:
            # A fault of ours: the log has the traceback; the client learns no more than that
            # (an exception's text may name the data dir's paths).
            if writer.started:
                log.exception("git request failed after output")
                return
            log.exception("git request failed")
            writer.discard()
            anyio.from_thread.run(out.send, _Failure(500, INTERNAL_ERROR))

    async def _work(self, out: ObjectSendStream[bytes | _Failure]) -> None:
        async with out:
            try:
                await anyio.to_thread.run_sync(self._run, out, limiter=self._workers)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            self._receive = receive
            await self._respond(send)
        finally:
            if self._on_close is not None:
                self._on_close()  # the worker is done: its slot is free

    async def _respond(self, send: Send) -> None:
        async def send_in_time(message: Message) -> None:
            with anyio.fail_after(self._stall_timeout):
                await send(message)

        out, inbox = anyio.create_memory_object_stream[bytes | _Failure](QUEUE_DEPTH)
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            tg.start_soon(self._work, out)
            try:
                await self._answer(inbox, send_in_time)
            finally:
                self._watch.cancel()  # the answer is over; the connection may carry more

    async def _answer(
        self,
        inbox: ObjectReceiveStream[bytes | _Failure],
        send_in_time: Callable[[Message], Awaitable[None]],
    ) -> None:
        async with inbox:
            first: bytes | _Failure = b""
            async for item in inbox:
                first = item
                break
            try:
                if isinstance(first, _Failure):
                    await send_in_time(self._failure(first))
                    await send_in_time({"type": "http.response.body", "body": first.body})
                    return
                await send_in_time(
                    {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                )
                if first:
                    await send_in_time(
                        {"type": "http.response.body", "body": first, "more_body": True}
                    )
                async for item in inbox:
                    if isinstance(item, bytes):
                        await send_in_time(
                            {"type": "http.response.body", "body": item, "more_body": True}
                        )
                await send_in_time({"type": "http.response.body", "body": b""})
            except TimeoutError:
                # Leaving the answer unfinished makes the server close the connection;
                # closing the inbox stops the worker at its next write.
                log.warning("git client read nothing for %g seconds; closing", self._stall_timeout)

    @staticmethod
    def _failure(failure: _Failure) -> Message:
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(failure.body)).encode()),
            (b"cache-control", b"no-cache"),
        ]
        if failure.status == 408:
            # The rest of the body is not read: the connection cannot carry another request.
            headers.append((b"connection", b"close"))
        return {"type": "http.response.start", "status": failure.status, "headers": headers}
