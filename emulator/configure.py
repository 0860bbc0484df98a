"""`ccemu configure`: the client setup, as shell commands a person pastes (or `--write` applies).

The same three setups the CodeCommit console shows, pointed at a running ccemu:

- HTTPS: the aws CLI credential helper, scoped to ccemu's URL (`credential.<url>.helper`) so
  other git hosts keep their own helpers, with `UseHttpPath` as CodeCommit documents;
- HTTPS (GRC): git-remote-codecommit with `CODE_COMMIT_ENDPOINT` and ccemu's CA trusted for that
  URL only (`http.<url>.sslCAInfo`; a global GIT_SSL_CAINFO would break every other https host);
- SSH: the host keys for known_hosts and the `~/.ssh/config` block for an SSH key id;

plus the environment variables that point boto3 and the aws CLI at it (`AWS_ENDPOINT_URL`).

With `--aws-clone-urls` (for a server started with it), AWS's own clone URLs reach ccemu with an
unchanged git: one `url.<ccemu>.insteadOf https://git-codecommit.{region}.amazonaws.com/` rule
per region (insteadOf matches a prefix and takes no wildcard), so git, and the credential helper
it asks, see ccemu's URL; and an ssh `Host git-codecommit.*.amazonaws.com` block that connects
to ccemu's SSH port, whose host key is then checked under ccemu's own name and port.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from emulator.config import DEFAULT_REGION, DEFAULT_ROOT_ACCESS_KEY, DEFAULT_ROOT_SECRET_KEY
from emulator.repos.client_setup import (  # the pieces the console's connection steps show too
    HELPER,
    Setup,
    environment,
    git_settings,
    ssh_config_block,
    ssh_host_port,
)
from emulator.repos.clone_urls import SSH_HOST_PATTERNS, codecommit_regions, git_host

__all__ = ["HELPER", "Setup", "add_arguments", "run", "script", "setup_from", "write"]

# What every insteadOf rule of ours has as its value (an ERE, for `git config`): removed before
# ours are written, so rules left by an earlier run on other ports do not win ties.
_AWS_REWRITE_VALUES = r"^https://git-codecommit\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/$"
# Marks the ~/.ssh/config block for CodeCommit's hosts, replaced as a whole on every --write.
_SSH_BLOCK_START = "# ccemu: CodeCommit git hosts (ccemu configure --aws-clone-urls)"
_SSH_BLOCK_END = "# ccemu: end"


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
    parser.add_argument(
        "--aws-clone-urls",
        action="store_true",
        default=os.environ.get("CCEMU_AWS_CLONE_URLS", "").strip().lower()
        in ("1", "true", "yes", "on"),
        help="also send AWS's clone URLs (https:// and ssh://git-codecommit.REGION.amazonaws.com)"
        " to ccemu, for a server run with --aws-clone-urls; they then no longer reach AWS"
        " (env CCEMU_AWS_CLONE_URLS=1)",
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
        aws_clone_urls=args.aws_clone_urls,
    )


def aws_rewrites(setup: Setup) -> tuple[str, list[str]]:
    """The insteadOf rules for AWS's https clone URLs: (ccemu's base URL, the prefixes it stands
    for), one per region CodeCommit has and the configured one. The https listener if there is
    one, as the URLs say https; else the http port (insteadOf may change the scheme)."""
    base = (setup.https or setup.http) + "/"
    regions = list(codecommit_regions())
    if setup.region not in regions:
        regions.append(setup.region)
    return base, [f"https://{git_host(region)}/" for region in regions]


def aws_ssh_config_block(setup: Setup) -> str | None:
    """~/.ssh/config for AWS's ssh clone URLs: CodeCommit's host names connect to ccemu. The host
    key is looked up under HostName and Port, the names `ccemu ssh-host-key` writes lines for."""
    where = ssh_host_port(setup)
    if where is None:
        return None
    host, port = where
    user = f"  User {setup.ssh_key_id}\n" if setup.ssh_key_id else ""
    return (
        f"{_SSH_BLOCK_START}\n"
        f"Host {' '.join(SSH_HOST_PATTERNS)}\n"
        f"  HostName {host}\n"
        f"  Port {port}\n"
        f"{user}"
        f"  IdentityFile {setup.identity_file}\n"
        "  IdentitiesOnly yes\n"
        f"{_SSH_BLOCK_END}\n"
    )


def _aws_script(setup: Setup) -> list[str]:
    q = shlex.quote
    base, prefixes = aws_rewrites(setup)
    key = f"url.{base}.insteadOf"
    out = [
        "",
        "# AWS's clone URLs (cloneUrlHttp / cloneUrlSsh of 'ccemu serve --aws-clone-urls'): git",
        "# sends https://git-codecommit.REGION.amazonaws.com/ to ccemu, one rule per region",
        f"git config --global --get-regexp '^url\\..*\\.insteadof$' {q(_AWS_REWRITE_VALUES)}"
        " | cut -d' ' -f1 | sort -u | while read -r k; do"
        f' git config --global --unset-all "$k" {q(_AWS_REWRITE_VALUES)}; done',
        *(f"git config --global --add {q(key)} {q(prefix)}" for prefix in prefixes),
    ]
    block = aws_ssh_config_block(setup)
    if block is not None:
        out += [
            "# ... and ssh sends ssh://git-codecommit.REGION.amazonaws.com to ccemu (the block",
            "# an earlier run wrote is replaced)",
            "touch ~/.ssh/config && awk '/^# ccemu: CodeCommit git hosts/{s=1} !s{print}"
            " /^# ccemu: end$/{s=0}' ~/.ssh/config > ~/.ssh/config.ccemu"
            " && mv ~/.ssh/config.ccemu ~/.ssh/config",
            "cat >> ~/.ssh/config <<'EOF'",
            block.rstrip("\n"),
            "EOF",
        ]
    out.append(f"#   git clone https://{git_host(setup.region)}/v1/repos/REPOSITORY")
    return out


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
    where = ssh_host_port(setup)
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
    if setup.aws_clone_urls:
        out += _aws_script(setup)
    return "\n".join(out) + "\n"


def write(setup: Setup) -> None:
    """Apply the git and ssh parts to the user's files."""
    for key, value in git_settings(setup):
        subprocess.run(["git", "config", "--global", key, value], check=True)
    if setup.aws_clone_urls:
        _write_aws_rewrites(setup)
    where = ssh_host_port(setup)
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
    aws_block = aws_ssh_config_block(setup) if setup.aws_clone_urls else None
    if aws_block is not None:
        config = ssh_dir / "config"
        text = config.read_text() if config.exists() else ""
        config.write_text(_replace_ssh_block(text, aws_block))


