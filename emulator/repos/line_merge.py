"""A three-way merge of lines, as git's `xdl_merge` makes it for `git merge` (merge-ort calls
`ll_merge`, which asks xdiff for `XDL_MERGE_ZEALOUS` with no diff flags: the classic Myers
algorithm with its cost cutoffs, no indent heuristic).

The steps are xdiff's (`xdiff/xmerge.c`, `xdl_merge` and `xdl_do_merge`):

1. diff the base against each side with xdiff's own diff (`emulator.repos.xdiff`), whose
   choices among equally short scripts (which of several repeated lines is kept, where a
   change group sits) decide the conflict regions;
2. walk both change lists: a change on one side only is taken from that side; changes that
   overlap *or touch* (git merges adjacent changes too) become one conflict, unless both sides
   made the very same change;
3. refine each conflict (zealous): diff the two sides' lines and keep only the lines that
   differ, which may split a conflict in several;
4. join conflicts separated by at most three unchanged lines (`xdl_simplify_non_conflicts`);
   at `ZEALOUS_ALNUM` (`git merge-file`'s level) also conflicts separated only by lines
   without a letter or digit.

A region is a `Region` with the line ranges it covers in the base and in both sides; the
merged content is the destination's lines with each region replaced by its outcome. Lines are
bytes with their line feed; a last line without one is a line too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from emulator.repos.xdiff import HISTOGRAM, MYERS, Change, Lines, diff

__all__ = [
    "HISTOGRAM",
    "MYERS",
    "Change",
    "Lines",
    "Region",
    "diff",
    "lines_of",
    "merge",
    "render",
    "with_markers",
]

# Region kinds (xdiff's merge modes).
CONFLICT, OURS, THEIRS, BOTH = 0, 1, 2, 3

# Merge levels (xdiff's XDL_MERGE_*): EAGER stops after step 2 (git forces it for the diff3
# conflict style, whose base section would not make sense for a refined conflict).
EAGER, ZEALOUS, ZEALOUS_ALNUM = 1, 2, 3

MARKER_SIZE = 7  # DEFAULT_CONFLICT_MARKER_SIZE


@dataclass(frozen=True)
class Region:
    """One changed region: base lines [i0, i0 + n0), ours (destination) [i1, i1 + n1),
    theirs (source) [i2, i2 + n2). `kind` says which side's change it is, or CONFLICT."""

    kind: int
    i0: int
    n0: int
    i1: int
    n1: int
    i2: int
    n2: int


