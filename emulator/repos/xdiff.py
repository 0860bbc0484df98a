"""git's line diff, ported from xdiff (`xdiff/xprepare.c`, `xdiff/xdiffi.c`) with the flags
`git merge` passes it: none (no minimal search, no indent heuristic).

Where lines repeat, many edit scripts are equally short, and which one xdiff picks decides
where a merge conflicts; a textbook Myers diff picks others. So every step that chooses is
kept as xdiff does it:

1. `xdl_prepare_env`: number the distinct lines; trim the common head and tail
   (`xdl_trim_ends`); set aside as changed the lines with no match in the other file, and the
   lines with very many matches that sit among such lines (`xdl_cleanup_records`,
   `xdl_clean_mmatch`); only the rest enters the search;
2. `xdl_recs_cmp`: divide and conquer on the middle snake (`xdl_split`), with its cost
   cutoffs: past `XDL_HEUR_MIN_COST` a long enough snake ends the search, past the maximum
   cost the furthest reaching path does;
3. `xdl_change_compact`: slide each change group up as far as it goes, then down, joining
   groups it meets, and back up to line up with a change in the other file if it can;
4. `xdl_build_script`: the groups, as changes.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

Lines = Sequence[bytes]

XDL_MAX_EQLIMIT = 1024  # a line with more matches than this counts as "very many"
XDL_SIMSCAN_WINDOW = 100  # how far xdl_clean_mmatch looks around a line
XDL_KPDIS_RUN = 4
XDL_MAX_COST_MIN = 256
XDL_HEUR_MIN_COST = 256
XDL_SNAKE_CNT = 20
XDL_K_HEUR = 4
XDL_LINE_MAX = sys.maxsize
HISTOGRAM_MAX_CHAIN = 64  # a line more frequent than this does not anchor a histogram diff

# Algorithms: `git merge-file` diffs with Myers (no flags); merge-ort, so `git merge` and
# `git merge-tree`, hardcodes the histogram diff (merge_start: DIFF_WITH_ALG(HISTOGRAM_DIFF)).
MYERS, HISTOGRAM = 0, 1


@dataclass(frozen=True)
class Change:
    """Lines [a, a + na) of the old file became lines [b, b + nb) of the new one."""

    a: int
    na: int
    b: int
    nb: int


def _bogosqrt(n: int) -> int:
    """xdl_bogosqrt: a power of two near the square root of n."""
    i = 1
    while n > 0:
        i <<= 1
        n >>= 2
    return i


class _File:
    """One side of a diff (xdfile_t). `ids` numbers each line by its content, alike in both
    files. `changed` has one entry past the last line, always False: it ends the scans
    forward, and, read at index -1, the scans backward (xdiff pads its rchg both ways).
    `rindex` lists the lines that enter the search; `ha` their ids."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        self.n = len(ids)
        self.changed = [False] * (self.n + 1)
        self.rindex: list[int] = []
        self.ha: list[int] = []
        self.dstart = 0
        self.dend = self.n - 1


