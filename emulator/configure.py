"""`ccemu configure`: the client setup, as shell commands a person pastes (or `--write` applies).

The same three setups the CodeCommit console shows, pointed at a running ccemu:

- HTTPS: the aws CLI credential helper, scoped to ccemu's URL (`credential.<url>.helper`) so
  other git hosts keep their own helpers, with `UseHttpPath` as CodeCommit documents;
- HTTPS (GRC): git-remote-codecommit with `CODE_COMMIT_ENDPOINT` and ccemu's CA trusted for that
  URL only (`http.<url>.sslCAInfo`; a global GIT_SSL_CAINFO would break every other https host);
- SSH: the host keys for known_hosts and the `~/.ssh/config` block for an SSH key id;

plus the environment variables that point boto3 and the aws CLI at it (`AWS_ENDPOINT_URL`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from emulator.config import DEFAULT_REGION, DEFAULT_ROOT_ACCESS_KEY, DEFAULT_ROOT_SECRET_KEY

# Only `get` reaches the aws CLI: it has nothing to store or erase, and aws CLI v1 prints
# "Unknown options: --ignore-host-check" for those two on every git command.
HELPER = (
    '!f() { if [ "$1" = get ]; then'
    " aws codecommit credential-helper --ignore-host-check get; fi; }; f"
)


@dataclass(frozen=True)
class Setup:
    http: str
    https: str | None
    ssh: str | None
    region: str
    access_key: str
    secret_key: str
    data_dir: Path
    ssh_key_id: str | None = None
    identity_file: str = "~/.ssh/id_ed25519"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="take the endpoints from this ready file of 'ccemu serve'",
    )
    parser.add_argument("--endpoint", default="http://127.0.0.1:8080", help="ccemu's HTTP URL")
    parser.add_argument("--https-endpoint", default=None, help="ccemu's https URL, if serving it")
    parser.add_argument("--ssh-endpoint", default="ssh://127.0.0.1:2222", help="ccemu's SSH URL")
    parser.add_argument(
        "--data-dir", type=Path, default=Path("ccemu-data"), help="the server's data dir"
    )
    parser.add_argument("--region", default=DEFAULT_REGION, help="the region clients sign for")
    parser.add_argument(
        "--access-key",
        default=os.environ.get("CCEMU_ROOT_ACCESS_KEY", DEFAULT_ROOT_ACCESS_KEY),
        help="the access key id to export (default: the root's)",
    )
    parser.add_argument(
        "--secret-key",
        default=os.environ.get("CCEMU_ROOT_SECRET_KEY", DEFAULT_ROOT_SECRET_KEY),
        help="its secret (default: CCEMU_ROOT_SECRET_KEY, else the root's, 'test')",
    )
    parser.add_argument("--ssh-key-id", default=None, help="SSH key id (APKA...) for ~/.ssh/config")
    parser.add_argument(
        "--identity-file", default="~/.ssh/id_ed25519", help="private key of that SSH key"
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="apply the git and ssh setup to ~/.gitconfig and ~/.ssh now (environment"
        " variables are still printed: a program cannot set its shell's)",
    )


def setup_from(args: argparse.Namespace) -> Setup:
    http, https, ssh = args.endpoint, args.https_endpoint, args.ssh_endpoint
    data_dir = Path(args.data_dir)
    if args.ready_file is not None:
        info = json.loads(Path(args.ready_file).read_text())
        http, https, ssh = info["http"], info.get("https"), info.get("ssh")
        data_dir = Path(info.get("data_dir", data_dir))  # the running server's
    return Setup(
        http=http.rstrip("/"),
        https=https.rstrip("/") if https else None,
        ssh=ssh,
        region=args.region,
        access_key=args.access_key,
        secret_key=args.secret_key,
        data_dir=data_dir.resolve(),
        ssh_key_id=args.ssh_key_id,
        identity_file=args.identity_file,
    )


def environment(setup: Setup) -> dict[str, str]:
    """What boto3, the aws CLI and git-remote-codecommit read."""
    env = {
        "AWS_ACCESS_KEY_ID": setup.access_key,
        "AWS_SECRET_ACCESS_KEY": setup.secret_key,
        "AWS_DEFAULT_REGION": setup.region,
        "AWS_ENDPOINT_URL": setup.http,
    }
    if setup.https is not None:
        env["CODE_COMMIT_ENDPOINT"] = urlsplit(setup.https).netloc
    return env


def git_settings(setup: Setup) -> list[tuple[str, str]]:
    settings = [
        (f"credential.{setup.http}.helper", HELPER),
        (f"credential.{setup.http}.UseHttpPath", "true"),
    ]
    if setup.https is not None:
        settings += [
            (f"credential.{setup.https}.helper", HELPER),
            (f"credential.{setup.https}.UseHttpPath", "true"),
            (f"http.{setup.https}/.sslCAInfo", str(setup.data_dir / "tls" / "ca.pem")),
        ]
    return settings


def _ssh_host_port(setup: Setup) -> tuple[str, int] | None:
    if setup.ssh is None:
        return None
    parts = urlsplit(setup.ssh)
    return parts.hostname or "127.0.0.1", parts.port or 22


def ssh_config_block(setup: Setup) -> str | None:
    where = _ssh_host_port(setup)
    if where is None or setup.ssh_key_id is None:
        return None
    host, port = where
    return (
        f"Host {host}\n"
        f"  HostName {host}\n"
        f"  Port {port}\n"
        f"  User {setup.ssh_key_id}\n"
        f"  IdentityFile {setup.identity_file}\n"
        "  IdentitiesOnly yes\n"
    )


def script(setup: Setup) -> str:
    """The whole setup as POSIX shell commands."""
    q = shlex.quote
    out = [
        f"# ccemu at {setup.http}, region {setup.region}",
        "",
        "# boto3 and the aws CLI (AWS_ENDPOINT_URL covers every service ccemu serves)",
    ]
    out += [
        f"export {k}={q(v)}" for k, v in environment(setup).items() if k != "CODE_COMMIT_ENDPOINT"
    ]
    out += [
        "",
        "# HTTPS: git with the aws CLI credential helper",
        *(f"git config --global {q(k)} {q(v)}" for k, v in git_settings(setup)[:2]),
        f"#   git clone {setup.http}/v1/repos/REPOSITORY",
    ]
    if setup.https is not None:
        out += [
            "",
            "# HTTPS (GRC): git-remote-codecommit over TLS, trusting ccemu's CA for this URL only",
            f"export CODE_COMMIT_ENDPOINT={q(urlsplit(setup.https).netloc)}",
            *(f"git config --global {q(k)} {q(v)}" for k, v in git_settings(setup)[2:]),
            f"#   git clone codecommit::{setup.region}://REPOSITORY",
        ]
    where = _ssh_host_port(setup)
    if where is not None:
        host, port = where
        out += [
            "",
            "# SSH: the server's host keys, then the ~/.ssh/config block for your SSH key id",
            "mkdir -p ~/.ssh && chmod 700 ~/.ssh",
            f"ccemu ssh-host-key --data-dir {q(str(setup.data_dir))} --host {q(host)}"
            f" --port {port} >> ~/.ssh/known_hosts",
        ]
        block = ssh_config_block(setup)
        if block is None:
            out.append("#   (give --ssh-key-id APKA... for the ~/.ssh/config block)")
        else:
            out += ["cat >> ~/.ssh/config <<'EOF'", block.rstrip("\n"), "EOF"]
        out.append(f"#   git clone ssh://{host}:{port}/v1/repos/REPOSITORY")
    return "\n".join(out) + "\n"


def write(setup: Setup) -> None:
    """Apply the git and ssh parts to the user's files."""
    for key, value in git_settings(setup):
        subprocess.run(["git", "config", "--global", key, value], check=True)
    where = _ssh_host_port(setup)
    if where is None:
        return
    from emulator.server import ssh_host_key_lines

    ssh_dir = Path.home() / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    host, port = where
    lines = [ln for ln in ssh_host_key_lines(setup.data_dir, host, port) if ln[:1] != "#"]
    known = ssh_dir / "known_hosts"
    present = set(known.read_text().splitlines()) if known.exists() else set()
    with known.open("a") as f:
        f.writelines(ln + "\n" for ln in lines if ln not in present)
    block = ssh_config_block(setup)
    if block is not None:
        config = ssh_dir / "config"
        text = config.read_text() if config.exists() else ""
        if block not in text:
            with config.open("a") as f:
                f.write(("\n" if text and not text.endswith("\n") else "") + block)


def run(args: argparse.Namespace) -> int:
    setup = setup_from(args)
    if args.write:
        write(setup)
        print("# git and ssh are set up; the environment variables still need exporting:")
        print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in environment(setup).items()))
        return 0
    sys.stdout.write(script(setup))
    return 0
