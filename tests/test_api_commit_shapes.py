"""GetCommit on commits of less usual shapes (a signature folded over many lines, an encoding
header, a merge tag, a name with runs of spaces, offsets with minutes, no message) reads
them as `git cat-file` shows them: the quick reader of the usual shape must hand these over
intact."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from conftest import Server, git

TREE_LINE = "tree {tree}\n"
AUTHOR = "author A. Person <a@example.com> 1700000000 -0130\n"
COMMITTER = "committer C <c@example.com> 1700000060 +0545\n"

SHAPES = [
    TREE_LINE + AUTHOR + COMMITTER + "\nplain\n",
    TREE_LINE
    + "parent {parent}\n"
    + AUTHOR
    + COMMITTER
    + "gpgsig -----BEGIN PGP SIGNATURE-----\n \n wsBcBAABCAAQ\n -----END PGP SIGNATURE-----\n"
    + "\nsigned\n\nwith a body\n",
    TREE_LINE + "parent {parent}\n" + AUTHOR + COMMITTER + "encoding ISO-8859-1\n\nlatin\n",
    TREE_LINE
    + "parent {parent}\n"
    + AUTHOR
    + COMMITTER
    + "mergetag object {parent}\n type commit\n tag v0\n\nmerged a tag\n",
    TREE_LINE
    + "author  Spaced   Name  <odd@example.com> 1700000000 +0000\n"
    + "committer Z <z@example.com> 1700000000 -0800\n\n",
    TREE_LINE + AUTHOR + "committer M <m@example.com> 1700000000 +0059\n\nminutes\n",
]


def _cat(work: Path, env: dict[str, str], sha: str) -> dict[str, Any]:
    raw = subprocess.run(
        ["git", "cat-file", "commit", sha], cwd=work, env=env, capture_output=True, check=True
    ).stdout.decode()
    head, _, message = raw.partition("\n\n")
    out: dict[str, Any] = {"commitId": sha, "parents": [], "message": message}
    for line in head.split("\n"):
        key, _, value = line.partition(" ")
        if key == "tree":
            out["treeId"] = value
        elif key == "parent":
            out["parents"].append(value)
        elif key in ("author", "committer"):
            name, _, rest = value.rpartition(" <")
            email, _, date = rest.partition("> ")
            out[key] = {"name": name, "email": email, "date": date}
    out["additionalData"] = ""
    return out


def test_get_commit_reads_folded_headers_and_odd_identities_as_git_shows_them(
    server: Server, cc: Any, git_env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    git(git_env, "init", "-q", "-b", "main", cwd=work)
    (work / "f.txt").write_text("f\n")
    git(git_env, "add", "f.txt", cwd=work)
    git(git_env, "commit", "-q", "-m", "base", cwd=work)
    parent = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    tree = git(git_env, "rev-parse", "HEAD^{tree}", cwd=work).stdout.strip()
    shas = []
    for shape in SHAPES:
        body = shape.format(tree=tree, parent=parent).encode()
        sha = git(
            git_env, "hash-object", "-t", "commit", "-w", "--stdin", cwd=work, input=body
        ).stdout.strip()
        shas.append(sha)
    for i, sha in enumerate(shas):
        git(git_env, "update-ref", f"refs/heads/shape{i}", sha, cwd=work)
    name = f"shapes-{uuid.uuid4().hex[:10]}"
    cc.create_repository(repositoryName=name)
    git(git_env, "push", "-q", server.git_url(name), "--all", cwd=work)
    for sha in shas:
        got = cc.get_commit(repositoryName=name, commitId=sha)["commit"]
        assert got == _cat(work, git_env, sha), sha
