"""A three-way merge of lines, as git's `xdl_merge` makes it for `git merge` (merge-ort calls
`ll_merge`, which asks xdiff for `XDL_MERGE_ZEALOUS`).

The steps are xdiff's (`xdiff/xmerge.c`, `xdl_do_merge`):

1. diff the base against each side (a minimal Myers diff whose change groups are slid down
   as far as they go, as `xdl_change_compact` does without the indent heuristic);
2. walk both change lists: a change on one side only is taken from that side; changes that
   overlap *or touch* (git merges adjacent changes too) become one conflict, unless both sides
   made the very same change;
3. refine each conflict (zealous): diff the two sides' lines and keep only the lines that
   differ, which may split a conflict in several;
4. join conflicts separated by at most three unchanged lines (`xdl_simplify_non_conflicts`).

A region is a `Region` with the line ranges it covers in the base and in both sides; the
merged content is the destination's lines with each region replaced by its outcome. Lines are
bytes with their line feed; a last line without one is a line too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

# Region kinds (xdiff's merge modes).
CONFLICT, OURS, THEIRS, BOTH = 0, 1, 2, 3

Lines = Sequence[bytes]


@dataclass(frozen=True)
class Change:
    """Lines [a, a + na) of the old file became lines [b, b + nb) of the new one."""

    a: int
    na: int
    b: int
    nb: int


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


def _split_lf(data: bytes) -> list[bytes]:
    # git splits on LF only (a CR is part of the line); bytes.splitlines would split on CR.
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def lines_of(data: bytes) -> list[bytes]:
    """The lines of a file as xdiff reads them: split on LF only."""
    return _split_lf(data)


# -- the diff -----------------------------------------------------------------------------------


def _myers(a: Lines, b: Lines) -> list[tuple[int, int]]:
    """The matched (i, j) pairs of a minimal edit script (Myers' O(ND) greedy algorithm)."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return []
    # Integer ids make the comparisons cheap.
    ids: dict[bytes, int] = {}
    ia = [ids.setdefault(x, len(ids)) for x in a]
    ib = [ids.setdefault(x, len(ids)) for x in b]
    offset = n + m + 1
    v = [0] * (2 * offset + 1)
    # trace[d]: the furthest x on each diagonal k in [-d, d] before step d, at index k + d.
    trace: list[list[int]] = []
    for d in range(n + m + 1):
        trace.append(v[offset - d : offset + d + 1])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[offset + k - 1] < v[offset + k + 1]):
                x = v[offset + k + 1]
            else:
                x = v[offset + k - 1] + 1
            y = x - k
            while x < n and y < m and ia[x] == ib[y]:
                x += 1
                y += 1
            v[offset + k] = x
            if x >= n and y >= m:
                return _backtrack(trace, d, n, m)
    raise AssertionError("unreachable")


def _backtrack(trace: list[list[int]], depth: int, n: int, m: int) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    for d in range(depth, 0, -1):
        v = trace[d]
        k = x - y
        if k == -d or (k != d and v[k - 1 + d] < v[k + 1 + d]):
            prev_k = k + 1
        else:
            prev_k = k - 1
        prev_x = v[prev_k + d]
        prev_y = prev_x - prev_k
        while x > prev_x and y > prev_y:
            x -= 1
            y -= 1
            pairs.append((x, y))
        x, y = prev_x, prev_y
    while x > 0 and y > 0:
        x -= 1
        y -= 1
        pairs.append((x, y))
    pairs.reverse()
    return pairs


def diff(a: Lines, b: Lines) -> list[Change]:
    """The changes from `a` to `b`, each group slid down as far as equal lines allow (git's
    compaction without the indent heuristic)."""
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    pairs = [(i + start, j + start) for i, j in _myers(a[start:end_a], b[start:end_b])]
    changed_a = [True] * len(a)
    changed_b = [True] * len(b)
    for i in range(start):
        changed_a[i] = changed_b[i] = False
    for i in range(end_a, len(a)):
        changed_a[i] = False
    for j in range(end_b, len(b)):
        changed_b[j] = False
    for i, j in pairs:
        changed_a[i] = changed_b[j] = False
    _compact(a, changed_a)
    _compact(b, changed_b)
    return _script(changed_a, changed_b)


