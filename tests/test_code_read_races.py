"""A code read that began before a push: the refs it reads may name commits in a pack published
after it listed the packs."""

from __future__ import annotations

from pathlib import Path

from conftest import ACCOUNT, REGION, Server, git, make_commits

from emulator.config import Config
from emulator.core import Emulator
from emulator.repos.code import CodeReader
from emulator.repos.commits import PutFile, commit_changes


def test_branch_moved_by_a_push_after_the_read_began_is_still_found(
    fresh_server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    fresh_server.client().create_repository(repositoryName="r")
    tip = make_commits(git_env, work, 2)[-1]
    git(git_env, "push", "-q", fresh_server.git_url("r"), "HEAD:refs/heads/main", cwd=work)
    fresh_server.stop()
    emu = Emulator(Config(data_dir=fresh_server.data_dir))
    try:
        repository = emu.repos.get(ACCOUNT, REGION, "r")
        with CodeReader(emu.repos, repository, emu.pack_cache) as reader:
            # The reader has listed the packs; a commit now adds one and moves the branch,
            # through the write path every push and PutFile takes.
            built = commit_changes(
                emu.repos,
                repository,
                "main",
                tip,
                actor=f"arn:aws:iam::{ACCOUNT}:root",
                puts=[PutFile("new.txt", b"new\n")],
                default_message="Added new.txt",
            )
            new = built.commit.id.decode()
            assert reader.resolve("main") == new
            found = reader.get(new)
            assert found is not None and found[0] == 1  # the commit, from the new pack
    finally:
        emu.close()
