"""`ccemu`: the command line."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from emulator.config import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    DEFAULT_ROOT_ACCESS_KEY,
    DEFAULT_ROOT_SECRET_KEY,
    Config,
    Limits,
    check_accept_any_credentials,
)
from emulator.datadir import UMASK

# Limits a flag can set: flag -> (Limits field, type, help). Tests set them short.
_LIMIT_FLAGS: dict[str, tuple[str, type, str]] = {
    "--git-stall-timeout": (
        "git_stall_timeout",
        float,
        "seconds a git request body may send nothing (or the client read nothing of the"
        " answer) before the request is abandoned",
    ),
    "--max-git-workers": ("max_git_workers", int, "git requests over HTTP running at once"),
    "--max-git-per-principal": (
        "max_git_per_principal",
        int,
        "git requests over HTTP one principal may have running at once (past it: 429)",
    ),
    "--http-idle-timeout": (
        "http_idle_timeout",
        float,
        "seconds an HTTP connection may stay idle between two requests",
    ),
    "--http-header-timeout": (
        "http_header_timeout",
        float,
        "seconds from connecting (or from the end of the idle time) to a complete request head",
    ),
    "--max-http-connections": (
        "max_http_connections",
        int,
        "HTTP connections held at once; past it the one idle the longest is closed",
    ),
    "--ssh-hello-timeout": (
        "ssh_hello_timeout",
        float,
        "seconds from connecting to the client's SSH version line and key exchange init",
    ),
    "--ssh-login-timeout": (
        "ssh_login_timeout",
        float,
        "seconds from connecting to authenticated over SSH (LoginGraceTime)",
    ),
    "--push-inflate-allowance": (
        "push_inflate_allowance",
        int,
        "bytes a pushed pack may inflate to (objects and deltas resolved) beyond 1000 times"
        " its own size",
    ),
    "--max-ssh-unauthenticated": (
        "max_ssh_unauthenticated",
        int,
        "SSH connections not yet authenticated at once; more wait their turn (authenticated"
        " ones are counted apart)",
    ),
}


def _shown(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


DESCRIPTION = """\
ccemu: a local, offline emulator of AWS CodeCommit.

Serves the CodeCommit API (boto3, the aws CLI) and git over smart HTTP on one port. Requests are
signed with AWS SigV4: the default account's root credentials are access key id 'test' and secret
'test' unless changed, and an access key id of exactly 12 digits signed with the root secret acts
as the root user of that account.
"""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """States each option's default once: `(default: X)` is added unless the help already
    says it (`(default ...`, `; default ...`) or there is none to state (None, a flag)."""

    _STATED = re.compile(r"(?:\(|;\s*)default\b")

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help = action.help or ""
        if (
            action.default is None
            or isinstance(action.default, bool)
            or action.default == []
            or self._STATED.search(help)
        ):
            return help
        return super()._get_help_string(action)


def _version() -> str:
    import importlib.metadata  # here, not at the top: `serve` would wait for it at every start

    try:
        return importlib.metadata.version("ccemu")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """argparse's `version` action, with the version looked up only when it is asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show program's version number and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"ccemu {_version()}")
        parser.exit()


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return port


