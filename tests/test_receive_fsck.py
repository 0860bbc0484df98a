"""Objects git accepts from old or unusual histories must be accepted by a push too; objects git
refuses (and trees that could overwrite .git) are still refused. Pushed with the git CLI over
smart HTTP; unit checks cover rules too fiddly to push one by one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import git
from test_git_bad_input import Pushed, write_object
from test_git_bad_input import pushed as pushed  # the fixture
from test_git_http import remote_refs

from emulator.config import Limits
from emulator.repos.object_checks import (
    COMMIT,
    TAG,
    TREE,
    ObjectCheckError,
    TreeVerdicts,
    check_raw_object,
    is_dotgit_name,
)

SHA = bytes(range(20))
HEX = SHA.hex()


def tree_bytes(*entries: tuple[bytes, bytes, str]) -> bytes:
    return b"".join(mode + b" " + name + b"\0" + bytes.fromhex(sha) for mode, name, sha in entries)


def all_objects(env: dict[str, str], repo: Path) -> set[str]:
    out = git(
        env,
        "cat-file",
        "--batch-all-objects",
        "--batch-check=%(objectname) %(objecttype)",
        cwd=repo,
    ).stdout
    return set(out.splitlines())


def raw_object(env: dict[str, str], repo: Path, sha: str) -> bytes:
    kind = git(env, "cat-file", "-t", sha, cwd=repo).stdout.strip()
    return subprocess.run(
        ["git", "cat-file", kind, sha], cwd=repo, env=env, check=True, capture_output=True
    ).stdout


def clone_back(p: Pushed, tmp_path: Path) -> Path:
    dest = tmp_path / "back.git"
    git(p.env, "clone", "--mirror", "-q", p.url, str(dest))
    assert git(p.env, "fsck", "--no-dangling", cwd=dest).returncode == 0
    return dest


def test_zero_padded_tree_modes_are_accepted(pushed: Pushed, tmp_path: Path) -> None:
    """Old git wrote directory entries as `040000` (fsck: zeroPaddedFilemode). Histories such
    as flask's carry such trees, and CodeCommit accepts them."""
    env, work = pushed.env, pushed.work
    blob = write_object(env, work, "blob", b"hello\n")
    inner = write_object(env, work, "tree", tree_bytes((b"100644", b"f.txt", blob)))
    outer = write_object(
        env, work, "tree", tree_bytes((b"040000", b"dir", inner), (b"0100644", b"top.txt", blob))
    )
    commit = write_object(
        env,
        work,
        "commit",
        f"tree {outer}\nparent {pushed.shas[-1]}\n"
        "author A U Thor <a@example.com> 1112911993 -0700\n"
        f"committer A U Thor <a@example.com> 1112911993 -0700\n\nold-style tree\n".encode(),
    )
    out = git(env, "push", "origin", f"{commit}:refs/heads/main", cwd=work, check=False)
    assert out.returncode == 0, out.stderr
    assert remote_refs(env, pushed.url)["refs/heads/main"] == commit
    back = clone_back(pushed, tmp_path)
    for sha in (commit, outer, inner, blob):
        assert raw_object(env, back, sha) == raw_object(env, work, sha)
    assert raw_object(env, back, outer).startswith(b"040000 dir\0")
    # The raw tree is stored byte for byte: its id is the hash of the zero-padded form.
    assert git(env, "rev-parse", f"{commit}^{{tree}}", cwd=back).stdout.strip() == outer
    assert all_objects(env, back) >= {f"{outer} tree", f"{inner} tree", f"{commit} commit"}