def _compact(lines: Lines, changed: list[bool]) -> None:
    """Slide every run of changed lines down while the line after it equals its first line
    (the run then covers the same text one line later), merging runs that meet."""
    n = len(lines)
    i = 0
    while i < n:
        if not changed[i]:
            i += 1
            continue
        start = i
        while i < n and changed[i]:
            i += 1
        end = i
        while end < n and lines[start] == lines[end]:
            changed[start] = False
            changed[end] = True
            start += 1
            end += 1
            while end < n and changed[end]:
                end += 1
        i = end


def _script(changed_a: list[bool], changed_b: list[bool]) -> list[Change]:
    out: list[Change] = []
    i = j = 0
    na, nb = len(changed_a), len(changed_b)
    while i < na or j < nb:
        if (i < na and changed_a[i]) or (j < nb and changed_b[j]):
            si, sj = i, j
            while i < na and changed_a[i]:
                i += 1
            while j < nb and changed_b[j]:
                j += 1
            out.append(Change(si, i - si, sj, j - sj))
        else:
            i += 1
            j += 1
    return out


# -- the merge ----------------------------------------------------------------------------------


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


def merge(base: Lines, ours: Lines, theirs: Lines) -> list[Region]:
    """The changed regions of a three-way merge, in order (see the module's docstring)."""
    x1 = diff(base, ours)
    x2 = diff(base, theirs)
    out: list[Region] = []
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
        same = (
            c1.a == c2.a
            and c1.na == c2.na
            and c1.nb == c2.nb
            and ours[c1.b : c1.b + c1.nb] == theirs[c2.b : c2.b + c2.nb]
        )
        if not same:
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
        else:
            _append(out, Region(BOTH, c1.a, c1.na, c1.b, c1.nb, c2.b, c2.nb))
        e1 = c1.a + c1.na
        e2 = c2.a + c2.na
        if e1 >= e2:
            q += 1
        if e2 >= e1:
            p += 1
    for c1 in x1[p:]:
        last2 = x2[-1] if x2 else None
        shift = 0 if last2 is None else last2.b + last2.nb - (last2.a + last2.na)
        _append(out, Region(OURS, c1.a, c1.na, c1.b, c1.nb, c1.a + shift, c1.na))
    for c2 in x2[q:]:
        last1 = x1[-1] if x1 else None
        shift = 0 if last1 is None else last1.b + last1.nb - (last1.a + last1.na)
        _append(out, Region(THEIRS, c2.a, c2.na, c2.a + shift, c2.na, c2.b, c2.nb))
    return _simplify(_refine(out, ours, theirs))


def _refine(regions: list[Region], ours: Lines, theirs: Lines) -> list[Region]:
    """xdl_refine_conflicts: within a conflict, only the lines where the sides differ conflict.
    Pieces of a split conflict keep the whole conflict's base range (xdiff does not track it
    either)."""
    out: list[Region] = []
    for r in regions:
        if r.kind != CONFLICT or r.n1 == 0 or r.n2 == 0:
            out.append(r)
            continue
        changes = diff(ours[r.i1 : r.i1 + r.n1], theirs[r.i2 : r.i2 + r.n2])
        if not changes:
            out.append(replace(r, kind=BOTH))
            continue
        for c in changes:
            out.append(replace(r, i1=r.i1 + c.a, n1=c.na, i2=r.i2 + c.b, n2=c.nb))
    return out


def _simplify(regions: list[Region]) -> list[Region]:
    """xdl_simplify_non_conflicts: two conflicts at most three lines apart become one."""
    out: list[Region] = []
    for r in regions:
        if out:
            m = out[-1]
            if m.kind == CONFLICT and r.kind == CONFLICT and r.i1 - (m.i1 + m.n1) <= 3:
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
