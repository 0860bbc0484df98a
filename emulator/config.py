"""One frozen Config for the whole emulator: ports, data dir, identity defaults and limits."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_ROOT_ACCESS_KEY = "test"
DEFAULT_ROOT_SECRET_KEY = "test"  # noqa: S105 - documented, well-known local default


@dataclass(frozen=True)
class Limits:
    """Caps enforced at every door; each exists so one bad request cannot exhaust the server."""

    # PutFile and CreateCommit carry up to 7 MB of file content, base64-encoded in JSON.
    max_api_body: int = 12 * 1024 * 1024
    max_git_request: int = 2 * 1024 * 1024 * 1024  # a whole pushed pack, after gzip inflation
    max_negotiation_body: int = 64 * 1024 * 1024  # upload-pack request: wants and haves
    max_object_size: int = 512 * 1024 * 1024
    # What inflating and patching one pushed pack may produce: this many bytes plus
    # `push_inflate_ratio` times the pack's size (emulator.repos.pack_indexer.WorkLimit).
    push_inflate_allowance: int = 1 << 30
    push_inflate_ratio: int = 1000
    max_tree_entries: int = 1_000_000
    max_path_depth: int = 2048
    max_refs_per_push: int = 10_000
    max_repositories: int = 10_000
    # Git over HTTP. Every git request holds a worker thread while it runs: how many run at
    # once, how many of them one principal may hold (so that one user cannot take every slot
    # and the next is answered 429), and how long a request body may send nothing, or the
    # client read nothing of the answer, before the request is abandoned (nginx's
    # client_body_timeout is 60 s too).
    max_git_workers: int = 64
    max_git_per_principal: int = 16
    git_stall_timeout: float = 60.0
    # HTTP connections: idle time allowed between two requests (keep-alive), time from
    # connecting (or the last answer) to a complete request head, and how many connections
    # are held at once (past it, the one idle the longest is closed).
    http_idle_timeout: float = 30.0
    http_header_timeout: float = 10.0
    max_http_connections: int = 512
    # SSH: the time from connecting to the client's version line and key exchange init (a
    # real client sends both at once), to authenticated (OpenSSH's LoginGraceTime), and how
    # many connections may be at that stage at once (more wait, in arrival order).
    # Authenticated connections are counted apart: those that never authenticate cannot
    # starve them.
    ssh_hello_timeout: float = 5.0
    ssh_login_timeout: float = 20.0
    max_ssh_unauthenticated: int = 32
    max_ssh_connections: int = 512


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("ccemu-data")
    host: str = "127.0.0.1"
    port: int = 8080
    ssh_port: int = 2222
    # The TLS listener (emulator.tls); None: no https. 0 picks a free port.
    https_port: int | None = None
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    root_access_key: str = DEFAULT_ROOT_ACCESS_KEY
    root_secret_key: str = DEFAULT_ROOT_SECRET_KEY
    ready_file: Path | None = None
    # Where the master key lives when not in CCEMU_MASTER_KEY or the data dir (emulator.kms.master).
    master_key_file: Path | None = None
    limits: Limits = field(default_factory=Limits)
    # Set once the listener is bound (port 0 picks a free port); used to build clone URLs.
    public_http_url: str | None = None
    # Events (emulator.events): Lambda function ARN -> URL, EventBridge-style webhook URLs, a
    # factor on every retry delay of the delivery policy (tests use a small one), and the
    # timeout of one delivery attempt in seconds.
    lambda_endpoints: tuple[tuple[str, str], ...] = ()
    event_webhooks: tuple[str, ...] = ()
    delivery_retry_scale: float = 1.0
    delivery_timeout: float = 15.0
    # Seconds after a push or ref change before the repository's packs are merged and what
    # no ref reaches is collected (emulator.repos.maintenance), so a burst costs one pass.
    maintenance_delay: float = 2.0
    # Bytes (estimated) the caches built from packs may hold in all: parsed indexes, commit
    # graphs, reachability answers, per-repository memos (emulator.repos.pack_cache).
    cache_bytes: int = 256 * 1024 * 1024
    # What those caches keep once the server is idle (emulator.repos.pack_cache); None: a
    # quarter of cache_bytes.
    cache_idle_bytes: int | None = None
    # Bytes all requests together may keep of the objects they resolved from deltas, beyond a
    # small floor each (emulator.repos.resolved_budget).
    resolved_cache_bytes: int = 64 * 1024 * 1024
    # Seconds without git work after which the freed heap is given back to the OS
    # (emulator.memory); 0 turns it off.
    memory_trim_idle: float = 5.0
    # cloneUrlHttp / cloneUrlSsh in AWS's form (emulator.repos.clone_urls) instead of this
    # server's own URLs; `ccemu configure --aws-clone-urls` sends those hosts here.
    aws_clone_urls: bool = False
    # Any access key id signs as a root user, signature unchecked (emulator.iam.credentials), for
    # test suites written for moto; only while every listener is on a loopback address.
    accept_any_credentials: bool = False
    # The access log (emulator.access_log): a file to append to, "-" for stderr, None for none.
    access_log: str | None = None
    # The web console's sessions (console/): seconds without a request before a session ends,
    # and seconds after sign-in when it ends whatever happens (AWS's console: 12 hours).
    console_idle_timeout: float = 3600.0
    console_session_lifetime: float = 12 * 3600.0

    def __post_init__(self) -> None:
        check_accept_any_credentials(self.accept_any_credentials, self.host)


def check_accept_any_credentials(accept_any: bool, host: str) -> None:
    """Accepting any credentials makes whoever reaches the server root: loopback only."""
    if accept_any and not is_loopback(host):
        raise ValueError(
            f"--accept-any-credentials is refused when listening on {host}: whoever can reach"
            " the server would be root; listen on 127.0.0.1, ::1 or localhost"
        )


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
