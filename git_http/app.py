"""Smart-HTTP git under /v1/repos/{name}, the path CodeCommit uses.

    GET  /v1/repos/{name}/info/refs?service=git-upload-pack|git-receive-pack
    POST /v1/repos/{name}/git-upload-pack
    POST /v1/repos/{name}/git-receive-pack

The door authenticates (a SigV4-signed git password or a git credential), opens the session
through the core's gate (authorization for the region the caller addressed, then the
repository), and hands the streams to the git service in a worker thread. Dumb HTTP is not served.

Each git request holds one of `max_git_workers` threads, and one principal at most
`max_git_per_principal` of them (else 429), so that no single caller can stop git for everyone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from emulator import access_log
from emulator.core import Emulator
from emulator.errors import ClientError
from emulator.iam.authorize import AccessDenied
from emulator.iam.git_password import (
    host_candidates,
    parse_basic_authorization,
    verify_git_password,
)
from emulator.iam.principal import Principal
from emulator.repos.git_session import RECEIVE_PACK, UPLOAD_PACK, GitSession
from emulator.repos.output_buffer import Write
from git_http.bridge import GitStreamResponse, Job, Read
from git_http.slots import PrincipalSlots
from git_http.upload import serve_upload_pack

_SERVICES = (UPLOAD_PACK, RECEIVE_PACK)
REALM = 'Basic realm="ccemu"'
_GIT_CREDENTIAL_USER = re.compile(r"[\w+=,.@-]{1,64}-at-\d{12}")


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(
        message + "\n", status_code=status, headers={"Cache-Control": "no-cache", **(headers or {})}
    )


def _pkt(data: bytes | None) -> bytes:
    return b"0000" if data is None else f"{len(data) + 4:04x}".encode() + data


class GitDoor:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        limits = emu.config.limits
        # Git workers block on the client for as long as a transfer takes; they have their own
        # pool so that they cannot starve other blocking work (SQLite reads of the API).
        self.workers = anyio.CapacityLimiter(limits.max_git_workers)
        self.slots = PrincipalSlots(limits.max_git_per_principal)

    def _stream(
        self,
        caller: GitSession,
        job: Job,
        media_type: str,
        *,
        body: bool = False,
        gzip: bool = False,
        limit: int = 0,
        drain: bool = False,
        hangup: threading.Event | None = None,
    ) -> Response:
        """The streaming answer to `caller`'s request, if the principal has a slot left."""
        release: Callable[[], None] | None = self.slots.acquire(caller.principal.arn)
        if release is None:
            return _text(
                429,
                f"too many git requests at once for {caller.principal.arn}"
                f" (at most {self.slots.per_principal}); try again when one has finished",
                {"Retry-After": "1"},
            )
        return GitStreamResponse(
            job,
            media_type=media_type,
            workers=self.workers,
            stall_timeout=self.emu.config.limits.git_stall_timeout,
            on_close=release,
            body=body,
            gzip=gzip,
            limit=limit,
            drain=drain,
            hangup=hangup,
        )

    # -- the gate ---------------------------------------------------------------------------

    def _authenticate(
        self, request: Request, name: str, user: str, password: str
    ) -> tuple[Principal, str | None] | None:
        """The principal and the region its request addresses (None: not region-bound), or
        None when the credentials do not verify."""
        emu = self.emu
        if _GIT_CREDENTIAL_USER.fullmatch(user):
            # A CodeCommit git credential (`alice-at-123456789012`) is not region-bound: the
            # gate authorizes the endpoint's region first and looks further only for a caller
            # allowed there.
            principal = emu.keys.verify_git_credential(user, password)
            return None if principal is None else (principal, None)
        # One port serves every region. A SigV4 password does not name its region but is
        # signed for one (the client's configured region): try the endpoint's region, then
        # every region CodeCommit has, never only those where a repository of that name
        # exists, so that whether a signature verifies tells nothing about where it does.
        hosts = host_candidates(request.headers.get("host", ""))
        for region in emu.git.signing_regions():
            principal = verify_git_password(
                user,
                password,
                repository=name,
                hosts=hosts,
                region=region,
                lookup=emu.credentials.lookup,
            )
            if principal is not None:
                emu.credentials.record_use(user.partition("%")[0], "codecommit", region)
                return principal, region
        return None

    def _resolve(self, request: Request, name: str, service: str) -> GitSession | Response:
        """Authenticate, then open the session through the core's gate. Blocking (SQLite)."""
        credentials = parse_basic_authorization(request.headers.get("authorization"))
        if credentials is None:
            # git then asks its credential helper and retries
            return _text(401, "authentication required", {"WWW-Authenticate": REALM})
        found = self._authenticate(request, name, *credentials)
        if found is None:
            return _text(403, "the git credentials are not valid for this repository")
        principal, region = found
        try:
            return self.emu.git.open(
                principal,
                region,
                name,
                service,
                source_ip=request.client.host if request.client else None,
                secure=request.url.scheme == "https",
            )
        except AccessDenied as exc:
            return _text(403, exc.message)
        except ClientError as exc:
            # A repository that cannot be decrypted (its KMS key is disabled or gone) is
            # refused, not hidden: git prints the message after "remote:".
            status = 403 if exc.code.startswith("Encryption") else 404
            return _text(status, f"{exc.code}: {exc.message}" if status == 403 else exc.message)

    # -- endpoints --------------------------------------------------------------------------

    async def info_refs(self, request: Request) -> Response:
        name = request.path_params["name"]
        access_log.claim("git-http", repository=name)
        service = request.query_params.get("service")
        if service not in _SERVICES:
            return _text(403, "dumb HTTP transport is not supported; use a git client >= 1.6.6")
        caller = await run_in_threadpool(self._resolve, request, name, service)
        if isinstance(caller, Response):
            return caller
        preamble = _pkt(f"# service={service}\n".encode()) + _pkt(None)

        def job(read: Read, write: Write) -> None:
            write(preamble)
            if service == UPLOAD_PACK:
                serve_upload_pack(caller, read, write, advertise=True)
            else:
                for line in caller.receive_pack().advertise():
                    write(line)

        return self._stream(caller, job, f"application/x-{service}-advertisement")

    async def service(self, request: Request) -> Response:
        name = request.path_params["name"]
        access_log.claim("git-http", repository=name)
        service = request.url.path.rsplit("/", 1)[1]
        if request.headers.get("content-type") != f"application/x-{service}-request":
            return _text(415, f"expected Content-Type application/x-{service}-request")
        encoding = request.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip"):
            return _text(415, f"unsupported Content-Encoding {encoding}")
        limits = self.emu.config.limits
        limit = limits.max_negotiation_body if service == UPLOAD_PACK else limits.max_git_request
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return _text(413, f"request body exceeds the limit of {limit} bytes")
        caller = await run_in_threadpool(self._resolve, request, name, service)
        if isinstance(caller, Response):
            return caller

        hangup = threading.Event()  # set by the response once the client is gone
        if service == UPLOAD_PACK:

            def job(read: Read, write: Write) -> None:
                serve_upload_pack(caller, read, write, advertise=False)

        else:
            receive = caller.receive_pack()

            def job(read: Read, write: Write) -> None:
                receive.serve(read, write, hangup.is_set)

        return self._stream(
            caller,
            job,
            f"application/x-{service}-result",
            body=True,
            gzip=encoding in ("gzip", "x-gzip"),
            limit=limit,
            drain=service == RECEIVE_PACK,
            hangup=hangup,
        )

    async def not_found(self, request: Request) -> Response:
        return _text(404, "not found: only smart HTTP git is served under /v1/repos/{name}")


def git_routes(emu: Emulator) -> list[BaseRoute]:
    door = GitDoor(emu)
    return [
        Route("/v1/repos/{name}/info/refs", door.info_refs, methods=["GET"]),
        Route(f"/v1/repos/{{name}}/{UPLOAD_PACK}", door.service, methods=["POST"]),
        Route(f"/v1/repos/{{name}}/{RECEIVE_PACK}", door.service, methods=["POST"]),
        Route("/v1/repos/{name}", door.not_found),
        Route("/v1/repos/{name}/{rest:path}", door.not_found),
    ]