def lines_of(data: bytes) -> list[bytes]:
    """The lines of a file as xdiff reads them: split on LF only (a CR is part of the line;
    bytes.splitlines would split on it)."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _append(out: list[Region], r: Region) -> None:
    """xdl_append_merge: a region that overlaps or touches the previous one joins it."""
    if out:
        m = out[-1]
        if r.i1 <= m.i1 + m.n1 or r.i2 <= m.i2 + m.n2:
            out[-1] = Region(
                m.kind if m.kind == r.kind else CONFLICT,
                m.i0,
                r.i0 + r.n0 - m.i0,
                m.i1,
                r.i1 + r.n1 - m.i1,
                m.i2,
                r.i2 + r.n2 - m.i2,
            )
            return
    out.append(r)


def merge(
    base: Lines,
    ours: Lines,
    theirs: Lines,
    level: int = ZEALOUS,
    algorithm: int = HISTOGRAM,
) -> list[Region]:
    """The changed regions of a three-way merge, in order (see the module's docstring). The
    defaults are `git merge`'s; `git merge-file` merges at ZEALOUS_ALNUM with MYERS."""
    x1 = diff(base, ours, algorithm)
    x2 = diff(base, theirs, algorithm)
    regions, same = _walk(x1, x2, len(base), ours, theirs)
    if level >= ZEALOUS:
        regions = _refine(regions, ours, theirs, algorithm)
        regions = _simplify(regions, ours, alnum=level == ZEALOUS_ALNUM)
    # xdiff forgets a change both sides made alike; we keep it as a BOTH region (it is a hunk
    # to describe), unless a conflict swallowed it.
    kept = [s for s in same if not any(_covers(r, s) for r in regions if r.kind == CONFLICT)]
    return sorted(regions + kept, key=lambda r: (r.i1, r.i1 + r.n1))


def _covers(r: Region, s: Region) -> bool:
    return r.i1 <= s.i1 and s.i1 + s.n1 <= r.i1 + r.n1


def _walk(
    x1: list[Change], x2: list[Change], n_base: int, ours: Lines, theirs: Lines
) -> tuple[list[Region], list[Region]]:
    """xdl_do_merge's walk over both change lists: the regions as xdiff lists them, and
    apart the changes both sides made alike (which xdiff drops)."""
    out: list[Region] = []
    same: list[Region] = []
    p = q = 0
    while p < len(x1) and q < len(x2):
        c1, c2 = x1[p], x2[q]
        if c1.a + c1.na < c2.a:
            _append(out, Region(OURS, c1.a, c1.na, c1.b, c1.nb, c2.b - c2.a + c1.a, c1.na))
            p += 1
            continue
        if c2.a + c2.na < c1.a:
            _append(out, Region(THEIRS, c2.a, c2.na, c1.b - c1.a + c2.a, c2.na, c2.b, c2.nb))
            q += 1
            continue
        if (
            c1.a == c2.a
            and c1.na == c2.na
            and c1.nb == c2.nb
            and ours[c1.b : c1.b + c1.nb] == theirs[c2.b : c2.b + c2.nb]
        ):
            same.append(Region(BOTH, c1.a, c1.na, c1.b, c1.nb, c2.b, c2.nb))
        else:
            off = c1.a - c2.a
            ffo = off + c1.na - c2.na
            i0, i1, i2 = c1.a, c1.b, c2.b
            if off > 0:
                i0 -= off
                i1 -= off
            else:
                i2 += off
            n0 = c1.a + c1.na - i0
            n1 = c1.b + c1.nb - i1
            n2 = c2.b + c2.nb - i2
            if ffo < 0:
                n0 -= ffo
                n1 -= ffo
            else:
                n2 += ffo
            _append(out, Region(CONFLICT, i0, n0, i1, n1, i2, n2))
        e1 = c1.a + c1.na
        e2 = c2.a + c2.na
        if e1 >= e2:
            q += 1
        if e2 >= e1:
            p += 1
    # Past the other side's last change, the sides' line numbers differ by its net growth.
    for c1 in x1[p:]:
        i2 = c1.a + len(theirs) - n_base
        _append(out, Region(OURS, c1.a, c1.na, c1.b, c1.nb, i2, c1.na))
    for c2 in x2[q:]:
        i1 = c2.a + len(ours) - n_base
        _append(out, Region(THEIRS, c2.a, c2.na, i1, c2.na, c2.b, c2.nb))
    return out, same


def _refine(regions: list[Region], ours: Lines, theirs: Lines, algorithm: int) -> list[Region]:
    """xdl_refine_conflicts: within a conflict, only the lines where the sides differ conflict.
    Pieces of a split conflict keep the whole conflict's base range (xdiff does not track it
    either)."""
    out: list[Region] = []
    for r in regions:
        if r.kind != CONFLICT or r.n1 == 0 or r.n2 == 0:
            out.append(r)
            continue
        changes = diff(ours[r.i1 : r.i1 + r.n1], theirs[r.i2 : r.i2 + r.n2], algorithm)
        if not changes:
            out.append(replace(r, kind=BOTH))
            continue
        for c in changes:
            out.append(replace(r, i1=r.i1 + c.a, n1=c.na, i2=r.i2 + c.b, n2=c.nb))
    return out


def _has_alnum(line: bytes) -> bool:
    # git's isalnum is its own ASCII-only table (git-compat-util.h), whatever the locale.
    return any(48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 for c in line)


def _simplify(regions: list[Region], ours: Lines, alnum: bool) -> list[Region]:
    """xdl_simplify_non_conflicts: two conflicts at most three lines apart become one (with
    `alnum`, also two conflicts apart by lines without a letter or digit)."""
    out: list[Region] = []
    for r in regions:
        if out:
            m = out[-1]
            begin, end = m.i1 + m.n1, r.i1
            close = end - begin <= 3 or (
                alnum and not any(_has_alnum(line) for line in ours[begin:end])
            )
            if m.kind == CONFLICT and r.kind == CONFLICT and close:
                end0 = max(m.i0 + m.n0, r.i0 + r.n0)
                out[-1] = Region(
                    CONFLICT,
                    m.i0,
                    end0 - m.i0,
                    m.i1,
                    r.i1 + r.n1 - m.i1,
                    m.i2,
                    r.i2 + r.n2 - m.i2,
                )
                continue
        out.append(r)
    return out


def render(ours: Lines, theirs: Lines, regions: Sequence[Region], favor: int = 0) -> list[bytes]:
    """The merged lines: the destination's (ours) with each region's outcome. A conflict is
    taken from the favoured side (OURS or THEIRS); with none, it is left as ours."""
    out: list[bytes] = []
    i = 0
    for r in regions:
        out.extend(ours[i : r.i1])
        take_theirs = r.kind == THEIRS or (r.kind == CONFLICT and favor == THEIRS)
        if take_theirs:
            out.extend(theirs[r.i2 : r.i2 + r.n2])
        else:
            out.extend(ours[r.i1 : r.i1 + r.n1])
        i = r.i1 + r.n1
    out.extend(ours[i:])
    return out


def _eol_crlf(lines: Lines, i: int) -> int:
    """xdiff's is_eol_crlf: 1 if line i ends in CR LF (for a last line without LF, the one
    before it), 0 if in LF only, -1 when it cannot tell."""
    if i < len(lines) - 1:
        return int(lines[i].endswith(b"\r\n"))
    if not lines:
        return -1
    if lines[i].endswith(b"\n"):
        return int(lines[i].endswith(b"\r\n"))
    if i == 0:
        return -1
    return int(lines[i - 1].endswith(b"\r\n"))


def with_markers(
    base: Lines,
    ours: Lines,
    theirs: Lines,
    regions: Sequence[Region],
    names: tuple[str, str, str] = ("", "", ""),
    diff3: bool = False,
) -> bytes:
    """The merged file with conflict markers, byte for byte as xdiff's
    `xdl_fill_merge_buffer` writes it. `names` label ours, theirs and the base (an empty one
    is no label); `diff3` adds the base section, for regions merged at the EAGER level (git
    forces it for that style)."""
    out: list[bytes] = []
    i = 0
    for r in regions:
        out.extend(ours[i : r.i1])
        if r.kind == THEIRS:
            out.extend(theirs[r.i2 : r.i2 + r.n2])
        elif r.kind != CONFLICT:
            out.extend(ours[r.i1 : r.i1 + r.n1])
        else:
            out.extend(_conflict(base, ours, theirs, r, names, diff3))
        i = r.i1 + r.n1
    out.extend(ours[i:])
    return b"".join(out)


def _conflict(
    base: Lines,
    ours: Lines,
    theirs: Lines,
    r: Region,
    names: tuple[str, str, str],
    diff3: bool,
) -> list[bytes]:
    """fill_conflict_hunk. Markers take the sides' line ending: that of the line before the
    conflict in ours, then in theirs, then of the base's first line (is_cr_needed)."""
    cr = _eol_crlf(ours, r.i1 - 1 if r.i1 else 0)
    if cr:
        cr = _eol_crlf(theirs, r.i2 - 1 if r.i2 else 0)
    if cr:
        cr = _eol_crlf(base, 0)
    eol = b"\r\n" if cr > 0 else b"\n"

    def marker(char: bytes, name: str) -> bytes:
        return char * MARKER_SIZE + (b" " + name.encode() if name else b"") + eol

    def section(lines: Lines) -> list[bytes]:
        # A side's last line gets the line ending it lacks.
        if lines and not lines[-1].endswith(b"\n"):
            return [*lines[:-1], lines[-1] + eol]
        return list(lines)

    out = [marker(b"<", names[0]), *section(ours[r.i1 : r.i1 + r.n1])]
    if diff3:
        out += [marker(b"|", names[2]), *section(base[r.i0 : r.i0 + r.n0])]
    out += [marker(b"=", ""), *section(theirs[r.i2 : r.i2 + r.n2]), marker(b">", names[1])]
    return out
