"""Checks every pushed object must pass before it is stored, in the spirit of
`git receive-pack` with `receive.fsckObjects`, plus the tree entry names that could overwrite
`.git`.

The rules mirror git's `fsck.c` message ids. With `receive.fsckObjects` git runs fsck in strict
mode, where its warnings become errors too; hosting services then relax the warnings long-lived
histories contain (e.g. `receive.fsck.zeroPaddedFilemode=ignore`), and so does ccemu:
- refused, as git refuses them (its *error* and *fatal* ids): objects that cannot be parsed
  (`badTree`, `missingTree`, `badTreeSha1`, `badParentSha1`, `badObjectSha1`, `missingTypeEntry`,
  `badType`, `missingTagEntry`, `nulInHeader`, `unterminatedHeader`), malformed identities
  (`missingEmail`, `badName`, `badEmail`, `missingSpaceBeforeEmail`, `missingNameBeforeEmail`,
  `missingSpaceBeforeDate`, `badDate`, `zeroPaddedDate`, `badDateOverflow`, `badTimezone`),
  `missingAuthor`, `multipleAuthors`, `missingCommitter`, `duplicateEntries`, `treeNotSorted`,
  `gitmodulesSymlink`;
- refused, as git's strict mode refuses these warnings: `hasDotgit` (with git's NTFS and HFS+
  spellings), `hasDot`, `hasDotdot`, `fullPathname`, `emptyName`: such a tree can write outside
  the work tree or into `.git` on checkout;
- accepted: `zeroPaddedFilemode` (written by old git versions; flask's history has it),
  `badFilemode`, `nulInCommit`, `nullSha1` (the connectivity check still wants the object),
  `missingTaggerEntry` (early tags have no tagger), `badTagName`, and extra headers in commits
  and tags (`gpgsig`, `mergetag`, `encoding` in any order).

The blobs a pushed tree names `.gitmodules` or `.gitattributes` are collected here and checked
once the whole pack is in (`emulator.repos.gitmodules`), as git's `fsck_finish` does.

The objects are parsed here directly from their bytes rather than through dulwich's
`ShaFile.check()`, whose rules differ from git's (it refuses zero-padded modes, tags without a
tagger or with an empty name, and commits whose `encoding` header follows another extra header).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import itemgetter

from emulator.config import Limits

BLOB, TREE, COMMIT, TAG = 3, 2, 1, 4
TYPE_NAMES = {COMMIT: "commit", TREE: "tree", BLOB: "blob", TAG: "tag"}
_TAG_TYPES = frozenset([b"commit", b"tree", b"blob", b"tag"])

_S_IFMT, _S_IFDIR, _S_IFLNK, _S_IFGITLINK = 0o170000, 0o040000, 0o120000, 0o160000
# git's date_overflows(): a timestamp must fit a signed 64-bit time_t.
_MAX_TIMESTAMP = 2**63 - 1

# An object id on a header line: git's parse_oid_hex accepts either case.
_HEX40 = re.compile(rb"[0-9a-fA-F]{40}\Z")
# Date and time zone after `<email>`: git skips blanks (not newlines) before the date, then
# wants digits, one space and `[+-]dddd` ending the line.
_DATE = re.compile(rb"[ \t]*([0-9]+) ([+-][0-9]{4})\Z")
_TREE_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.DOTALL)
_TREE = re.compile(rb"(?:[0-7]+ [^\0]*\0.{20})*", re.DOTALL)
_MODE, _NAME, _SHA = itemgetter(0), itemgetter(1), itemgetter(2)  # of a parsed tree entry
_KINDS = {
    m: int(m, 8) & 0o170000
    for m in (b"100644", b"100755", b"40000", b"040000", b"120000", b"160000", b"100664")
}
# Some name in a NUL-joined list of names starts with '.', 'g', 'G' or a non-ASCII byte, is
# empty, or has a '/' or '\\': only then is each name checked against the .git spellings.
_SUSPECT_NAME = re.compile(rb"\0[.gG\x80-\xff\0]")
_SUSPECT_FIRST = frozenset([b"", b".", b"g", b"G", *(bytes([b]) for b in range(0x80, 0x100))])

# Code points HFS+ ignores when comparing names, so ".g\u200cit" opens ".git" there (git's
# is_hfs_dotgit uses the same list).
_HFS_IGNORABLE = frozenset(
    [
        0x200C,
        0x200D,
        0x200E,
        0x200F,
        0x202A,
        0x202B,
        0x202C,
        0x202D,
        0x202E,
        0xFEFF,
        *range(0x206A, 0x2070),
    ]
)


class ObjectCheckError(Exception):
    """A pushed object that must not be stored; the message names the object and the rule."""


def _hfs_fold(part: bytes) -> str | None:
    """`part` lower-cased with HFS+-ignorable code points removed; None if not UTF-8."""
    try:
        text = part.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "".join(ch for ch in text if ord(ch) not in _HFS_IGNORABLE).lower()


def _is_special_name(name: bytes, dotname: bytes, shortname: bytes) -> bool:
    for part in name.split(b"\\"):
        lower = part.lower()
        base = lower.split(b":", 1)[0].rstrip(b". ")
        if lower == dotname or base in (dotname, shortname):
            return True
        # Ignorable code points are not ASCII: an ASCII part folds to `lower`, checked above.
        if not part.isascii() and _hfs_fold(part) == dotname.decode():
            return True
    return False


def is_dotgit_name(name: bytes) -> bool:
    """True if a tree entry named `name` could open the `.git` directory on some file system:
    `.git` in any case, NTFS spellings (trailing dots/spaces, 8.3 name `git~1`, alternate data
    streams, `\\` as separator) and HFS+ spellings with ignorable code points."""
    # Fast path for nearly every name: each spelling above starts (in some `\`-separated part)
    # with '.', 'g' or 'G', or with an ignorable code point, which is not ASCII.
    first = name[:1]
    if first and first not in b".gG" and first < b"\x80" and b"\\" not in name:
        return False
    return _is_special_name(name, b".git", b"git~1")


def is_dotgitmodules_name(name: bytes) -> bool:
    """`.gitmodules` as git's is_hfs_dotgitmodules / is_ntfs_dotgitmodules see it."""
    first = name[:1]
    if first and first not in b".gG" and first < b"\x80" and b"\\" not in name:
        return False
    return _is_special_name(name, b".gitmodules", b"gitmod~1")


