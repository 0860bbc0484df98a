"""The composition root: builds the ASGI app from every door and runs the listeners."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import ready_file, tls
from emulator.api import ccemu_events
from emulator.api.ccemu_maintenance import routes as maintenance_routes
from emulator.api.ccemu_reset import routes as reset_routes
from emulator.api.ccemu_stats import routes as stats_routes
from emulator.core import Emulator
from emulator.http_access_log import AccessLogMiddleware
from emulator.http_protocol import limited_http_protocol
from emulator.keygen import rsa_pem
from emulator.trust import HOST_KEYS_PATH, HostKey, TrustError, existing_data_dir, host_key_lines
from git_http.app import git_routes
from ssh_server import host_key_files
from ssh_server.limits import SSHLimits

log = logging.getLogger(__name__)


class _LazySsh:
    """The SSH door, started once the HTTP listeners accept connections: paramiko and the door's
    modules then load in the background instead of before the server is ready (a tenth of
    start-up). Its socket is bound and listening before that, and its host keys are made and
    announced, so a client that connects meanwhile is accepted and waits in the listen backlog
    for its banner, tens of milliseconds, as it would behind a busy server."""

    def __init__(
        self, emu: Emulator, sock: socket.socket, key_files: list[Path], limits: SSHLimits
    ) -> None:
        self._emu = emu
        self._sock = sock
        self._key_files = key_files
        self._limits = limits
        self._lock = threading.Lock()
        self._closed = False
        self._server: Any = None  # an ssh_server.server.SSHServer once started

    def start(self, on_failure: Callable[[], None]) -> None:
        threading.Thread(
            target=self._run, args=(on_failure,), name="ccemu-ssh-start", daemon=True
        ).start()

    def _run(self, on_failure: Callable[[], None]) -> None:
        try:
            from ssh_server.host_keys import load
            from ssh_server.server import SSHServer

            server = SSHServer(self._emu, self._sock, load(self._key_files), self._limits)
        except Exception:
            log.exception("the SSH door could not start")
            print("ccemu: error: the SSH door could not start; stopping", file=sys.stderr)
            on_failure()
            return
        with self._lock:
            if self._closed:
                return
            server.start()
            self._server = server

    def close(self) -> None:
        with self._lock:
            self._closed = True
            server = self._server
        if server is not None:
            server.close()


class _LazyConsole:
    """The web console, imported and built on its first request: it adds nothing to start-up
    (Jinja2 and the templates load only when someone opens /console)."""

    def __init__(self, emu: Emulator) -> None:
        self._emu = emu
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from console.app import build

                    self._app = build(self._emu)
        await self._app(scope, receive, send)


ApiEndpoint = Callable[[Emulator, Request], Awaitable[Response]]


class _LazyApi:
    """The AWS API door, imported once the listeners accept connections (in the background) or
    by its first request if that comes first: botocore and every service's handlers are a third
    of start-up, and a git-only client never needs them."""

    def __init__(self) -> None:
        self._endpoint: ApiEndpoint | None = None
        self._lock = threading.Lock()

    def load(self) -> ApiEndpoint:
        """The door's entry point, imported on the first call (blocking: call it in a thread)."""
        if self._endpoint is None:
            with self._lock:
                if self._endpoint is None:
                    from emulator.api.endpoint import api_endpoint

                    self._endpoint = api_endpoint
        return self._endpoint

    def warm(self) -> None:
        """Import the door and load every service's model and handlers now, and the signer that
        SigV4 git passwords are checked with, rather than on their first request."""
        self.load()
        from emulator.api.endpoint import warm_services
        from emulator.iam import git_password

        warm_services()
        git_password.warm()

    async def __call__(self, emu: Emulator, request: Request) -> Response:
        endpoint = self._endpoint
        if endpoint is None:  # not warm yet: import in a thread, the event loop keeps serving
            endpoint = await run_in_threadpool(self.load)
        return await endpoint(emu, request)