def test_git_accepted_commit_and_tag_oddities(pushed: Pushed, tmp_path: Path) -> None:
    """A tag without a tagger (as git's own v0.99 is), an author line with extra blanks before
    the date, and an `encoding` header after a `mergetag`: git's fsck accepts them all."""
    env, work = pushed.env, pushed.work
    tree = git(env, "rev-parse", f"{pushed.shas[-1]}^{{tree}}", cwd=work).stdout.strip()
    commit = write_object(
        env,
        work,
        "commit",
        f"tree {tree}\nparent {pushed.shas[-1]}\n"
        "author Old Timer <old@example.com>  1112911993 +0000\n"
        "committer Old Timer <old@example.com> 1112911993 +0000\n"
        "mergetag object 0000000000000000000000000000000000000000\n type commit\n"
        "encoding ISO-8859-1\n\nodd header order\n".encode(),
    )
    tag = write_object(
        env, work, "tag", f"object {commit}\ntype commit\ntag v0.99\n\nno tagger here\n".encode()
    )
    git(env, "update-ref", "refs/tags/v0.99", tag, cwd=work)
    out = git(
        env, "push", "origin", f"{commit}:refs/heads/main", "refs/tags/v0.99", cwd=work, check=False
    )
    assert out.returncode == 0, out.stderr
    refs = remote_refs(env, pushed.url)
    assert refs["refs/heads/main"] == commit and refs["refs/tags/v0.99"] == tag
    back = clone_back(pushed, tmp_path)
    for sha in (tag, commit):
        assert raw_object(env, back, sha) == raw_object(env, work, sha)


@pytest.mark.parametrize(
    ("author", "msg_id"),
    [
        (b"A <a@b> 1700000000 +00000", "badTimezone"),
        (b"A <a@b> 1700000000 0000", "badTimezone"),
        (b"A <a@b> 01700000000 +0000", "zeroPaddedDate"),
        (b"A <a@b>1700000000 +0000", "missingSpaceBeforeDate"),
        (b"A<a@b> 1700000000 +0000", "missingSpaceBeforeEmail"),
        (b"<a@b> 1700000000 +0000", "missingNameBeforeEmail"),
        (b"A a@b> 1700000000 +0000", "badName"),
        (b"A <a<b> 1700000000 +0000", "badEmail"),
        (b"A a@b 1700000000 +0000", "missingEmail"),
        (b"A <a@b> +0000", "badDate"),
        (b"A <a@b> 99999999999999999999 +0000", "badDateOverflow"),
    ],
)
def test_commit_identity_errors_git_refuses(author: bytes, msg_id: str) -> None:
    commit = b"tree " + HEX.encode() + b"\nauthor " + author + b"\ncommitter C <c@d> 1 +0000\n\nm"
    with pytest.raises(ObjectCheckError, match=msg_id):
        check_raw_object(COMMIT, commit, b"1" * 40, Limits())


def test_commit_and_tag_rules() -> None:
    limits, me = Limits(), b"1" * 40
    good = (
        b"tree "
        + HEX.encode()
        + b"\nparent "
        + HEX.encode()
        + b"\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 -0130\n\nmsg\0with NUL in the body"
    )
    assert check_raw_object(COMMIT, good, me, limits) == [SHA, SHA]
    bad = {
        b"author A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\n": "missingTree",
        b"tree " + HEX.encode()[:39] + b"\nauthor A <a@b> 1 +0000\n\n": "badTreeSha1",
        b"tree " + HEX.encode() + b"\ncommitter A <a@b> 1 +0000\n\n": "missingAuthor",
        b"tree " + HEX.encode() + b"\nauthor A <a@b> 1 +0000\nauthor A <a@b> 1 +0000\n"
        b"committer A <a@b> 1 +0000\n\n": "multipleAuthors",
        b"tree " + HEX.encode() + b"\nauthor A <a@b> 1 +0000\n\n": "missingCommitter",
        b"tree " + HEX.encode() + b"\nauthor A <a\0@b> 1 +0000\n": "nulInHeader",
        b"tree " + HEX.encode() + b"\nauthor A <a@b> 1 +0000": "unterminatedHeader",
    }
    for data, msg_id in bad.items():
        with pytest.raises(ObjectCheckError, match=msg_id):
            check_raw_object(COMMIT, data, me, limits)
    tag = b"object " + HEX.encode() + b"\ntype blob\ntag \n\nempty names are only reported"
    assert check_raw_object(TAG, tag, me, limits) == [SHA]
    for data, msg_id in {
        b"object " + HEX.encode() + b"\ntype thing\ntag t\n\n": "badType",
        b"object " + HEX.encode() + b"\ntag t\n\n": "missingTypeEntry",
        b"object " + HEX.encode() + b"\ntype tag\n\n": "missingTagEntry",
        b"object " + HEX.encode() + b"\ntype tag\ntag t\ntagger nobody\n\n": "missingEmail",
        b"type tag\ntag t\n\n": "missingObject",
    }.items():
        with pytest.raises(ObjectCheckError, match=msg_id):
            check_raw_object(TAG, data, me, limits)