def check_object(
    type_num: int, chunks: Sequence[bytes], hexsha: bytes, limits: Limits
) -> list[bytes]:
    """Check one object; return the binary SHAs it references that must exist (parents, tree,
    tree entries other than submodules, tag target). Raise `ObjectCheckError` if it is bad."""
    if type_num == BLOB:
        size = sum(len(c) for c in chunks)
        if size > limits.max_object_size:
            raise ObjectCheckError(
                f"blob {hexsha.decode()} is larger than {limits.max_object_size} bytes"
            )
        return []
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return check_raw_object(type_num, data, hexsha, limits)


class TreeVerdicts:
    """The verdicts on the trees one push checked, by their modes and names alone (the tree
    with its entries' ids cut out). A directory's listing changes far less often than its
    files: most trees of a history repeat the modes and names of one checked before, and only
    their ids then need reading. Bounded in bytes; emptied when full."""

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        # skeleton -> (indexes of the gitlinks, (index, ".gitmodules"/".gitattributes"))
        self.seen: dict[bytes, tuple[tuple[int, ...], tuple[tuple[int, str], ...]]] = {}
        self.size = 0
        self.max_bytes = max_bytes

    def add(
        self, skeleton: bytes, verdict: tuple[tuple[int, ...], tuple[tuple[int, str], ...]]
    ) -> None:
        if self.size + len(skeleton) > self.max_bytes:
            self.seen.clear()
            self.size = 0
        self.seen[skeleton] = verdict
        self.size += len(skeleton) + 100


# `mode SP name NUL id` with each entry's id cut out: the first NUL after a mode and name ends
# them (names hold no NUL), so a scan from the start finds every id, whatever bytes ids hold.
_ENTRY_ID = re.compile(rb"\0.{20}", re.DOTALL)
_ENTRY_IDS = re.compile(rb"\0(.{20})", re.DOTALL)


