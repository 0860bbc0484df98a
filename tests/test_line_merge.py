"""The line merge against git itself: seeded random three-way merges of short, repeated lines
(where many alignments are equally short and only xdiff's own choices give git's conflicts),
long files whose diffs run past xdiff's cost cutoffs, and a few realistic edits. Each merge's
output, conflict markers and labels included, must be byte for byte git's:

- `git merge-tree --write-tree` for `git merge` (merge-ort: histogram diff, level ZEALOUS),
  and with `merge.conflictStyle=diff3` (level EAGER, base sections shown);
- `git merge-file -p` (Myers diff, level ZEALOUS_ALNUM), whose exit status counts the
  conflicts.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator.repos import line_merge as lm

Lines = list[bytes]

# Few distinct lines, some without a letter or digit (merge-file joins conflicts across them).
SHORT = [b"a\n", b"b\n", b"c\n", b"\n", b"}\n", b"{\n", b"x = 1\n"]


@dataclass(frozen=True)
class Case:
    name: str
    base: Lines
    ours: Lines
    theirs: Lines


def _edited(r: random.Random, lines: Lines, pool: Lines, edits: int, most: int) -> Lines:
    out = list(lines)
    for _ in range(edits):
        i = r.randrange(len(out) + 1)
        n = r.randrange(1, most + 1)
        op = r.randrange(3)
        if op == 0:
            out[i:i] = [r.choice(pool) for _ in range(n)]
        elif op == 1:
            del out[i : i + n]
        else:
            out[i : i + 1] = [r.choice(pool) for _ in range(n)]
    return out


def _short_case(r: random.Random, k: int) -> Case:
    vocabulary = SHORT[: r.randrange(2, len(SHORT) + 1)]
    base = [r.choice(vocabulary) for _ in range(r.randrange(0, 25))]
    sides = []
    for _ in range(2):
        side = _edited(r, base, SHORT, r.randrange(0, 6), 3)
        if side and r.random() < 0.1:  # a last line without its line feed
            side[-1] = side[-1].rstrip(b"\n") or b"z"
        sides.append(side)
    return Case(f"short{k:03}", base, sides[0], sides[1])


def _long_case(seed: int) -> Case:
    """Thousands of lines, many repeated, hundreds of edits a side: the split search passes
    XDL_HEUR_MIN_COST and the maximum cost, where xdiff settles for a good-enough path."""
    r = random.Random(seed)
    pool = [f"t{i}\n".encode() for i in range(r.choice([10, 50, 300]))]

    def line() -> bytes:
        return r.choice(pool) if r.random() < 0.7 else f"u{r.randrange(10**9)}\n".encode()

    base = [line() for _ in range(r.choice([2000, 4000]))]
    sides = [_edited(r, base, [*pool, line()], r.choice([300, 1000]), 4) for _ in range(2)]
    return Case(f"long{seed}", base, sides[0], sides[1])


FUNC = b"""def area(shape):
    if shape.kind == "square":
        return shape.side * shape.side
    if shape.kind == "circle":
        return 3.14 * shape.r * shape.r
    return 0


def perimeter(shape):
    if shape.kind == "square":
        return 4 * shape.side
    return 0