def _classify(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[_File, _File]:
    """xdl_prepare_env's numbering of the lines (xdl_classify_record)."""
    classes: dict[Hashable, int] = {}
    f1 = _File([classes.setdefault(line, len(classes)) for line in a])
    f2 = _File([classes.setdefault(line, len(classes)) for line in b])
    return f1, f2


def _prepare(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[_File, _File]:
    """xdl_prepare_env for the Myers diff, with xdl_optimize_ctxs."""
    f1, f2 = _classify(a, b)
    _trim_ends(f1, f2)
    _cleanup_records(f1, f2)
    return f1, f2


def _trim_ends(f1: _File, f2: _File) -> None:
    lim = min(f1.n, f2.n)
    i = 0
    while i < lim and f1.ids[i] == f2.ids[i]:
        i += 1
    f1.dstart = f2.dstart = i
    lim -= i
    i = 0
    while i < lim and f1.ids[f1.n - 1 - i] == f2.ids[f2.n - 1 - i]:
        i += 1
    f1.dend = f1.n - i - 1
    f2.dend = f2.n - i - 1


def _multimatch_discards(dis: list[int], s: int, e: int) -> list[bool]:
    """xdl_clean_mmatch for every line of [s, e] at once (indexed from s): should a line with
    many matches be set aside? Yes when it sits in a run of lines without a match (on both
    sides) where such lines outweigh the many-matched ones. xdiff scans each line's run afresh
    (up to XDL_SIMSCAN_WINDOW lines each way); counts of the unmatched lines so far and the
    nearest line with some matches give the same runs in constant time."""
    n = e - s + 1
    zeros = [0] * (n + 1)  # zeros[k]: unmatched lines among s .. s + k - 1
    for k in range(n):
        zeros[k + 1] = zeros[k] + (dis[s + k] == 0)
    prev_some = [0] * n  # the nearest line before with some matches (dis 1), or s - 1
    last = s - 1
    for k in range(n):
        prev_some[k] = last
        if dis[s + k] == 1:
            last = s + k
    next_some = [0] * n  # ... after, or e + 1
    last = e + 1
    for k in range(n - 1, -1, -1):
        next_some[k] = last
        if dis[s + k] == 1:
            last = s + k
    out = [False] * n
    for k in range(n):
        i = s + k
        if dis[i] != 2:
            continue
        lo = max(s, i - XDL_SIMSCAN_WINDOW, prev_some[k] + 1)
        rdis0 = zeros[k] - zeros[lo - s]
        if rdis0 == 0:
            continue
        hi = min(e, i + XDL_SIMSCAN_WINDOW, next_some[k] - 1)
        rdis1 = zeros[hi - s + 1] - zeros[k + 1]
        if rdis1 == 0:
            continue
        # The many-matched lines of both runs, with line i counted on each side.
        rpdis = (1 + i - lo - rdis0) + (1 + hi - i - rdis1)
        out[k] = rpdis * XDL_KPDIS_RUN < rpdis + rdis0 + rdis1
    return out


def _cleanup_records(f1: _File, f2: _File) -> None:
    """xdl_cleanup_records. A line's matches are counted in the whole other file, trimmed
    ends included, up to a limit: dis is 0 for none, 1 for some, 2 for many."""
    counts1, counts2 = Counter(f1.ids), Counter(f2.ids)
    for f, other_counts in ((f1, counts2), (f2, counts1)):
        mlim = min(_bogosqrt(f.n), XDL_MAX_EQLIMIT)
        dis = [0] * (f.n + 1)
        for i in range(f.dstart, f.dend + 1):
            nm = other_counts[f.ids[i]]
            dis[i] = 0 if nm == 0 else 2 if nm >= mlim else 1
        if 2 in dis:
            discard = _multimatch_discards(dis, f.dstart, f.dend)
        else:
            discard = [False] * (f.dend - f.dstart + 1)
        for i in range(f.dstart, f.dend + 1):
            if dis[i] == 1 or (dis[i] == 2 and not discard[i - f.dstart]):
                f.rindex.append(i)
                f.ha.append(f.ids[i])
            else:
                f.changed[i] = True


@dataclass
class _Split:
    i1: int
    i2: int
    min_lo: bool
    min_hi: bool


class _Search:
    """xdl_do_diff's state: the reduced files and the two K vectors (forward and backward
    furthest reaching x per diagonal), shared by every split as in xdiff."""

    def __init__(self, f1: _File, f2: _File) -> None:
        self.f1, self.f2 = f1, f2
        ndiags = len(f1.ha) + len(f2.ha) + 3
        self.kvdf = [0] * ndiags
        self.kvdb = [0] * ndiags
        self.kv0 = len(f2.ha) + 1  # index of diagonal 0
        self.mxcost = max(_bogosqrt(ndiags), XDL_MAX_COST_MIN)

    def run(self, need_min: bool) -> None:
        """xdl_recs_cmp, with a stack in place of its recursion (same order)."""
        ha1, ha2 = self.f1.ha, self.f2.ha
        stack = [(0, len(ha1), 0, len(ha2), need_min)]
        while stack:
            off1, lim1, off2, lim2, minimal = stack.pop()
            # Shrink the box by the snakes at both ends.
            while off1 < lim1 and off2 < lim2 and ha1[off1] == ha2[off2]:
                off1 += 1
                off2 += 1
            while off1 < lim1 and off2 < lim2 and ha1[lim1 - 1] == ha2[lim2 - 1]:
                lim1 -= 1
                lim2 -= 1
            if off1 == lim1:
                for i in range(off2, lim2):
                    self.f2.changed[self.f2.rindex[i]] = True
            elif off2 == lim2:
                for i in range(off1, lim1):
                    self.f1.changed[self.f1.rindex[i]] = True
            else:
                spl = self.split(off1, lim1, off2, lim2, minimal)
                stack.append((spl.i1, lim1, spl.i2, lim2, spl.min_hi))
                stack.append((off1, spl.i1, off2, spl.i2, spl.min_lo))

    def split(self, off1: int, lim1: int, off2: int, lim2: int, need_min: bool) -> _Split:
        """xdl_split: where the box (off1, off2)-(lim1, lim2) divides, by Myers' middle snake
        searched from both corners, or by xdiff's cutoffs when that costs too much. The K
        vectors are indexed by diagonal d = i1 - i2, offset by kv0."""
        ha1, ha2 = self.f1.ha, self.f2.ha
        kvdf, kvdb, z = self.kvdf, self.kvdb, self.kv0
        dmin, dmax = off1 - lim2, lim1 - off2
        fmid, bmid = off1 - off2, lim1 - lim2
        odd = (fmid - bmid) & 1
        fmin = fmax = fmid
        bmin = bmax = bmid
        kvdf[z + fmid] = off1
        kvdb[z + bmid] = lim1
        ec = 0
        while True:
            ec += 1
            got_snake = False
            # Widen the diagonal range by one each way, or narrow it at the box's edge.
            if fmin > dmin:
                fmin -= 1
                kvdf[z + fmin - 1] = -1
            else:
                fmin += 1
            if fmax < dmax:
                fmax += 1
                kvdf[z + fmax + 1] = -1
            else:
                fmax -= 1
            for d in range(fmax, fmin - 1, -2):
                if kvdf[z + d - 1] >= kvdf[z + d + 1]:
                    i1 = kvdf[z + d - 1] + 1
                else:
                    i1 = kvdf[z + d + 1]
                prev1 = i1
                i2 = i1 - d
                while i1 < lim1 and i2 < lim2 and ha1[i1] == ha2[i2]:
                    i1 += 1
                    i2 += 1
                if i1 - prev1 > XDL_SNAKE_CNT:
                    got_snake = True
                kvdf[z + d] = i1
                if odd and bmin <= d <= bmax and kvdb[z + d] <= i1:
                    return _Split(i1, i2, True, True)

            if bmin > dmin:
                bmin -= 1
                kvdb[z + bmin - 1] = XDL_LINE_MAX
            else:
                bmin += 1
            if bmax < dmax:
                bmax += 1
                kvdb[z + bmax + 1] = XDL_LINE_MAX
            else:
                bmax -= 1
            for d in range(bmax, bmin - 1, -2):
                if kvdb[z + d - 1] < kvdb[z + d + 1]:
                    i1 = kvdb[z + d - 1]
                else:
                    i1 = kvdb[z + d + 1] - 1
                prev1 = i1
                i2 = i1 - d
                while i1 > off1 and i2 > off2 and ha1[i1 - 1] == ha2[i2 - 1]:
                    i1 -= 1
                    i2 -= 1
                if prev1 - i1 > XDL_SNAKE_CNT:
                    got_snake = True
                kvdb[z + d] = i1
                if not odd and fmin <= d <= fmax and i1 <= kvdf[z + d]:
                    return _Split(i1, i2, True, True)

            if need_min:
                continue

            # Past the trigger cost, with a good snake seen: take a diagonal that got far
            # (distance from the corner, less the distance from the middle diagonal) and
            # ends in a snake of XDL_SNAKE_CNT lines.
            if got_snake and ec > XDL_HEUR_MIN_COST:
                best = 0
                found: _Split | None = None
                for d in range(fmax, fmin - 1, -2):
                    dd = d - fmid if d > fmid else fmid - d
                    i1 = kvdf[z + d]
                    i2 = i1 - d
                    v = (i1 - off1) + (i2 - off2) - dd
                    if (
                        v > XDL_K_HEUR * ec
                        and v > best
                        and off1 + XDL_SNAKE_CNT <= i1 < lim1
                        and off2 + XDL_SNAKE_CNT <= i2 < lim2
                    ):
                        k = 1
                        while ha1[i1 - k] == ha2[i2 - k]:
                            if k == XDL_SNAKE_CNT:
                                best = v
                                found = _Split(i1, i2, True, False)
                                break
                            k += 1
                if found is not None:
                    return found
                best = 0
                for d in range(bmax, bmin - 1, -2):
                    dd = d - bmid if d > bmid else bmid - d
                    i1 = kvdb[z + d]
                    i2 = i1 - d
                    v = (lim1 - i1) + (lim2 - i2) - dd
                    if (
                        v > XDL_K_HEUR * ec
                        and v > best
                        and off1 < i1 <= lim1 - XDL_SNAKE_CNT
                        and off2 < i2 <= lim2 - XDL_SNAKE_CNT
                    ):
                        k = 0
                        while ha1[i1 + k] == ha2[i2 + k]:
                            if k == XDL_SNAKE_CNT - 1:
                                best = v
                                found = _Split(i1, i2, False, True)
                                break
                            k += 1
                if found is not None:
                    return found

            # Enough is enough: take the furthest reaching path (by i1 + i2) either way.
            if ec >= self.mxcost:
                fbest = fbest1 = -1
                for d in range(fmax, fmin - 1, -2):
                    i1 = min(kvdf[z + d], lim1)
                    i2 = i1 - d
                    if lim2 < i2:
                        i1 = lim2 + d
                        i2 = lim2
                    if fbest < i1 + i2:
                        fbest = i1 + i2
                        fbest1 = i1
                bbest = bbest1 = XDL_LINE_MAX
                for d in range(bmax, bmin - 1, -2):
                    i1 = max(off1, kvdb[z + d])
                    i2 = i1 - d
                    if i2 < off2:
                        i1 = off2 + d
                        i2 = off2
                    if i1 + i2 < bbest:
                        bbest = i1 + i2
                        bbest1 = i1
                if (lim1 + lim2) - bbest < fbest - (off1 + off2):
                    return _Split(fbest1, fbest - fbest1, True, False)
                return _Split(bbest1, bbest - bbest1, False, True)


class _Group:
    """A run of changed lines [start, end) in a file (xdlgroup); empty between two unchanged
    lines."""

    def __init__(self, f: _File) -> None:
        self.f = f
        self.start = self.end = 0
        while f.changed[self.end]:
            self.end += 1

    def next(self) -> bool:
        """group_next: move to the next group; False at the end of the file."""
        if self.end == self.f.n:
            return False
        self.start = self.end = self.end + 1
        while self.f.changed[self.end]:
            self.end += 1
        return True

    def previous(self) -> bool:
        if self.start == 0:
            return False
        self.start = self.end = self.start - 1
        while self.f.changed[self.start - 1]:
            self.start -= 1
        return True

    def slide_down(self) -> bool:
        """Move the group one line down if its first line equals the line after it, joining
        the group it then meets."""
        f = self.f
        if self.end < f.n and f.ids[self.start] == f.ids[self.end]:
            f.changed[self.start] = False
            f.changed[self.end] = True
            self.start += 1
            self.end += 1
            while f.changed[self.end]:
                self.end += 1
            return True
        return False

    def slide_up(self) -> bool:
        f = self.f
        if self.start > 0 and f.ids[self.start - 1] == f.ids[self.end - 1]:
            self.start -= 1
            self.end -= 1
            f.changed[self.start] = True
            f.changed[self.end] = False
            while f.changed[self.start - 1]:
                self.start -= 1
            return True
        return False


def _change_compact(f: _File, other: _File) -> None:
    """xdl_change_compact without the indent heuristic. The groups of both files advance in
    step (group i of one faces group i of the other)."""
    g, go = _Group(f), _Group(other)
    while True:
        if g.end != g.start:
            while True:
                size = g.end - g.start
                end_matching_other = -1
                while g.slide_up():
                    _must(go.previous())
                earliest_end = g.end
                if go.end > go.start:
                    end_matching_other = g.end
                while g.slide_down():
                    _must(go.next())
                    if go.end > go.start:
                        end_matching_other = g.end
                if size == g.end - g.start:
                    break
            # Down as far as it goes; if it faced a change in the other file on the way,
            # back up to the last such place.
            if g.end != earliest_end and end_matching_other != -1:
                while go.end == go.start:
                    _must(g.slide_up())
                    _must(go.previous())
        if not g.next():
            break
        _must(go.next())


def _must(moved: bool) -> None:
    if not moved:  # xdiff's BUG("group sync broken")
        raise AssertionError("change groups out of step")


def _script(f1: _File, f2: _File) -> list[Change]:
    """xdl_build_script, front to back."""
    out: list[Change] = []
    c1, c2 = f1.changed, f2.changed
    i = j = 0
    while i < f1.n or j < f2.n:
        if c1[i] or c2[j]:
            si, sj = i, j
            while c1[i]:
                i += 1
            while c2[j]:
                j += 1
            out.append(Change(si, i - si, sj, j - sj))
        else:
            i += 1
            j += 1
    return out


def diff(a: Lines, b: Lines, algorithm: int = MYERS) -> list[Change]:
    """The changes from `a` to `b`, as git's xdiff finds them (see the module's docstring)."""
    if algorithm == HISTOGRAM:
        f1, f2 = _classify(a, b)
        _histogram(f1, f2)
    else:
        f1, f2 = _prepare(a, b)
        _Search(f1, f2).run(need_min=False)
    _change_compact(f1, f2)
    _change_compact(f2, f1)
    return _script(f1, f2)


# -- the histogram diff (xdiff/xhistogram.c) ----------------------------------------------------


def _histogram(f1: _File, f2: _File) -> None:
    """xdl_do_histogram_diff: on the whole files (xdl_prepare_env neither trims nor sets lines
    aside for it). A range is split around its longest common run of lines that are rarest
    in the old side; a range where every common line is too frequent is diffed with Myers.
    Ranges are kept 1-based as xdiff does; a stack replaces the recursion (each range marks
    its own lines, so the order does not matter)."""
    stack = [(1, f1.n, 1, f2.n)]
    while stack:
        line1, count1, line2, count2 = stack.pop()
        if count1 <= 0 and count2 <= 0:
            continue
        if count1 == 0 or count2 == 0:
            for i in range(line1 - 1, line1 - 1 + count1):
                f1.changed[i] = True
            for i in range(line2 - 1, line2 - 1 + count2):
                f2.changed[i] = True
            continue
        lcs = _find_lcs(f1.ids, f2.ids, line1, count1, line2, count2)
        if lcs is None:
            _fall_back_diff(f1, f2, line1, count1, line2, count2)
        elif lcs == (0, 0, 0, 0):  # nothing in common
            for i in range(line1 - 1, line1 - 1 + count1):
                f1.changed[i] = True
            for i in range(line2 - 1, line2 - 1 + count2):
                f2.changed[i] = True
        else:
            begin1, end1, begin2, end2 = lcs
            stack.append((end1 + 1, line1 + count1 - 1 - end1, end2 + 1, line2 + count2 - 1 - end2))
            stack.append((line1, begin1 - line1, line2, begin2 - line2))


def _find_lcs(
    ids1: list[int], ids2: list[int], line1: int, count1: int, line2: int, count2: int
) -> tuple[int, int, int, int] | None:
    """find_lcs with scanA and try_lcs: the run (begin1, end1, begin2, end2), inclusive and
    1-based, or all zeros when there is none, or None to fall back to Myers. (xdiff's table
    also gives up when 64 distinct lines share one hash bucket, which its table size makes
    practically impossible; this one has no buckets.)"""
    end_1, end_2 = line1 + count1 - 1, line2 + count2 - 1
    first: dict[int, int] = {}  # a line's first occurrence in the range
    count: dict[int, int] = {}  # and how many there are
    next_ptr: dict[int, int] = {}  # the next occurrence after a line, or 0
    for ptr in range(end_1, line1 - 1, -1):
        c = ids1[ptr - 1]
        next_ptr[ptr] = first.get(c, 0)
        first[c] = ptr
        count[c] = count.get(c, 0) + 1
    cnt = HISTOGRAM_MAX_CHAIN + 1
    has_common = False
    lcs = (0, 0, 0, 0)
    b_ptr = line2
    while b_ptr <= end_2:
        b_next = b_ptr + 1
        c = ids2[b_ptr - 1]
        if c in first:
            has_common = True
            if count[c] <= cnt:
                a_s = first[c]
                while True:
                    np = next_ptr[a_s]
                    b_s = b_ptr
                    a_e, b_e = a_s, b_s
                    rc = count[c]
                    while line1 < a_s and line2 < b_s and ids1[a_s - 2] == ids2[b_s - 2]:
                        a_s -= 1
                        b_s -= 1
                        if rc > 1:
                            rc = min(rc, count[ids1[a_s - 1]])
                    while a_e < end_1 and b_e < end_2 and ids1[a_e] == ids2[b_e]:
                        a_e += 1
                        b_e += 1
                        if rc > 1:
                            rc = min(rc, count[ids1[a_e - 1]])
                    if b_next <= b_e:
                        b_next = b_e + 1
                    if lcs[1] - lcs[0] < a_e - a_s or rc < cnt:
                        lcs = (a_s, a_e, b_s, b_e)
                        cnt = rc
                    # On to the next occurrence past this run.
                    while np != 0 and np <= a_e:
                        np = next_ptr[np]
                    if np == 0:
                        break
                    a_s = np
        b_ptr = b_next
    if has_common and cnt > HISTOGRAM_MAX_CHAIN:
        return None
    return lcs


def _fall_back_diff(f1: _File, f2: _File, line1: int, count1: int, line2: int, count2: int) -> None:
    """xdl_fall_back_diff: the whole Myers diff (prepared afresh) of the two ranges."""
    s1 = slice(line1 - 1, line1 - 1 + count1)
    s2 = slice(line2 - 1, line2 - 1 + count2)
    g1, g2 = _prepare(f1.ids[s1], f2.ids[s2])
    _Search(g1, g2).run(need_min=False)
    f1.changed[s1] = g1.changed[:count1]
    f2.changed[s2] = g2.changed[:count2]