def check_raw_object(
    type_num: int,
    data: bytes,
    hexsha: bytes,
    limits: Limits,
    specials: dict[bytes, str] | None = None,
    verdicts: TreeVerdicts | None = None,
) -> list[bytes]:
    """`check_object` for an object whose content is one bytes value. A tree's entries named
    `.gitmodules` or `.gitattributes` (in any spelling a file system reads as that) are added
    to `specials` (binary SHA -> name), for `emulator.repos.gitmodules` to check. `verdicts`
    spares a tree the checks of its modes and names when an earlier one had the same."""
    if type_num == TREE and verdicts is not None and len(data) <= limits.max_object_size:
        skeleton = _ENTRY_ID.sub(b"\0", data)
        verdict = verdicts.seen.get(skeleton)
        if verdict is not None:
            n = skeleton.count(b"\0")
            # Each NUL of a checked tree's skeleton ended a name: with 20 bytes cut after every
            # one, `data` is that same well-formed listing with other ids.
            if len(data) - len(skeleton) == 20 * n and n <= limits.max_tree_entries:
                ids = _ENTRY_IDS.findall(data)
                gitlinks, found = verdict
                if specials is not None:
                    for i, what in found:
                        specials[ids[i]] = what
                if gitlinks:
                    return [sha for i, sha in enumerate(ids) if i not in gitlinks]
                return ids
        try:
            refs, gitlinks, found = _check_tree(data, limits, specials)
        except _Bad as exc:
            raise ObjectCheckError(f"tree {hexsha.decode()} is malformed: {exc}") from None
        except ObjectCheckError as exc:
            raise ObjectCheckError(f"tree {hexsha.decode()} {exc}") from None
        verdicts.add(skeleton, (gitlinks, found))
        return refs
    if len(data) > limits.max_object_size:
        raise ObjectCheckError(
            f"{TYPE_NAMES.get(type_num, 'object')} {hexsha.decode()} is larger than"
            f" {limits.max_object_size} bytes"
        )
    try:
        if type_num == TREE:
            return _check_tree(data, limits, specials)[0]
        if type_num == COMMIT:
            return _check_commit(data)
        if type_num == TAG:
            return _check_tag(data)
        if type_num == BLOB:
            return []
    except _Bad as exc:
        raise ObjectCheckError(
            f"{TYPE_NAMES[type_num]} {hexsha.decode()} is malformed: {exc}"
        ) from None
    except ObjectCheckError as exc:
        raise ObjectCheckError(f"{TYPE_NAMES[type_num]} {hexsha.decode()} {exc}") from None
    raise ObjectCheckError(f"object {hexsha.decode()}: unknown object type {type_num}")


class _Bad(Exception):
    """A rule git refuses; the message starts with git's fsck message id."""


def _mode_kind(mode: bytes) -> int:
    kind = _KINDS.get(mode)
    return int(mode, 8) & _S_IFMT if kind is None else kind


