"""The data dir is private: state, keys, certificates and packs are readable by their owner alone.

Another local user must not read policies, repository, branch and tag names from `state.db`, nor
copy the packs or the keys."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import Server, git, make_commits, start_server


def loose_modes(data_dir: Path) -> list[str]:
    """Every path under `data_dir` (itself included) that a group or other user can use."""
    found = []
    for path in [data_dir, *data_dir.rglob("*")]:
        st = os.lstat(path)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
            found.append(f"{oct(stat.S_IMODE(st.st_mode))} {path.relative_to(data_dir.parent)}")
    return found


def use_everything(server: Server, tmp_path: Path, git_env: dict[str, str]) -> None:
    """Make the server write every kind of file: state, a repository with packs, IAM secrets,
    SSH host keys, the TLS CA."""
    name = "private-modes"
    server.client().create_repository(repositoryName=name)
    work = tmp_path / "work"
    make_commits(git_env, work, 3)
    git(git_env, "push", "-q", server.git_url(name), "main", cwd=work)
    iam = server.client("iam")
    iam.create_user(UserName="modes")
    iam.create_access_key(UserName="modes")
    server.known_hosts()  # `ccemu ssh-host-key` reads (and may create) the host keys


def test_state_and_packs_are_not_readable_by_other_local_users(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)  # as a user would: `mkdir ccemu-data` with the usual umask 022
    os.chmod(data_dir, 0o755)  # noqa: S103 - the loose mode under test
    old = os.umask(0o022)  # the server must not depend on the umask it was started with
    try:
        server = start_server(data_dir, "--https-port", "0")
    finally:
        os.umask(old)
    try:
        use_everything(server, tmp_path, git_env)
        assert (data_dir / "state.db").exists()
        assert any(data_dir.glob("repos/*/objects/pack/*.pack"))
        assert loose_modes(data_dir) == []
    finally:
        server.stop()


def test_an_existing_data_dir_with_loose_modes_is_made_private_at_start(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        use_everything(server, tmp_path, git_env)
    finally:
        server.stop()
    # A data dir written by an older version, or copied in with `cp -r` under umask 022.
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert loose_modes(data_dir)
    server = start_server(data_dir)
    try:
        assert loose_modes(data_dir) == []
        clone = tmp_path / "clone"
        git(git_env, "clone", "-q", server.git_url("private-modes"), str(clone))
        assert git(git_env, "rev-list", "--count", "HEAD", cwd=clone).stdout.strip() == "3"
    finally:
        server.stop()
