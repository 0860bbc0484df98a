"""`git archive --remote` over SSH: git-upload-archive in tar, tar.gz and zip, with prefixes,
paths and sub-trees; refused requests are NACKed with a reason and change nothing."""

from __future__ import annotations

import io
import subprocess
import tarfile
import uuid
import zipfile
from pathlib import Path

from conftest import MakeGitUser, Server, git, needs_openssh

pytestmark = needs_openssh


def _repo(server: Server, user_env: dict[str, str], url: str, work: Path) -> str:
    work.mkdir(parents=True)
    git(user_env, "init", "-q", "-b", "main", cwd=work)
    (work / "README.md").write_text("hello archive\n")
    (work / "src").mkdir()
    (work / "src" / "app.py").write_text("print('hi')\n")
    (work / "run.sh").write_text("#!/bin/sh\necho run\n")
    (work / "run.sh").chmod(0o755)
    (work / "link").symlink_to("README.md")
    git(user_env, "add", ".", cwd=work)
    git(user_env, "commit", "-q", "-m", "files", cwd=work)
    git(user_env, "tag", "-a", "v1", "-m", "v1", cwd=work)
    git(user_env, "push", "-q", url, "main", "v1", cwd=work)
    return git(user_env, "rev-parse", "HEAD", cwd=work).stdout.strip()


def _archive(env: dict[str, str], url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "archive", f"--remote={url}", *args],
        env=env,
        capture_output=True,
        timeout=120,
    )


def test_archive_formats_match_local_git_archive(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    user = make_git_user()
    name = f"arch-{uuid.uuid4().hex[:8]}"
    server.client().create_repository(repositoryName=name)
    env = user.ssh_env(git_env)
    url = user.ssh_url(name)
    work = tmp_path / "w"
    _repo(server, env, url, work)

    tar = _archive(env, url, "--format=tar", "main")
    assert tar.returncode == 0, tar.stderr
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert sorted(members) == ["README.md", "link", "run.sh", "src", "src/app.py"]
        assert tf.extractfile("README.md").read() == b"hello archive\n"  # type: ignore[union-attr]
        assert members["run.sh"].mode & 0o111
        assert members["link"].issym() and members["link"].linkname == "README.md"
        commit_time = int(git(env, "log", "-1", "--format=%ct", cwd=work).stdout)
        assert members["README.md"].mtime == commit_time

    zipped = _archive(env, url, "--format=zip", "--prefix=proj/", "v1")
    assert zipped.returncode == 0, zipped.stderr
    with zipfile.ZipFile(io.BytesIO(zipped.stdout)) as zf:
        assert zf.read("proj/src/app.py") == b"print('hi')\n"
        assert "proj/README.md" in zf.namelist()

    gz = _archive(env, url, "--format=tar.gz", "HEAD", "src")
    assert gz.returncode == 0, gz.stderr
    with tarfile.open(fileobj=io.BytesIO(gz.stdout), mode="r:gz") as tf:
        assert sorted(tf.getnames()) == ["src", "src/app.py"]

    sub = _archive(env, url, "main:src")
    assert sub.returncode == 0, sub.stderr
    with tarfile.open(fileobj=io.BytesIO(sub.stdout)) as tf:
        assert tf.getnames() == ["app.py"]


def test_refused_archive_requests_say_why(
    server: Server, make_git_user: MakeGitUser, git_env: dict[str, str], tmp_path: Path
) -> None:
    user = make_git_user()
    name = f"arch-{uuid.uuid4().hex[:8]}"
    server.client().create_repository(repositoryName=name)
    env = user.ssh_env(git_env)
    url = user.ssh_url(name)
    sha = _repo(server, env, url, tmp_path / "w")
    for args, reason in (
        (["no-such-branch"], "no such ref"),
        ([sha], "no such ref"),  # unreachable-by-name objects are not served, as git's default
        (["--format=rar", "main"], "unknown archive format"),
        (["--exec=/bin/sh", "main"], ""),
        (["main:missing"], "path not found"),
    ):
        proc = _archive(env, url, *args)
        assert proc.returncode != 0, args
        assert reason.encode() in proc.stderr, (args, proc.stderr)
    ok = _archive(env, url, "main")
    assert ok.returncode == 0

    # A user who may not pull gets nothing.
    blocked = make_git_user(managed=None)
    proc = _archive(blocked.ssh_env(git_env), blocked.ssh_url(name), "main")
    assert proc.returncode != 0
    assert b"codecommit:GitPull" in proc.stderr
    assert proc.stdout == b""