def _check_tree(
    data: bytes, limits: Limits, specials: dict[bytes, str] | None
) -> tuple[list[bytes], tuple[int, ...], tuple[tuple[int, str], ...]]:
    """The ids a tree names (not its gitlinks'), the indexes of its gitlinks and of its entries
    named .gitmodules or .gitattributes."""
    # The whole tree is parsed and split by the regex engine; the per-entry work left in Python
    # is a few list comprehensions (this runs for every tree of every push).
    if _TREE.fullmatch(data) is None:
        raise _Bad("badTree: cannot be parsed as a tree")
    entries = _TREE_ENTRY.findall(data)
    if len(entries) > limits.max_tree_entries:
        raise ObjectCheckError(f"has more than {limits.max_tree_entries} entries")
    modes = list(map(_MODE, entries))
    kinds: list[int | None] = list(map(_KINDS.get, modes))
    if None in kinds:
        kinds = [_mode_kind(mode) for mode in modes]
    names = list(map(_NAME, entries))
    if len(set(names)) != len(names):
        raise _Bad("duplicateEntries: contains duplicate file entries")
    # git orders a directory as if its name ended with '/' (fsck.c verify_ordered)
    if _S_IFDIR in kinds:
        keys = [
            name + b"/" if kind == _S_IFDIR else name
            for name, kind in zip(names, kinds, strict=True)
        ]
    else:
        keys = names
    if keys != sorted(keys):
        raise _Bad("treeNotSorted: not properly sorted")
    joined = b"\0".join(names)
    if (
        joined[:1] in _SUSPECT_FIRST
        or joined.endswith(b"\0")
        or _SUSPECT_NAME.search(joined) is not None
        or b"/" in joined
        or b"\\" in joined
    ):
        found = _special_entries(names, kinds)
        for i, what in found:
            if specials is not None:
                specials[entries[i][2]] = what
    else:
        found = ()
    # a submodule's commit (gitlink) lives in another repository
    if _S_IFGITLINK not in kinds:
        return list(map(_SHA, entries)), (), found
    gitlinks = tuple(i for i, kind in enumerate(kinds) if kind == _S_IFGITLINK)
    refs = [sha for (_, _, sha), kind in zip(entries, kinds, strict=True) if kind != _S_IFGITLINK]
    return refs, gitlinks, found


def _special_entries(names: list[bytes], kinds: list[int | None]) -> tuple[tuple[int, str], ...]:
    """Check every name that could be a spelling of .git (raises); return the entries that
    are .gitmodules or .gitattributes (not symbolic links), by index. Nothing is kept for
    the life of the server: entries made all through a large push would hold on to arenas of
    the allocator that the push's own objects had filled, which could then never be given back
    (a push keeps the verdicts on whole listings in its own `TreeVerdicts`)."""
    found: list[tuple[int, str]] = []
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        first = name[:1]
        if not first or first in b".gG" or first >= b"\x80" or b"\\" in name or b"/" in name:
            _check_special_name(name, kind)
            if kind != _S_IFLNK:
                if _is_special_name(name, b".gitmodules", b"gitmod~1"):
                    found.append((i, ".gitmodules"))
                elif _is_special_name(name, b".gitattributes", b"gitatt~1"):
                    found.append((i, ".gitattributes"))
    return tuple(found)


def _check_special_name(name: bytes, kind: int | None) -> None:
    if not name:
        raise _Bad("emptyName: contains empty pathname")
    if b"/" in name:
        raise ObjectCheckError(_name_error(name, "fullPathname"))
    if name in (b".", b".."):
        raise ObjectCheckError(_name_error(name, "hasDot" if name == b"." else "hasDotdot"))
    if _is_special_name(name, b".git", b"git~1"):
        raise ObjectCheckError(
            f"contains an entry named {name!r}, which is not allowed"
            " (hasDotgit: it could overwrite .git on checkout)"
        )
    if kind == _S_IFLNK and _is_special_name(name, b".gitmodules", b"gitmod~1"):
        raise _Bad("gitmodulesSymlink: .gitmodules is a symbolic link")


def _name_error(name: bytes, msg_id: str) -> str:
    return (
        f"contains an entry named {name!r}, which is not allowed"
        f" ({msg_id}: it could write outside its directory on checkout)"
    )


def _header(data: bytes) -> bytes:
    """The header lines (up to and including the last header's LF), as git's verify_headers."""
    end = data.find(b"\n\n")
    if end >= 0:
        head = data[: end + 1]
    elif data.endswith(b"\n"):
        head = data
    else:
        raise _Bad("unterminatedHeader: unterminated header")
    nul = head.find(b"\0")
    if nul >= 0:
        raise _Bad(f"nulInHeader: unterminated header: NUL at offset {nul}")
    return head


def _oid_line(head: bytes, pos: int, prefix: bytes) -> bytes | None:
    """The binary id on the `prefix <hex>\\n` line at `pos`, or None if there is no such line."""
    if not head.startswith(prefix, pos):
        return None
    start = pos + len(prefix)
    hex_id = head[start : start + 40]
    if not _HEX40.match(hex_id) or head[start + 40 : start + 41] != b"\n":
        kind = prefix.decode().strip()
        msg_id = {"tree": "badTreeSha1", "parent": "badParentSha1"}.get(kind, "badObjectSha1")
        raise _Bad(f"{msg_id}: invalid '{kind}' line format - bad sha1")
    return bytes.fromhex(hex_id.decode())


