"""Data safety of the pack store: racing identical pushes, crash leftovers, background
maintenance, and clones that never hand out what no ref reaches. Real `git` throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from emulator.repos import repack
from tests.conftest import Server, git, make_commits, start_server
from tests.maintenance import run_maintenance

PACK_DIR = Path("objects") / "pack"


def _repo_dir(srv: Server, name: str) -> Path:
    meta = srv.client().get_repository(repositoryName=name)["repositoryMetadata"]
    return srv.data_dir / "repos" / meta["repositoryId"]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _packs(root: Path) -> list[str]:
    """Visible packs: `.pack` with its `.idx`, not retired."""
    names = {p.name for p in (root / PACK_DIR).iterdir()}
    return sorted(
        n[: -len(".pack")]
        for n in names
        if n.endswith(".pack")
        and f"{n[: -len('.pack')]}.idx" in names
        and f"{n[: -len('.pack')]}.retired" not in names
    )


def _clone_and_fsck(env: dict[str, str], url: str, dest: Path) -> None:
    git(env, "clone", "-q", "--mirror", url, str(dest))
    git(env, "fsck", "--strict", "--no-dangling", cwd=dest)


def _push_at_once(env: dict[str, str], url: str, work: Path, count: int) -> list[int]:
    procs = [
        subprocess.Popen(
            ["git", "push", "-q", url, "main"],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    return [p.wait(timeout=120) for p in procs]


# -- identical concurrent pushes -------------------------------------------------------------


def test_identical_concurrent_pushes_do_not_lose_objects(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    """A CI retry: four pushes of the very same commit at once, round after round, while the
    collector runs right after every push. Every loser used to remove the pack the winner's
    ref needs; now a published pack stays, and only the collector removes what no ref
    reaches, never what a racing push relies on."""
    srv = start_server(tmp_path / "data", "--maintenance-delay", "0")
    try:
        name = "ci-retry"
        srv.client().create_repository(repositoryName=name)
        url = srv.git_url(name)
        work = tmp_path / "work"
        for round_no in range(4):
            make_commits(git_env, work, 2, prefix=f"r{round_no}")
            results = _push_at_once(git_env, url, work, 4)
            assert 0 in results, results  # at least one push was told ok
            head = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
            clone = tmp_path / f"clone-{round_no}"
            _clone_and_fsck(git_env, url, clone)
            assert git(git_env, "rev-parse", "main", cwd=clone).stdout.strip() == head
            run_maintenance(srv)
            again = tmp_path / f"again-{round_no}"
            _clone_and_fsck(git_env, url, again)
        assert srv.alive()
    finally:
        assert srv.stop() == 0


# -- crash leftovers ---------------------------------------------------------------------------


def test_start_up_removes_scratch_files_a_crash_left(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    """kill -9 during a push or a merge leaves half-published files in the pack dir and
    scratch files in the repository, and a pack whose objects no ref reaches; after a
    restart every kind is gone, disk use returns to what the stored packs need, and the
    repository still clones."""
    data = tmp_path / "data"
    srv = start_server(data, "--maintenance-delay", "3600")
    name = "crashed"
    srv.client().create_repository(repositoryName=name)
    url = srv.git_url(name)
    work = tmp_path / "work"
    make_commits(git_env, work, 3)
    git(git_env, "push", "-q", url, "main", cwd=work)
    run_maintenance(srv)
    root = _repo_dir(srv, name)
    kept = _files(root)
    packs = _packs(root)
    # a branch pushed and deleted, and no collector since: its pack is unreachable
    git(git_env, "checkout", "-q", "-b", "gone", cwd=work)
    [gone] = make_commits(git_env, work, 1, prefix="gone")
    git(git_env, "push", "-q", url, "gone", cwd=work)
    git(git_env, "push", "-q", url, "--delete", "gone", cwd=work)
    assert len(_packs(root)) == len(packs) + 1
    junk = os.urandom(256 * 1024)
    planted = [
        root / PACK_DIR / f".tmp-pack-{'a' * 40}.pack-0123456789abcdef",  # publish cut short
        root / PACK_DIR / f".tmp-pack-{'b' * 40}.idx-fedcba9876543210",
        root / PACK_DIR / f"pack-{'c' * 40}.pack",  # its index never published
        root / PACK_DIR / f"pack-{'d' * 40}.idx",  # an index without its pack
        root / "incoming" / "quarantine-x1y2z3.pack",  # a push's quarantine
        root / "incoming" / "quarantine-x1y2z3.idx",
        root / "incoming" / "merge-q9w8e7.pack",  # a merge's output
    ]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(junk)
    # A repository whose deletion was cut short between the metadata and its files.
    orphan = data / "repos" / str(uuid.uuid4())
    (orphan / PACK_DIR).mkdir(parents=True)
    (orphan / PACK_DIR / "pack-1.pack").write_bytes(junk)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()

    srv = start_server(data, "--maintenance-delay", "3600")
    try:
        assert not [p for p in planted if p.exists()]
        assert not orphan.exists()
        run_maintenance(srv)  # the pass every repository gets at start-up, done
        assert _packs(root) == packs  # the unreachable pack is retired
        clone = tmp_path / "clone"
        _clone_and_fsck(git_env, srv.git_url(name), clone)
        assert git(git_env, "cat-file", "-e", gone, cwd=clone, check=False).returncode != 0
    finally:
        assert srv.stop() == 0
    # Retired packs stay readable for requests that listed them; the next start deletes them.
    srv = start_server(data, "--maintenance-delay", "3600")
    try:
        assert _files(root) == kept
    finally:
        assert srv.stop() == 0


# -- maintenance off the request path ------------------------------------------------------------


def test_pushes_do_not_wait_for_pack_merging(tmp_path: Path, git_env: dict[str, str]) -> None:
    """Packs used to be merged inside the push request that made one too many, so that
    pusher waited for the merge. Now no push merges: the background pass does, when asked
    (here: never by itself, the delay is an hour), and a SIGTERM still stops at once."""
    srv = start_server(tmp_path / "data", "--maintenance-delay", "3600")
    try:
        name = "many-packs"
        srv.client().create_repository(repositoryName=name)
        url = srv.git_url(name)
        work = tmp_path / "work"
        for i in range(repack.CONSOLIDATE_AT + 1):
            make_commits(git_env, work, 1, prefix=f"p{i}")
            git(git_env, "push", "-q", url, "main", cwd=work)
        root = _repo_dir(srv, name)
        assert len(_packs(root)) == repack.CONSOLIDATE_AT + 1  # nothing merged by a push
        assert not list((root / PACK_DIR).glob("*.retired"))
        assert run_maintenance(srv) >= 1
        assert len(_packs(root)) < repack.CONSOLIDATE_AT
        _clone_and_fsck(git_env, url, tmp_path / "clone")
        # more work pending for the worker, which waits for its hour: SIGTERM ends it cleanly
        make_commits(git_env, work, 1, prefix="last")
        git(git_env, "push", "-q", url, "main", cwd=work)
    finally:
        assert srv.stop() == 0


def test_maintenance_endpoint_refuses_anyone_but_root(tmp_path: Path) -> None:
    import urllib.error

    srv = start_server(tmp_path / "data")
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            run_maintenance(srv, secret="wrong")
        assert err.value.code == 403
        assert run_maintenance(srv) >= 0  # still serving
    finally:
        srv.stop()


# -- clones send only what the refs reach --------------------------------------------------------


def _objects_in_clone(env: dict[str, str], clone: Path) -> tuple[int, int]:
    """(objects stored in the clone, loose or packed; objects its refs reach)."""
    counts = dict(
        line.split(": ", 1)
        for line in git(env, "count-objects", "-v", cwd=clone).stdout.splitlines()
    )
    stored = int(counts["count"]) + int(counts["in-pack"])
    reached = git(env, "rev-list", "--objects", "--all", cwd=clone).stdout.splitlines()
    return stored, len(reached)


def _assert_clone_has_no(env: dict[str, str], url: str, dest: Path, secrets: list[str]) -> None:
    git(env, "clone", "-q", "--mirror", url, str(dest))
    for sha in secrets:
        assert git(env, "cat-file", "-e", sha, cwd=dest, check=False).returncode != 0, sha
    stored, reached = _objects_in_clone(env, dest)
    assert stored == reached
    git(env, "fsck", "--strict", cwd=dest)


def test_clone_does_not_hand_out_deleted_or_force_pushed_away_secrets(
    tmp_path: Path, git_env: dict[str, str]
) -> None:
    """A secret pushed on a branch that is then deleted, and one force-pushed away from main,
    must not reach a new clone: not before the background collector has run (the clone walks
    what the refs reach) and not after (the stored packs then hold exactly that and go out as
    they are)."""
    srv = start_server(tmp_path / "data", "--maintenance-delay", "3600")
    try:
        name = "leaky"
        srv.client().create_repository(repositoryName=name)
        url = srv.git_url(name)
        work = tmp_path / "work"
        make_commits(git_env, work, 3)
        git(git_env, "tag", "-a", "v1", "-m", "release", cwd=work)
        git(git_env, "push", "-q", url, "main", "v1", cwd=work)

        # a branch with a secret, pushed, then deleted
        git(git_env, "checkout", "-q", "-b", "leak", cwd=work)
        (work / "credentials.txt").write_text(f"password={uuid.uuid4().hex}\n")
        git(git_env, "add", "credentials.txt", cwd=work)
        git(git_env, "commit", "-q", "-m", "oops", cwd=work)
        branch_secret = git(git_env, "rev-parse", "HEAD:credentials.txt", cwd=work).stdout.strip()
        branch_commit = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
        git(git_env, "push", "-q", url, "leak", cwd=work)
        git(git_env, "push", "-q", url, "--delete", "leak", cwd=work)

        # a secret on main, force-pushed away
        git(git_env, "checkout", "-q", "main", cwd=work)
        (work / "token.txt").write_text(f"token={uuid.uuid4().hex}\n")
        git(git_env, "add", "token.txt", cwd=work)
        git(git_env, "commit", "-q", "-m", "oops again", cwd=work)
        forced_secret = git(git_env, "rev-parse", "HEAD:token.txt", cwd=work).stdout.strip()
        forced_commit = git(git_env, "rev-parse", "HEAD", cwd=work).stdout.strip()
        git(git_env, "push", "-q", url, "main", cwd=work)
        git(git_env, "reset", "-q", "--hard", "HEAD~1", cwd=work)
        make_commits(git_env, work, 1, prefix="after")
        git(git_env, "push", "-q", "--force", url, "main", cwd=work)
        secrets = [branch_secret, branch_commit, forced_secret, forced_commit]

        _assert_clone_has_no(git_env, url, tmp_path / "before", secrets)
        _assert_clone_has_no(git_env, url, tmp_path / "before-again", secrets)  # cached answer
        run_maintenance(srv)
        _assert_clone_has_no(git_env, url, tmp_path / "after", secrets)
        # the repack keeps exactly what the refs reach: one pack, reused as it is
        assert len(_packs(_repo_dir(srv, name))) == 1
        # a fetch of new work after the repack is whole too
        clone = tmp_path / "after"
        make_commits(git_env, work, 2, prefix="later")
        git(git_env, "push", "-q", url, "main", cwd=work)
        git(git_env, "fetch", "-q", "origin", cwd=clone)
        git(git_env, "fsck", "--strict", cwd=clone)
    finally:
        assert srv.stop() == 0


# -- the collector and a push inside its ref window -------------------------------------------


def test_collector_keeps_what_a_push_between_check_and_ref_update_relies_on(
    tmp_path: Path, git_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push whose connectivity check found an object no ref reaches yet (the client left it
    out because the branch holding it was advertised, and the branch was deleted since) holds
    the ref window until its ref update. The collector must not retire that object's pack in
    between, or the new ref points at an object that is then deleted."""
    from emulator.repos import maintenance
    from emulator.repos.model import ZERO_SHA, RefUpdate
    from emulator.repos.pack_reader import PackCache, PackReader
    from emulator.repos.service import RepositoryService
    from emulator.state.db import Database

    work = tmp_path / "work"
    [kept] = make_commits(git_env, work, 1)
    git(git_env, "checkout", "-q", "-b", "gone", cwd=work)
    [orphan] = make_commits(git_env, work, 1, prefix="orphan")
    git(git_env, "repack", "-q", "-a", "-d", cwd=work)
    [idx] = (work / ".git" / PACK_DIR).glob("*.idx")

    db = Database(tmp_path / "state.db")
    try:
        repos = RepositoryService(db, tmp_path / "repos")
        repo = repos.create("123456789012", "us-east-1", "window")
        files = repos.files(repo)
        files.publish(f"objects/pack/{idx.stem}.pack", idx.with_suffix(".pack"))
        files.publish(f"objects/pack/{idx.stem}.idx", idx)
        main = RefUpdate(b"refs/heads/main", ZERO_SHA, kept.encode())
        assert repos.update_refs(repo, [main], atomic=True) == [None]

        # The collector gives up waiting quickly here; the outcome, not the wait, is tested.
        monkeypatch.setattr(maintenance, "LOCK_WAIT", 0.01)
        with repos.ref_window(repo):  # a push, past its connectivity check
            outcome = maintenance.maintain(repos, repo, PackCache())
            assert outcome is maintenance.Outcome.RETRY
            gone = RefUpdate(b"refs/heads/gone", ZERO_SHA, orphan.encode())
            assert repos.update_refs(repo, [gone], atomic=True) == [None]
        names = repos.object_store(repo).pack_names()
        with PackReader(files, names, PackCache()) as reader:
            assert bytes.fromhex(orphan) in reader
        # The next pass leaves one pack, holding exactly what both refs reach.
        assert maintenance.maintain(repos, repo, PackCache()) is maintenance.Outcome.RETIRED
        names = repos.object_store(repo).pack_names()
        assert len(names) == 1
        with PackReader(files, names, PackCache()) as reader:
            assert bytes.fromhex(orphan) in reader and bytes.fromhex(kept) in reader
    finally:
        db.close()