def _write_aws_rewrites(setup: Setup) -> None:
    found = subprocess.run(
        ["git", "config", "--global", "--get-regexp", r"^url\..*\.insteadof$", _AWS_REWRITE_VALUES],
        capture_output=True,
        text=True,
    ).stdout
    for key in sorted({line.split(" ", 1)[0] for line in found.splitlines() if line}):
        subprocess.run(
            ["git", "config", "--global", "--unset-all", key, _AWS_REWRITE_VALUES], check=True
        )
    base, prefixes = aws_rewrites(setup)
    for prefix in prefixes:
        subprocess.run(
            ["git", "config", "--global", "--add", f"url.{base}.insteadOf", prefix], check=True
        )


def _replace_ssh_block(text: str, block: str) -> str:
    """`text` with our marked block replaced by `block` (or `block` appended)."""
    start = text.find(_SSH_BLOCK_START)
    end = text.find(_SSH_BLOCK_END, start) if start != -1 else -1
    if start != -1 and end != -1:
        end = text.find("\n", end)
        return text[:start] + block + (text[end + 1 :] if end != -1 else "")
    return text + ("\n" if text and not text.endswith("\n") else "") + block


def ca_overrides(environ: Mapping[str, str], setup: Setup) -> list[str]:
    """Warnings for CA variables in the environment that would override the per-URL CA this
    setup writes (git reads GIT_SSL_CAINFO before any http.<url>.sslCAInfo; boto3 and the aws
    CLI trust only AWS_CA_BUNDLE when it is set)."""
    if setup.https is None:
        return []
    ca = setup.data_dir / "tls" / "ca.pem"
    notes = []
    for name, who in (("GIT_SSL_CAINFO", "git"), ("AWS_CA_BUNDLE", "boto3 and the aws CLI")):
        value = environ.get(name)
        if value:
            notes.append(
                f"warning: {name}={value} is set: {who} will trust only that file, not the CA"
                f" configured for {setup.https}; unset it, or make it a bundle that also holds"
                f" {ca}"
            )
    return notes


def run(args: argparse.Namespace) -> int:
    setup = setup_from(args)
    for note in ca_overrides(os.environ, setup):
        print(f"ccemu configure: {note}", file=sys.stderr)
    if args.write:
        write(setup)
        print("# git and ssh are set up; the environment variables still need exporting:")
        print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in environment(setup).items()))
        return 0
    sys.stdout.write(script(setup))
    return 0
