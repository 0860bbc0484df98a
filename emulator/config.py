"""One frozen Config for the whole emulator: ports, data dir, identity defaults and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_ROOT_ACCESS_KEY = "test"
DEFAULT_ROOT_SECRET_KEY = "test"  # noqa: S105 - documented, well-known local default


@dataclass(frozen=True)
class Limits:
    """Caps enforced at every door; each exists so one bad request cannot exhaust the server."""

    max_api_body: int = 6 * 1024 * 1024
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
    # The access log (emulator.access_log): a file to append to, "-" for stderr, None for none.
    access_log: str | None = None
