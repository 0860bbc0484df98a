"""Checks every pushed object must pass before it is stored, as `git fsck` / `receive.fsckObjects`
would apply them: well-formed objects, safe tree entry names, size limits, and the references
each object makes (for the connectivity check)."""

from __future__ import annotations

from collections.abc import Sequence

from dulwich.errors import ObjectFormatException
from dulwich.objects import S_IFGITLINK, Commit, ShaFile, Tag, Tree

from emulator.config import Limits

BLOB, TREE, COMMIT, TAG = 3, 2, 1, 4
TYPE_NAMES = {COMMIT: "commit", TREE: "tree", BLOB: "blob", TAG: "tag"}

# Code points HFS+ ignores when comparing names, so ".g\u200cit" opens ".git" there (git's
# is_hfs_dotgit uses the same list).
_HFS_IGNORABLE = frozenset(
    [0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0xFEFF,
     *range(0x206A, 0x2070)]
)


class ObjectCheckError(Exception):
    """A pushed object that must not be stored; the message names the object and the rule."""


def is_dotgit_name(name: bytes) -> bool:
    """True if a tree entry named `name` could open the `.git` directory on some file system:
    `.git` in any case, NTFS spellings (trailing dots/spaces, 8.3 name `git~1`, alternate data
    streams, `\\` as separator) and HFS+ spellings with ignorable code points."""
    for part in name.split(b"\\"):
        lower = part.lower()
        base = lower.split(b":", 1)[0].rstrip(b". ")
        if lower == b".git" or base in (b".git", b"git~1"):
            return True
        try:
            text = part.decode("utf-8")
        except UnicodeDecodeError:
            continue
        stripped = "".join(ch for ch in text if ord(ch) not in _HFS_IGNORABLE)
        if stripped.lower() == ".git":
            return True
    return False


def check_object(
    type_num: int, chunks: Sequence[bytes], hexsha: bytes, limits: Limits
) -> list[bytes]:
    """Check one object; return the hex SHAs it references that must exist (parents, tree,
    tree entries other than submodules, tag target). Raise `ObjectCheckError` if it is bad."""
    size = sum(len(c) for c in chunks)
    what = f"{TYPE_NAMES.get(type_num, 'object')} {hexsha.decode()}"
    if size > limits.max_object_size:
        raise ObjectCheckError(f"{what} is larger than {limits.max_object_size} bytes")
    if type_num == BLOB:
        return []
    if type_num not in TYPE_NAMES:
        raise ObjectCheckError(f"{what}: unknown object type {type_num}")
    try:
        obj = ShaFile.from_raw_chunks(type_num, list(chunks))
        obj.check()
    except (ObjectFormatException, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ObjectCheckError(f"{what} is malformed: {exc}") from None
    if isinstance(obj, Commit):
        return [obj.tree, *obj.parents]
    if isinstance(obj, Tag):
        return [obj.object[1]]
    if isinstance(obj, Tree):
        if len(obj) > limits.max_tree_entries:
            raise ObjectCheckError(f"{what} has more than {limits.max_tree_entries} entries")
        refs: list[bytes] = []
        for entry in obj.iteritems():
            if is_dotgit_name(entry.path):
                raise ObjectCheckError(
                    f"{what} contains an entry named {entry.path!r}, which is not allowed"
                    " (it could overwrite .git on checkout)"
                )
            if entry.mode != S_IFGITLINK:
                refs.append(entry.sha)
        return refs
    raise ObjectCheckError(f"{what}: unexpected object")