def _check_ident(line: bytes) -> None:
    """One author/committer/tagger value (without its LF), as git's fsck_ident."""
    if line.startswith(b"<"):
        raise _Bad(
            "missingNameBeforeEmail: invalid author/committer line - missing space before email"
        )
    lt, gt = line.find(b"<"), line.find(b">")
    if gt >= 0 and (lt < 0 or gt < lt):
        raise _Bad("badName: invalid author/committer line - bad name")
    if lt < 0:
        raise _Bad("missingEmail: invalid author/committer line - missing email")
    if line[lt - 1 : lt] != b" ":
        raise _Bad(
            "missingSpaceBeforeEmail: invalid author/committer line - missing space before email"
        )
    lt2 = line.find(b"<", lt + 1)
    if gt < 0 or (0 <= lt2 < gt):
        raise _Bad("badEmail: invalid author/committer line - bad email")
    rest = line[gt + 1 :]
    if not rest.startswith(b" "):
        raise _Bad(
            "missingSpaceBeforeDate: invalid author/committer line - missing space before date"
        )
    m = _DATE.match(rest, 1)
    if m is None:
        date = rest[1:].lstrip(b" \t")
        if not date[:1].isdigit() or b" " not in date:
            raise _Bad("badDate: invalid author/committer line - bad date")
        raise _Bad("badTimezone: invalid author/committer line - bad time zone")
    digits = m.group(1)
    if digits[0] == 0x30 and len(digits) > 1:
        raise _Bad("zeroPaddedDate: invalid author/committer line - zero-padded date")
    if len(digits) >= 19 and int(digits) > _MAX_TIMESTAMP:
        raise _Bad("badDateOverflow: invalid author/committer line - date causes integer overflow")


def _ident_line(head: bytes, pos: int, prefix: bytes) -> tuple[bytes, int] | None:
    if not head.startswith(prefix, pos):
        return None
    nl = head.index(b"\n", pos)  # the header ends with LF
    return head[pos + len(prefix) : nl], nl + 1


def _check_commit(data: bytes) -> list[bytes]:
    head = _header(data)
    tree = _oid_line(head, 0, b"tree ")
    if tree is None:
        raise _Bad("missingTree: invalid format - expected 'tree' line")
    refs = [tree]
    pos = 46
    while (parent := _oid_line(head, pos, b"parent ")) is not None:
        refs.append(parent)
        pos += 48
    authors = 0
    while (found := _ident_line(head, pos, b"author ")) is not None:
        _check_ident(found[0])
        pos = found[1]
        authors += 1
    if authors == 0:
        raise _Bad("missingAuthor: invalid format - expected 'author' line")
    if authors > 1:
        raise _Bad("multipleAuthors: invalid format - multiple 'author' lines")
    found = _ident_line(head, pos, b"committer ")
    if found is None:
        raise _Bad("missingCommitter: invalid format - expected 'committer' line")
    _check_ident(found[0])
    return refs


def _check_tag(data: bytes) -> list[bytes]:
    head = _header(data)
    target = _oid_line(head, 0, b"object ")
    if target is None:
        raise _Bad("missingObject: invalid format - expected 'object' line")
    pos = 48
    found = _ident_line(head, pos, b"type ")
    if found is None:
        raise _Bad("missingTypeEntry: invalid format - expected 'type' line")
    if found[0] not in _TAG_TYPES:
        raise _Bad("badType: invalid 'type' value")
    pos = found[1]
    found = _ident_line(head, pos, b"tag ")
    if found is None:
        raise _Bad("missingTagEntry: invalid format - expected 'tag' line")
    pos = found[1]
    # A missing tagger (missingTaggerEntry) and odd tag names (badTagName) are only reported
    # by git, never refused: early git wrote tags without a tagger.
    found = _ident_line(head, pos, b"tagger ")
    if found is not None:
        _check_ident(found[0])
    return [target]