def build_app(emu: Emulator, api_door: _LazyApi | None = None) -> Starlette:
    api_endpoint = api_door if api_door is not None else _LazyApi()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ssh_host_keys(request: Request) -> Response:
        # Public keys, as every SSH client is shown them: what `ccemu ssh-host-key` asks for.
        keys = [
            {"type": k.type, "key": k.blob, "fingerprint": k.fingerprint}
            for k in emu.endpoints.ssh_host_keys
        ]
        return JSONResponse({"ssh": emu.endpoints.ssh, "keys": keys})

    async def api(request: Request) -> Response:
        return await api_endpoint(emu, request)

    async def sns_link(request: Request) -> Response:
        return await ccemu_events.sns_link(emu, request)

    async def rest_api(request: Request) -> Response:
        # REST-JSON services (codestar-notifications) name operations by path: a signed POST
        # to a path no other door serves goes to the API door; anything else is not found.
        if request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"):
            return await api_endpoint(emu, request)
        return PlainTextResponse("Not Found", status_code=404)

    routes: list[BaseRoute] = [
        Route("/", api, methods=["POST"]),
        Route("/", sns_link, methods=["GET"]),
        Route("/_ccemu/health", health, methods=["GET"]),
        Route(HOST_KEYS_PATH, ssh_host_keys, methods=["GET"]),
        *reset_routes(emu),
        *ccemu_events.routes(emu),
        *maintenance_routes(emu),
        *stats_routes(emu),
        *git_routes(emu),
        Mount("/console", app=_LazyConsole(emu)),
        Route("/{path:path}", rest_api, methods=["POST"]),  # last: every other route first
    ]
    app = Starlette(routes=routes)
    if emu.access_log is not None:
        app.add_middleware(AccessLogMiddleware, log=emu.access_log)
    app.state.emulator = emu
    return app


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: small request/response exchanges must not wait on Nagle.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class _Server(uvicorn.Server):
    """uvicorn's server, announcing the endpoints once it accepts connections.

    `tls_sockets` are served too, with their own TLS context: one server and one event loop
    for both listeners (uvicorn's `Config.ssl` would apply to every socket it is given)."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Any,
        tls_sockets: list[tuple[socket.socket, ssl.SSLContext]] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._tls_sockets = tls_sockets or []

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn re-raises a captured SIGTERM/SIGINT after shutting down, which would end the
        # process with a signal status; a requested stop is a clean exit for ccemu.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit:
            return
        config = self.config
        loop = asyncio.get_running_loop()

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=_loop,
            )
            return protocol

        for sock, context in self._tls_sockets:
            # Shut down with the rest: uvicorn closes every server in self.servers.
            server = await loop.create_server(
                create_protocol, sock=sock, ssl=context, backlog=config.backlog
            )
            self.servers.append(server)
        self._on_ready()


def ssh_host_keys(data_dir: Path) -> list[HostKey]:
    """The SSH host keys a server has made in `data_dir`; TrustError if none (none are made)."""
    try:
        paths = host_key_files.existing(existing_data_dir(data_dir))
    except FileNotFoundError as exc:
        raise TrustError(f"{exc}: start `ccemu serve --data-dir {data_dir}` first") from None
    return [host_key_files.public_key(path) for path in paths]


def ssh_host_key_lines(data_dir: Path, host: str, port: int) -> list[str]:
    """The SSH host keys' fingerprints (as `#` comments) and known_hosts lines, so the whole
    output can be appended to a known_hosts file. TrustError if the data dir has none."""
    return host_key_lines(ssh_host_keys(data_dir), host, port)


def serve(emu: Emulator, make_rsa_host_key: Callable[[], bytes] = rsa_pem) -> int:
    """Run every listener until stopped. `make_rsa_host_key` makes the RSA host key's PEM if the
    data dir has none (emulator.keygen: `ccemu serve` starts it before importing the server)."""
    cfg = emu.config
    try:
        http_sock = bind(cfg.host, cfg.port)
    except OSError as exc:
        print(f"ccemu: cannot listen on {cfg.host}:{cfg.port}: {exc.strerror}", file=sys.stderr)
        emu.close()
        return 1
    try:
        ssh_sock = bind(cfg.host, cfg.ssh_port)
    except OSError as exc:
        print(f"ccemu: cannot listen on {cfg.host}:{cfg.ssh_port}: {exc.strerror}", file=sys.stderr)
        http_sock.close()
        emu.close()
        return 1
    https_sock: socket.socket | None = None
    tls_sockets: list[tuple[socket.socket, ssl.SSLContext]] = []
    https_url = ""
    if cfg.https_port is not None:
        try:
            https_sock = bind(cfg.host, cfg.https_port)
        except OSError as exc:
            print(
                f"ccemu: cannot listen on {cfg.host}:{cfg.https_port}: {exc.strerror}",
                file=sys.stderr,
            )
            ssh_sock.close()
            http_sock.close()
            emu.close()
            return 1
        files = tls.ensure_certificates(cfg.data_dir, cfg.host, cfg.region)
        tls_sockets.append((https_sock, tls.server_context(files)))
        https_url = f"https://{_url_host(cfg.host)}:{https_sock.getsockname()[1]}"
        emu.endpoints.https = https_url
        emu.endpoints.ca = str(tls.ca_path(cfg.data_dir).resolve())
    http_port = http_sock.getsockname()[1]
    emu.endpoints.http = f"http://{_url_host(cfg.host)}:{http_port}"
    limits = cfg.limits
    ssh_limits = SSHLimits(
        handshake_timeout=min(SSHLimits.handshake_timeout, limits.ssh_login_timeout),
        hello_timeout=limits.ssh_hello_timeout,
        auth_timeout=limits.ssh_login_timeout,
        max_unauthenticated=limits.max_ssh_unauthenticated,
        max_connections=limits.max_ssh_connections,
    )
    key_files = host_key_files.ensure(cfg.data_dir, make_rsa_host_key)
    emu.endpoints.ssh_host_keys = tuple(host_key_files.public_key(path) for path in key_files)
    ssh = _LazySsh(emu, ssh_sock, key_files, ssh_limits)
    emu.endpoints.ssh = f"ssh://{_url_host(cfg.host)}:{ssh_sock.getsockname()[1]}"

    written: list[str] = []  # the ready file's text, once written: removed at exit

    api_door = _LazyApi()

    failed: list[str] = []  # a door that could not start: the server stops, exit status 1

    def ssh_failed() -> None:
        failed.append("ssh")
        server.should_exit = True

    def on_ready() -> None:
        # The SSH door, then the API door and its botocore models, load in the background once
        # the listeners are up.
        ssh.start(ssh_failed)
        threading.Thread(target=api_door.warm, name="ccemu-warm", daemon=True).start()
        info = {"http": emu.endpoints.http or "", "ssh": emu.endpoints.ssh or ""}
        info["data_dir"] = str(cfg.data_dir.resolve())
        if https_url:
            info["https"] = https_url
            info["ca"] = str(tls.ca_path(cfg.data_dir).resolve())
        if cfg.ready_file is not None:
            written.append(ready_file.write(cfg.ready_file, info))
        print(
            f"ccemu is serving on {emu.endpoints.http}\n"
            f"  account {cfg.account}, region {cfg.region}\n"
            f"  credentials: AWS_ACCESS_KEY_ID={cfg.root_access_key}"
            " AWS_SECRET_ACCESS_KEY=<the root secret; 'test' unless you changed it>\n"
            f"  aws --endpoint-url {emu.endpoints.http} codecommit list-repositories\n"
            f"  git over SSH on {emu.endpoints.ssh} (user name: an SSH key id, APKA...)\n"
            + (
                f"  https on {https_url} (trust {tls.ca_path(cfg.data_dir).resolve()})\n"
                if https_url
                else ""
            )
            + "".join(note + "\n" for note in emu.banner_notes())
            + f"  data dir: {cfg.data_dir.resolve()}",
            flush=True,
        )

    config = uvicorn.Config(
        build_app(emu, api_door),
        log_level="warning",
        access_log=False,
        http=limited_http_protocol(
            header_timeout=limits.http_header_timeout,
            max_connections=limits.max_http_connections,
        ),
        timeout_keep_alive=limits.http_idle_timeout,  # type: ignore[arg-type]  # a float works
        lifespan="off",
        # ccemu is nobody's backend: a client's X-Forwarded-For must not become its address
        # (uvicorn trusts it from 127.0.0.1 by default, and every local client is 127.0.0.1).
        proxy_headers=False,
    )
    server = _Server(config, on_ready, tls_sockets)
    # Deliveries left pending by the last run resume now; Emulator.close stops the worker.
    emu.events.start()
    emu.maintenance.start()  # stopped by Emulator.close
    try:
        server.run(sockets=[http_sock])
    finally:
        ssh.close()
        ssh_sock.close()
        http_sock.close()
        if https_sock is not None:
            https_sock.close()
        if cfg.ready_file is not None and written:
            ready_file.remove(cfg.ready_file, written[0])
        emu.close()
    print("ccemu stopped", file=sys.stderr, flush=True)
    return 1 if failed else 0