def test_tree_rules() -> None:
    limits, me = Limits(), b"1" * 40
    ok = tree_bytes(
        (b"100644", b"a.c", HEX),
        (b"040000", b"a", HEX),
        (b"100664", b"b", HEX),
        (b"160000", b"sub", HEX),
        (b"120000", b"z", HEX),
    )
    assert check_raw_object(TREE, ok, me, limits) == [SHA] * 4  # no submodule commit
    for data, msg_id in {
        tree_bytes((b"100644", b"b", HEX), (b"100644", b"a", HEX)): "treeNotSorted",
        tree_bytes((b"40000", b"a", HEX), (b"100644", b"a.c", HEX)): "treeNotSorted",
        tree_bytes((b"100644", b"a", HEX), (b"40000", b"a", HEX)): "duplicateEntries",
        tree_bytes((b"10064x", b"a", HEX)): "badTree",
        tree_bytes((b"100644", b"a", HEX))[:-1]: "badTree",
        tree_bytes((b"100644", b"", HEX)): "emptyName",
        tree_bytes((b"100644", b"a/b", HEX)): "fullPathname",
        tree_bytes((b"40000", b".", HEX)): "hasDot",
        tree_bytes((b"40000", b"..", HEX)): "hasDotdot",
        tree_bytes((b"40000", b".GIT", HEX)): "hasDotgit",
        tree_bytes((b"120000", b".gitmodules", HEX)): "gitmodulesSymlink",
    }.items():
        with pytest.raises(ObjectCheckError, match=msg_id):
            check_raw_object(TREE, data, me, limits)


def test_a_tree_that_only_looks_like_a_checked_one_is_checked_in_full() -> None:
    """A push's trees are checked once per listing of modes and names (`TreeVerdicts`): a
    malformed tree whose listing, ids cut out, reads like a checked tree's must still be
    refused, and a tree with a checked listing names its own ids, never the checked tree's."""
    limits, me = Limits(), b"1" * 40
    verdicts = TreeVerdicts()
    specials: dict[bytes, str] = {}
    other = bytes(range(20, 40))
    entries = [(b"100644", b".gitmodules", HEX), (b"160000", b"sub", HEX), (b"100644", b"z", HEX)]
    checked = tree_bytes(*entries)
    assert check_raw_object(TREE, checked, me, limits, specials, verdicts) == [SHA, SHA]
    assert specials == {SHA: ".gitmodules"}
    # the same listing with other ids: those ids are named, the .gitmodules among them
    again = tree_bytes(*[(mode, name, other.hex()) for mode, name, _ in entries])
    specials.clear()
    assert check_raw_object(TREE, again, me, limits, specials, verdicts) == [other, other]
    assert specials == {other: ".gitmodules"}
    # the last id missing: cutting ids out still leaves the checked listing
    for bad in (checked[:-20], checked[:-1], checked + b"\0" * 20):
        with pytest.raises(ObjectCheckError, match="badTree"):
            check_raw_object(TREE, bad, me, limits, specials, verdicts)


@pytest.mark.parametrize(
    "name",
    [
        b".git",
        b".GIT",
        b".Git.",
        b".git ",
        b"git~1",
        b"GIT~1",
        b".g\xe2\x80\x8cit",
        b"\xe2\x80\x8c.git",
        b".git::$INDEX_ALLOCATION",
        b"a\\.git",
        b"x\\git~1",
    ],
)
def test_dotgit_spellings(name: bytes) -> None:
    assert is_dotgit_name(name)


@pytest.mark.parametrize(
    "name", [b"git", b".gitignore", b"gitx", b"a.git", b"README", b"g", b".", b"\xff\xfe"]
)
def test_not_dotgit(name: bytes) -> None:
    assert not is_dotgit_name(name)
