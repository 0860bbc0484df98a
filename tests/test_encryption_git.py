"""Encryption at rest, end to end: the real git CLI pushes uncompressed content to a real ccemu,
and nothing of it can be found anywhere under the data dir; clones and fetches get the exact
bytes back; a damaged stored file makes git fail cleanly and the API answer
EncryptionIntegrityChecksFailedException, while the server keeps serving."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import Server, git, make_commits
from maintenance import run_maintenance
from test_git_http import assert_serving, create_repo, repo_dir

PACK_SIGNATURE = b"PACK\x00\x00\x00\x02"
NO_COMPRESSION = ("-c", "core.compression=0", "-c", "pack.compression=0")


def every_file(root: Path) -> Iterator[Path]:
    for dirpath, _, names in os.walk(root):
        for name in names:
            yield Path(dirpath) / name


def assert_absent(root: Path, secrets: list[bytes]) -> int:
    """No file under `root` holds any of `secrets` or a pack; returns how many were read."""
    count = 0
    for path in every_file(root):
        data = path.read_bytes()
        count += 1
        for secret in secrets:
            assert secret not in data, f"{secret!r} found in {path}"
        assert not data.startswith(b"PACK"), f"{path} is a plaintext pack"
        assert PACK_SIGNATURE not in data, f"{path} holds a pack signature"
        assert b"\xfftOc\x00\x00\x00\x02" not in data, f"{path} holds a plaintext pack index"
    return count


def write_secret_files(work: Path, marker: str) -> dict[str, bytes]:
    files = {
        "small.txt": f"{marker}\n".encode(),
        # spans several 64 KiB segments, and the marker crosses a segment boundary somewhere
        "big.txt": "".join(f"{i:08d} {marker}\n" for i in range(20_000)).encode(),
        "binary.bin": os.urandom(100_000) + marker.encode(),
    }
    for name, data in files.items():
        (work / name).write_bytes(data)
    return files


def test_nothing_pushed_is_readable_in_the_data_dir(
    fresh_server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    srv = fresh_server
    create_repo(srv, repo_name)
    url = srv.git_url(repo_name)
    marker = f"secret-marker-{uuid.uuid4().hex}"
    message = f"commit message {uuid.uuid4().hex}"
    work = tmp_path / "work"
    work.mkdir()
    git(git_env, "init", "-q", "-b", "main", cwd=work)
    files = write_secret_files(work, marker)
    git(git_env, "add", ".", cwd=work)
    git(git_env, "commit", "-q", "-m", message, cwd=work)
    # The client's own objects hold the marker as it is: the check below can see it.
    assert any(marker.encode() in p.read_bytes() for p in every_file(work / ".git" / "objects"))
    git(git_env, *NO_COMPRESSION, "push", url, "main", cwd=work)
    # A second push (a thin pack completed with stored bases on receive) and a tag.
    (work / "small.txt").write_bytes(f"{marker} again\n".encode())
    git(git_env, "commit", "-q", "-am", f"{message} 2", cwd=work)
    git(git_env, "tag", "-a", "v1", "-m", f"tag {message}", cwd=work)
    git(git_env, *NO_COMPRESSION, "push", url, "main", "v1", cwd=work)

    secrets = [marker.encode(), message.encode(), marker.encode()[::-1][:20]]
    assert assert_absent(srv.data_dir, secrets) > 3
    assert not list((repo_dir(srv, repo_name) / "incoming").glob("*"))

    clone = tmp_path / "clone"
    git(git_env, "clone", url, str(clone))
    git(git_env, "fsck", "--strict", cwd=clone)
    files["small.txt"] = f"{marker} again\n".encode()
    for name, data in files.items():
        assert (clone / name).read_bytes() == data
    assert (
        git(git_env, "rev-parse", "HEAD", cwd=clone).stdout
        == git(git_env, "rev-parse", "HEAD", cwd=work).stdout
    )

    more = make_commits(git_env, work, 3)
    git(git_env, *NO_COMPRESSION, "push", url, "main", cwd=work)
    git(git_env, "fetch", "origin", cwd=clone)
    assert git(git_env, "rev-parse", "origin/main", cwd=clone).stdout.strip() == more[-1]
    git(git_env, "fsck", "--strict", cwd=clone)
    assert_absent(srv.data_dir, secrets)


def test_merged_packs_are_encrypted_too(
    fresh_server: Server, git_env: dict[str, str], repo_name: str, tmp_path: Path
) -> None:
    """Enough pushes to make the server merge its packs: the merged pack is encrypted, and
    its scratch files are gone."""
    srv = fresh_server
    create_repo(srv, repo_name)
    url = srv.git_url(repo_name)
    marker = f"merge-marker-{uuid.uuid4().hex}"
    work = tmp_path / "work"
    for i in range(18):
        make_commits(git_env, work, 1)
        (work / f"m{i}.txt").write_text(f"{marker} {i}\n" * 50)
        git(git_env, "add", ".", cwd=work)
        git(git_env, "commit", "-q", "-m", f"{marker} commit {i}", cwd=work)
        git(git_env, *NO_COMPRESSION, "push", "-q", url, "main", cwd=work)
    run_maintenance(srv)  # merging happens in the background, after the pushes
    packs = list((repo_dir(srv, repo_name) / "objects" / "pack").glob("*.pack"))
    retired = list((repo_dir(srv, repo_name) / "objects" / "pack").glob("*.retired"))
    assert retired, "the server did not merge its packs"
    assert len(packs) > len(retired)
    assert_absent(srv.data_dir, [marker.encode()])
    clone = tmp_path / "clone"
    git(git_env, "clone", url, str(clone))
    git(git_env, "fsck", "--strict", cwd=clone)
    assert (clone / "m17.txt").read_text() == f"{marker} 17\n" * 50


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x04
    elif how == "truncate":
        del data[-100:]
    elif how == "header":
        data[6] ^= 0x01  # the segment size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("suffix", "how"), [("pack", "flip"), ("pack", "truncate"),
                                             ("idx", "flip"), ("pack", "header")])  # fmt: skip
def test_a_damaged_stored_file_fails_cleanly(
    fresh_server: Server,
    git_env: dict[str, str],
    repo_name: str,
    tmp_path: Path,
    suffix: str,
    how: str,
) -> None:
    srv = fresh_server
    create_repo(srv, repo_name)
    url = srv.git_url(repo_name)
    work = tmp_path / "work"
    shas = make_commits(git_env, work, 2)
    git(git_env, "push", url, "main", cwd=work)
    (stored,) = (repo_dir(srv, repo_name) / "objects" / "pack").glob(f"*.{suffix}")
    damage(stored, how)

    proc = git(git_env, "clone", url, str(tmp_path / "clone"), check=False)
    assert proc.returncode != 0
    with pytest.raises(ClientError) as info:
        srv.client().create_branch(
            repositoryName=repo_name, branchName="from-damaged", commitId=shas[0]
        )
    assert info.value.response["Error"]["Code"] == "EncryptionIntegrityChecksFailedException"
    assert_serving(srv, git_env)
    # an intact repository on the same server still clones
    other = f"intact-{uuid.uuid4().hex[:8]}"
    create_repo(srv, other)
    git(git_env, "push", srv.git_url(other), "main", cwd=work)
    git(git_env, "clone", srv.git_url(other), str(tmp_path / "intact"))