"""


def _realistic() -> list[Case]:
    def lines(text: bytes) -> Lines:
        return lm.lines_of(text)

    both_edit = Case(
        "real_same_function",
        lines(FUNC),
        lines(FUNC.replace(b"3.14", b"math.pi").replace(b"return 0\n\n\n", b"raise X\n\n\n")),
        lines(FUNC.replace(b"3.14", b"22 / 7").replace(b"4 * shape.side", b"shape.side * 4")),
    )
    moved = Case(
        "real_moved_block",
        lines(FUNC),
        lines(FUNC.split(b"\n\n\n")[1] + b"\n\n" + FUNC.split(b"\n\n\n")[0] + b"\n"),
        lines(FUNC.replace(b"return 0\n", b"return None\n")),
    )
    crlf = Case(
        "real_crlf",
        lines(FUNC.replace(b"\n", b"\r\n")),
        lines(FUNC.replace(b"\n", b"\r\n").replace(b"3.14", b"pi")),
        lines(FUNC.replace(b"\n", b"\r\n").replace(b"3.14", b"tau / 2")),
    )
    no_eol = Case(
        "real_no_final_newline",
        [b"one\n", b"two\n", b"three"],
        [b"one\n", b"two\n", b"three\n", b"four"],
        [b"one\n", b"two\n", b"three\n", b"five"],
    )
    same_change = Case(
        "real_same_change_between_conflicts",
        [f"line {i}\n".encode() for i in range(12)],
        [
            b"mine 1\n" if i == 1 else b"both 3\n" if i == 3 else f"line {i}\n".encode()
            for i in range(12)
        ],
        [
            b"yours 1\n" if i == 1 else b"both 3\n" if i == 3 else f"line {i}\n".encode()
            for i in range(12)
        ],
    )
    return [both_edit, moved, crlf, no_eol, same_change]


def _cases() -> list[Case]:
    r = random.Random(14)
    return [_short_case(r, k) for k in range(300)] + [_long_case(s) for s in (5, 7)] + _realistic()


CASES = _cases()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    return env


def _run(
    env: dict[str, str], cwd: Path, *args: str, ok: tuple[int, ...] = (0,), stdin: bytes = b""
) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True)
    assert proc.returncode in ok, proc.stderr.decode()
    return proc.stdout


@dataclass
class Oracle:
    merged: dict[str, bytes]  # git merge-tree's file, per case
    merged_diff3: dict[str, bytes]
    base_label: str


@pytest.fixture(scope="module")
def merge_tree(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    """Every case is one file of one repository; two merge-tree runs merge them all."""
    root = tmp_path_factory.mktemp("merge_tree")
    (root / "home").mkdir()
    env = _env(root / "home")
    work = root / "w"
    work.mkdir()
    _run(env, work, "init", "-q", "-b", "base")

    def commit(side: str) -> None:
        for case in CASES:
            (work / f"{case.name}.txt").write_bytes(b"".join(getattr(case, side)))
        _run(env, work, "add", "-A")
        _run(env, work, "commit", "-q", "--allow-empty", "-m", side)

    commit("base")
    _run(env, work, "checkout", "-q", "-b", "ours")
    commit("ours")
    _run(env, work, "checkout", "-q", "-b", "theirs", "base")
    commit("theirs")

    def merged(*config: str) -> dict[str, bytes]:
        out = _run(env, work, *config, "merge-tree", "--write-tree", "ours", "theirs", ok=(0, 1))
        tree = out.split(b"\n", 1)[0].decode()
        listing = _run(env, work, "ls-tree", "-r", tree).decode().splitlines()
        ids = {line.split("\t")[1]: line.split()[2] for line in listing}
        names = sorted(ids)
        wanted = "".join(f"{ids[n]}\n" for n in names).encode()
        batch = _run(env, work, "cat-file", "--batch", stdin=wanted)
        return dict(zip((n.removesuffix(".txt") for n in names), _batch_bodies(batch), strict=True))

    base_label = _run(env, work, "rev-parse", "--short", "base").decode().strip()
    return Oracle(merged(), merged("-c", "merge.conflictStyle=diff3"), base_label)


def _batch_bodies(out: bytes) -> list[bytes]:
    bodies = []
    while out:
        header, out = out.split(b"\n", 1)
        size = int(header.split()[2])
        bodies.append(out[:size])
        out = out[size + 1 :]
    return bodies


def _merge(case: Case, level: int) -> list[lm.Region]:
    return lm.merge(case.base, case.ours, case.theirs, level)  # git merge's histogram diff


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_repeated_lines_conflict_exactly_where_git_merge_conflicts(
    case: Case, merge_tree: Oracle
) -> None:
    regions = _merge(case, lm.ZEALOUS)
    got = lm.with_markers(case.base, case.ours, case.theirs, regions, ("ours", "theirs", ""))
    assert got == merge_tree.merged[case.name]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_diff3_base_sections_are_git_merges(case: Case, merge_tree: Oracle) -> None:
    regions = _merge(case, lm.EAGER)
    names = ("ours", "theirs", merge_tree.base_label)
    got = lm.with_markers(case.base, case.ours, case.theirs, regions, names, diff3=True)
    assert got == merge_tree.merged_diff3[case.name]


def test_merge_file_conflicts_match_git_merge_file(tmp_path: Path) -> None:
    """`git merge-file` diffs with Myers and joins conflicts across lines without letters or
    digits; its exit status is the number of conflicts (at most 127)."""
    env = _env(tmp_path)
    for case in CASES:
        paths = []
        for side in ("ours", "base", "theirs"):
            path = tmp_path / side
            path.write_bytes(b"".join(getattr(case, side)))
            paths.append(str(path))
        labels = ["-L", "ours", "-L", "base", "-L", "theirs"]
        proc = subprocess.run(
            ["git", "merge-file", "-p", *labels, *paths], env=env, capture_output=True
        )
        regions = lm.merge(case.base, case.ours, case.theirs, lm.ZEALOUS_ALNUM, lm.MYERS)
        got = lm.with_markers(case.base, case.ours, case.theirs, regions, ("ours", "theirs", ""))
        assert got == proc.stdout, case.name
        # merge-file caps its exit status at 127
        assert min(sum(r.kind == lm.CONFLICT for r in regions), 127) == proc.returncode
