"""git's checks of the `.gitmodules` and `.gitattributes` blobs a pushed tree names (fsck.c:
`fsck_blob`, `fsck_gitmodules_fn`, `check_submodule_url`), so that a repository cannot be made
to carry submodule settings that attack whoever clones it: a name that walks out of
`.git/modules` (`../../modules/x`), a URL or path that a git command would take for an option
(`-u./payload`, `-x`), a URL whose decoded form carries a newline into the credential protocol
(`%0a`), an `update = !command`.

`.gitmodules` is read as git reads config (config.c: `git_parse_source`, `get_base_var`,
`get_value`, `parse_value`); like git, a blob that stops parsing is checked up to that point
(`gitmodulesParse` is only informational), and a `.gitmodules` that is not a blob is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

GITMODULES, GITATTRIBUTES = ".gitmodules", ".gitattributes"
# fsck.c: ATTR_MAX_FILE_SIZE and ATTR_MAX_LINE_LENGTH
_ATTR_MAX_FILE_SIZE = 100 * 1024 * 1024
_ATTR_MAX_LINE_LENGTH = 2048
_PERCENT = re.compile(rb"%([0-9a-fA-F]{2})")
_SPACE = frozenset(b" \t\n\r")  # git's isspace()


class _ParseError(Exception):
    pass


def check_special_blob(kind: str, data: bytes) -> str | None:
    """The first rule `data`, found at a `kind` path, breaks (git's message id and text),
    or None."""
    if kind == GITATTRIBUTES:
        return _check_gitattributes(data)
    for var, value in _config_entries(data):
        problem = _check_submodule_entry(var, value)
        if problem is not None:
            return problem
    return None


def non_blob(kind: str) -> str:
    msg_id = "gitmodulesBlob" if kind == GITMODULES else "gitattributesBlob"
    return f"{msg_id}: non-blob found at {kind}"


# -- .gitattributes -----------------------------------------------------------------------------


def _check_gitattributes(data: bytes) -> str | None:
    if len(data) > _ATTR_MAX_FILE_SIZE:
        return "gitattributesLarge: .gitattributes too large to parse"
    for line in data.split(b"\0", 1)[0].split(b"\n"):  # C strings: a NUL ends the text
        if len(line) >= _ATTR_MAX_LINE_LENGTH:
            return "gitattributesLineLength: .gitattributes has too long lines to parse"
    return None


# -- submodule settings -------------------------------------------------------------------------


def _check_submodule_entry(var: bytes, value: bytes | None) -> str | None:
    # git hands the callback C strings: each ends at its first NUL
    var = var.split(b"\0", 1)[0]
    if value is not None:
        value = value.split(b"\0", 1)[0]
    # parse_config_key(var, "submodule", &subsection, &key): section, subsection, last part
    if not var.startswith(b"submodule."):
        return None
    rest = var[len(b"submodule.") :]
    dot = rest.rfind(b".")
    if dot < 0:
        return None  # no subsection: not a submodule's setting
    name, key = rest[:dot], rest[dot + 1 :]
    shown = value.decode("utf-8", "replace") if value is not None else ""
    if not _submodule_name_ok(name):
        return f"gitmodulesName: disallowed submodule name: {name.decode('utf-8', 'replace')}"
    if value is None:
        return None
    if key == b"url" and not _submodule_url_ok(value):
        return f"gitmodulesUrl: disallowed submodule url: {shown}"
    if key == b"path" and value.startswith(b"-"):
        return f"gitmodulesPath: disallowed submodule path: {shown}"
    if key == b"update" and value.startswith(b"!"):  # parse_submodule_update_type's command
        return f"gitmodulesUpdate: disallowed submodule update setting: {shown}"
    return None


def _submodule_name_ok(name: bytes) -> bool:
    """check_submodule_name: not empty, and no `..` path component (`/` or `\\` separated)."""
    if not name:
        return False
    return not any(part == b".." for part in re.split(rb"[/\\]", name))


def _is_sep(c: bytes) -> bool:
    return c in (b"/", b"\\")


def _starts_with_dot_slash(url: bytes) -> bool:
    return url[:1] == b"." and _is_sep(url[1:2])


def _starts_with_dot_dot_slash(url: bytes) -> bool:
    return url[:2] == b".." and _is_sep(url[2:3])


def _url_decode(data: bytes) -> bytes:
    return _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def _submodule_url_ok(url: bytes) -> bool:
    """fsck.c's check_submodule_url."""
    if url.startswith(b"-"):
        return False
    if _starts_with_dot_slash(url) or _starts_with_dot_dot_slash(url):
        # It could be appended to an http URL and URL-decoded.
        if b"\n" in _url_decode(url):
            return False
        # "../" that climbs out of its root can rewrite the host (CVE-2020-11008).
        dotdots, rest = 0, url
        while True:
            if _starts_with_dot_dot_slash(rest):
                dotdots, rest = dotdots + 1, rest[3:]
            elif _starts_with_dot_slash(rest):
                rest = rest[2:]
            else:
                break
        return not (dotdots > 0 and rest[:1] in (b":", b"/"))
    curl_url = _curl_url(url)
    if curl_url is None:
        return True
    return _credential_url_ok(curl_url)


def _curl_url(url: bytes) -> bytes | None:
    for prefix in (b"http::", b"https::", b"ftp::", b"ftps::"):
        if url.startswith(prefix):
            return url[len(prefix) :]
    if url.startswith((b"http://", b"https://", b"ftp://", b"ftps://")):
        return url
    return None


def _credential_url_ok(url: bytes) -> bool:
    """credential_from_url_gently: a scheme, a host, and no component that decodes to a
    newline."""
    proto_end = url.find(b"://")
    if proto_end <= 0:
        return False
    cp = url[proto_end + 3 :]
    at = cp.find(b"@")
    colon = cp.find(b":")
    slash = len(re.split(rb"[/?#]", cp, maxsplit=1)[0])
    components = [url[:proto_end]]
    if at < 0 or slash <= at:
        host = cp[:slash]
    elif colon < 0 or at <= colon:
        components.append(cp[:at])
        host = cp[at + 1 : slash]
    else:
        components += [cp[:colon], cp[colon + 1 : at]]
        host = cp[at + 1 : slash]
    host = _url_decode(host)
    path = cp[slash:].lstrip(b"/")
    components += [host, _url_decode(path)]
    if not host:
        return False
    return not any(b"\n" in _url_decode(c) for c in components)


# -- git's config syntax ------------------------------------------------------------------------


def _config_entries(data: bytes) -> Iterator[tuple[bytes, bytes | None]]:
    """(lower-cased section[.subsection].key, value or None) for each entry of a config
    file, up to the first syntax error."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    reader = _Chars(data)
    try:
        yield from _parse(reader)
    except _ParseError:
        return


class _Chars:
    """get_next_char: CRLF reads as LF, and the end reads as a final LF."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.eof = False

    def next(self) -> bytes:
        data, pos = self.data, self.pos
        if pos >= len(data):
            self.eof = True
            return b"\n"
        c = data[pos : pos + 1]
        self.pos = pos + 1
        if c == b"\r" and data[pos + 1 : pos + 2] == b"\n":
            self.pos = pos + 2
            return b"\n"
        return c


def _is_key_char(c: bytes) -> bool:
    return c.isalnum() or c == b"-"


def _parse(cs: _Chars) -> Iterator[tuple[bytes, bytes | None]]:
    section = b""
    comment = False
    while True:
        c = cs.next()
        if c == b"\n":
            if cs.eof:
                return
            comment = False
            continue
        if comment or c[0] in _SPACE:
            continue
        if c in (b"#", b";"):
            comment = True
            continue
        if c == b"[":
            section = _base_var(cs)
            continue
        if not c.isalpha():
            raise _ParseError
        name = bytearray(c.lower())
        while True:
            c = cs.next()
            if cs.eof or not _is_key_char(c):
                break
            name += c.lower()
        while c in (b" ", b"\t"):
            c = cs.next()
        value: bytes | None = None
        if c != b"\n":
            if c != b"=":
                raise _ParseError
            value = _value(cs)
        yield (section + b"." + bytes(name) if section else bytes(name)), value


def _base_var(cs: _Chars) -> bytes:
    name = bytearray()
    while True:
        c = cs.next()
        if cs.eof:
            raise _ParseError
        if c == b"]":
            break
        if c[0] in _SPACE:
            name += b"." + _extended_base_var(cs, c)
            break
        if not _is_key_char(c) and c != b".":
            raise _ParseError
        name += c.lower()
    if not name:
        raise _ParseError
    return bytes(name)


def _extended_base_var(cs: _Chars, c: bytes) -> bytes:
    """`[section "subsection"]`: the subsection, case kept, backslash escaping any byte."""
    while True:
        if c == b"\n":
            raise _ParseError
        c = cs.next()
        if c[0] not in _SPACE:
            break
    if c != b'"':
        raise _ParseError
    sub = bytearray()
    while True:
        c = cs.next()
        if c == b"\n":
            raise _ParseError
        if c == b'"':
            break
        if c == b"\\":
            c = cs.next()
            if c == b"\n":
                raise _ParseError
        sub += c
    if cs.next() != b"]":
        raise _ParseError
    return bytes(sub)


_ESCAPES = {b"t": b"\t", b"b": b"\b", b"n": b"\n", b"\\": b"\\", b'"': b'"'}


def _value(cs: _Chars) -> bytes:
    out = bytearray()
    quote = comment = False
    space = 0
    while True:
        c = cs.next()
        if c == b"\n":
            if quote:
                raise _ParseError
            return bytes(out)
        if comment:
            continue
        if c[0] in _SPACE and not quote:
            if out:
                space += 1
            continue
        if not quote and c in (b";", b"#"):
            comment = True
            continue
        out += b" " * space
        space = 0
        if c == b"\\":
            c = cs.next()
            if c == b"\n":
                continue  # a continued line
            escaped = _ESCAPES.get(c)
            if escaped is None:
                raise _ParseError
            out += escaped
            continue
        if c == b'"':
            quote = not quote
            continue
        out += c