def _add_server_choice(parser: argparse.ArgumentParser, *, endpoint: bool) -> None:
    """Which server a command answers for: one running (ready file, URL) or a data dir."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--ready-file", type=Path, default=None, help="the ready file of the running server"
    )
    if endpoint:
        group.add_argument(
            "--endpoint", default=None, metavar="URL", help="the running server's HTTP URL"
        )
    group.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the data dir of the server (default: ./ccemu-data, if a server has used it)",
    )


def _host_key_lines(args: argparse.Namespace) -> list[str]:
    from emulator.trust import host_key_lines, host_keys_from_server, read_ready_file, ssh_endpoint

    if args.ready_file is not None or args.endpoint is not None:
        url = args.endpoint or read_ready_file(args.ready_file)["http"]
        keys, ssh_url = host_keys_from_server(url)
        host, port = ssh_endpoint(ssh_url)
        return host_key_lines(keys, args.host or host or "127.0.0.1", args.port or port or 2222)
    from emulator.server import ssh_host_keys

    keys = ssh_host_keys(args.data_dir or Path("ccemu-data"))
    return host_key_lines(keys, args.host or "127.0.0.1", args.port or 2222)


def _ca_path(args: argparse.Namespace) -> list[str]:
    from emulator.trust import ca_from_ready_file, ca_in_data_dir

    if args.ready_file is not None:
        return [str(ca_from_ready_file(args.ready_file))]
    return [str(ca_in_data_dir(args.data_dir or Path("ccemu-data")).resolve())]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccemu", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="start the emulator",
        description="Start the emulator and serve until SIGTERM or Ctrl-C.",
        formatter_class=HelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port",
        type=_port,
        default=8080,
        help="HTTP port for the API and git (0: pick a free one)",
    )
    serve.add_argument(
        "--ssh-port",
        type=_port,
        default=2222,
        help="SSH port for git over SSH (0: pick a free one)",
    )
    serve.add_argument(
        "--https-port",
        type=_port,
        default=None,
        help="also serve everything over TLS on this port (0: pick a free one), with a"
        " certificate from ccemu's own CA (see 'ccemu ca-path')",
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path("ccemu-data"),
        help="where state and repositories live",
    )
    serve.add_argument("--region", default=DEFAULT_REGION, help="region of the endpoint")
    serve.add_argument("--account", default=DEFAULT_ACCOUNT, help="the default account id")
    serve.add_argument(
        "--root-access-key",
        default=os.environ.get("CCEMU_ROOT_ACCESS_KEY", DEFAULT_ROOT_ACCESS_KEY),
        help="access key id of the default account's root user (env CCEMU_ROOT_ACCESS_KEY)",
    )
    serve.add_argument(
        "--root-secret-key",
        default=None,
        help="secret key of the root user (env CCEMU_ROOT_SECRET_KEY; default 'test')",
    )
    serve.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help='write {"http": URL, ...} as JSON here once every listener is up',
    )
    serve.add_argument(
        "--master-key-file",
        type=Path,
        default=None,
        help="file holding the master key (64 hex digits), kept apart from the data dir; else"
        " CCEMU_MASTER_KEY, else master.key in the data dir (generated on first start)",
    )
    serve.add_argument(
        "--max-push-bytes",
        type=int,
        default=None,
        help="largest git request body accepted, after decompression (default 2 GiB)",
    )
    defaults = Limits()
    for flag, (name, kind, text) in _LIMIT_FLAGS.items():
        serve.add_argument(
            flag,
            type=kind,
            default=argparse.SUPPRESS,  # the help says the default of Limits
            dest=name,
            help=f"{text} (default {_shown(getattr(defaults, name))})",
        )
    serve.add_argument(
        "--lambda-endpoints",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON object of Lambda function ARN -> URL that triggers and SNS deliver to"
        " (also CCEMU_LAMBDA_ENDPOINTS: the JSON itself or a file name)",
    )
    serve.add_argument(
        "--event-webhook",
        action="append",
        default=[],
        metavar="URL",
        help="POST EventBridge-style 'CodeCommit Repository State Change' events here"
        " (repeatable; more can be added at run time with POST /_ccemu/webhooks)",
    )
    serve.add_argument(
        "--delivery-retry-scale",
        type=float,
        default=1.0,
        help="factor on every retry delay of event deliveries (SNS's default policy waits 20 s)",
    )
    serve.add_argument(
        "--maintenance-delay",
        type=float,
        default=2.0,
        help="seconds after a push before packs are merged and unreachable objects collected"
        " in the background (POST /_ccemu/maintenance runs it at once)",
    )
    serve.add_argument(
        "--cache-mib",
        type=int,
        default=256,
        help="memory the caches of pack indexes, commit graphs and code reads may hold in all"
        " (MiB, estimated; least recently used goes first)",
    )
    serve.add_argument(
        "--cache-idle-mib",
        type=int,
        default=None,
        help="what those caches keep once the server is idle: API answers and differences go"
        " first, then the least recently used (MiB; default: a quarter of --cache-mib)",
    )
    serve.add_argument(
        "--resolved-cache-mib",
        type=int,
        default=64,
        help="memory all requests together may hold in objects they resolved from deltas,"
        " beyond a small floor each (MiB, at least 1; the floor is 1/16 of it, at most 4 MiB)",
    )
    serve.add_argument(
        "--memory-trim-idle",
        type=float,
        default=5.0,
        help="seconds without git work after which freed memory is given back to the system"
        " (glibc's malloc_trim; 0: never)",
    )
    serve.add_argument(
        "--aws-clone-urls",
        action="store_true",
        default=_env_flag("CCEMU_AWS_CLONE_URLS"),
        help="answer cloneUrlHttp/cloneUrlSsh as AWS does (https://git-codecommit.{region}"
        ".amazonaws.com/v1/repos/NAME); 'ccemu configure --aws-clone-urls' sends them here"
        " (env CCEMU_AWS_CLONE_URLS=1)",
    )
    serve.add_argument(
        "--accept-any-credentials",
        action="store_true",
        default=_env_flag("CCEMU_ACCEPT_ANY_CREDENTIALS"),
        help="for test suites written for moto: any access key id IAM or STS did not issue is"
        " a root user (of the account a 12-digit key names, else the default one), signature"
        " unchecked, for the API and git's SigV4 passwords; refused unless --host is loopback"
        " (env CCEMU_ACCEPT_ANY_CREDENTIALS=1)",
    )
    serve.add_argument(
        "--access-log",
        default=None,
        metavar="PATH",
        help="append one JSON line per API call and git request (HTTP and SSH) to PATH ('-':"
        " stderr): time, principal, action, resource, outcome, status; never a secret"
        " (default: none)",
    )
    serve.add_argument(
        "--console-idle-timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="a console session ends after this long without a request (default: 3600)",
    )
    serve.add_argument(
        "--console-session-lifetime",
        type=float,
        default=12 * 3600.0,
        metavar="SECONDS",
        help="a console session ends this long after sign-in, however busy (default: 43200)",
    )
    host_key = sub.add_parser(
        "ssh-host-key",
        help="print the SSH host key fingerprints and known_hosts lines",
        description="Print the fingerprints of a ccemu's SSH host keys and the lines to add to"
        " ~/.ssh/known_hosts: asked of the running server (--ready-file, --endpoint) or read"
        " from the data dir a server has used. No key is ever made here.",
        formatter_class=HelpFormatter,
    )
    _add_server_choice(host_key, endpoint=True)
    host_key.add_argument(
        "--host", default=None, help="host name clients connect to (default: the server's)"
    )
    host_key.add_argument(
        "--port", type=_port, default=None, help="the SSH port (default: the server's, else 2222)"
    )
    ca = sub.add_parser(
        "ca-path",
        help="print the path of the CA certificate the https listener's certificate is from",
        description="Print the path of the CA certificate of a ccemu serving https (for"
        " GIT_SSL_CAINFO, git's http.sslCAInfo or AWS_CA_BUNDLE): the running server's"
        " (--ready-file) or that of a data dir a server has used. No CA is ever made here.",
        formatter_class=HelpFormatter,
    )
    _add_server_choice(ca, endpoint=False)
    from emulator.configure import add_arguments as add_configure_arguments

    add_configure_arguments(
        sub.add_parser(
            "configure",
            help="print the client setup for boto3, the aws CLI, git and ssh",
            description="Print, as shell commands, the setup CodeCommit's console shows for"
            " HTTPS, SSH and HTTPS (GRC), pointed at a running ccemu; --write applies it.",
            formatter_class=HelpFormatter,
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "configure":  # configure writes the user's own git and ssh config
        # What ccemu writes in its data dir (state, keys, certificates, packs) is its owner's.
        os.umask(UMASK)
    if args.command in ("ssh-host-key", "ca-path"):
        from emulator.trust import TrustError

        try:
            lines = _host_key_lines(args) if args.command == "ssh-host-key" else _ca_path(args)
        except TrustError as exc:
            print(f"ccemu {args.command}: error: {exc}", file=sys.stderr)
            return 1
        print("\n".join(lines))
        return 0
    if args.command == "configure":
        from emulator.configure import run as run_configure
        from emulator.trust import TrustError

        try:
            return run_configure(args)
        except TrustError as exc:  # --write, and no server has made host keys yet
            print(f"ccemu configure: error: {exc}", file=sys.stderr)
            return 1
    if args.command != "serve":
        parser.print_help()
        return 0 if args.command is None and argv is not None else 2

    # First, before the server's imports: a new data dir's RSA host key is made meanwhile.
    from emulator.keygen import rsa_host_key_maker

    make_rsa_host_key = rsa_host_key_maker(args.data_dir)
    # paramiko.config imports invoke, a task runner, for `Match exec` in a client's ssh_config:
    # a server reads no ssh_config, and invoke is a sixth of the imports `serve` waits for.
    # paramiko takes a failed import as "not installed"; this process never needs invoke.
    sys.modules.setdefault("invoke", None)  # type: ignore[arg-type]

    from dataclasses import replace

    from emulator import ready_file
    from emulator.access_log import AccessLogError
    from emulator.core import Emulator
    from emulator.datadir import DataDirInUse
    from emulator.kms.secrets import MasterKeyError
    from emulator.ready_file import ReadyFileError
    from emulator.server import serve

    if not (len(args.account) == 12 and args.account.isdigit()):
        parser.error("--account must be 12 digits")
    secret = args.root_secret_key or os.environ.get(
        "CCEMU_ROOT_SECRET_KEY", DEFAULT_ROOT_SECRET_KEY
    )
    from emulator.events.http_client import check_url
    from emulator.events.lambdas import LambdaEndpointsError, endpoints_from

    try:
        lambdas = endpoints_from(args.lambda_endpoints, os.environ.get("CCEMU_LAMBDA_ENDPOINTS"))
        for url in args.event_webhook:
            check_url(url)
    except (OSError, ValueError, LambdaEndpointsError) as exc:
        parser.error(str(exc))
    if args.delivery_retry_scale < 0:
        parser.error("--delivery-retry-scale must not be negative")
    if args.cache_mib < 1:
        parser.error("--cache-mib must be at least 1")
    if args.cache_idle_mib is not None and not 0 <= args.cache_idle_mib <= args.cache_mib:
        parser.error("--cache-idle-mib must be between 0 and --cache-mib")
    if args.resolved_cache_mib < 1:
        parser.error("--resolved-cache-mib must be at least 1")
    if args.memory_trim_idle < 0:
        parser.error("--memory-trim-idle must not be negative")
    if args.maintenance_delay < 0:
        parser.error("--maintenance-delay must not be negative")
    limits = Limits()
    if args.max_push_bytes is not None:
        limits = replace(limits, max_git_request=args.max_push_bytes)
    for flag, (name, _, _) in _LIMIT_FLAGS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if value <= 0:
            parser.error(f"{flag} must be positive")
        limits = replace(limits, **{name: value})
    try:
        check_accept_any_credentials(args.accept_any_credentials, args.host)
    except ValueError as exc:
        print(f"ccemu: error: {exc}", file=sys.stderr)
        return 2
    config = Config(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        ssh_port=args.ssh_port,
        https_port=args.https_port,
        region=args.region,
        account=args.account,
        root_access_key=args.root_access_key,
        root_secret_key=secret,
        ready_file=args.ready_file,
        master_key_file=args.master_key_file,
        limits=limits,
        lambda_endpoints=lambdas,
        event_webhooks=tuple(args.event_webhook),
        delivery_retry_scale=args.delivery_retry_scale,
        maintenance_delay=args.maintenance_delay,
        cache_bytes=args.cache_mib * 1024 * 1024,
        cache_idle_bytes=None if args.cache_idle_mib is None else args.cache_idle_mib << 20,
        resolved_cache_bytes=args.resolved_cache_mib * 1024 * 1024,
        memory_trim_idle=args.memory_trim_idle,
        aws_clone_urls=args.aws_clone_urls,
        accept_any_credentials=args.accept_any_credentials,
        access_log=args.access_log,
        console_idle_timeout=args.console_idle_timeout,
        console_session_lifetime=args.console_session_lifetime,
    )
    try:
        emu = Emulator(config)  # takes the data dir's lock first
    except DataDirInUse as exc:  # the ready file, if the same, is the running server's
        print(f"ccemu: error: {exc}", file=sys.stderr)
        return 1
    except (MasterKeyError, AccessLogError) as exc:
        print(f"ccemu: error: {exc}", file=sys.stderr)
        return 2
    try:
        if config.ready_file is not None:  # an earlier run's must not pass for this one's
            ready_file.clear(config.ready_file)
    except ReadyFileError as exc:
        emu.close()
        print(f"ccemu: error: {exc}", file=sys.stderr)
        return 2
    return serve(emu, make_rsa_host_key)


if __name__ == "__main__":
    sys.exit(main())
