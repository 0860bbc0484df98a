"""The client setups CodeCommit's console shows, pointed at this server: the pieces that
`ccemu configure` prints (or writes) and the console's connection steps show, so both say the
same thing.

- HTTPS: the aws CLI credential helper, scoped to ccemu's URL (`credential.<url>.helper`) so
  other git hosts keep their own helpers, with `UseHttpPath` as CodeCommit documents;
- HTTPS (GRC): git-remote-codecommit with `CODE_COMMIT_ENDPOINT` and ccemu's CA trusted for that
  URL only (`http.<url>.sslCAInfo`);
- SSH: the `~/.ssh/config` block for an SSH key id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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
    aws_clone_urls: bool = False


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


def ssh_host_port(setup: Setup) -> tuple[str, int] | None:
    if setup.ssh is None:
        return None
    parts = urlsplit(setup.ssh)
    return parts.hostname or "127.0.0.1", parts.port or 22


def ssh_config_block(setup: Setup) -> str | None:
    where = ssh_host_port(setup)
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
