"""Uploading a file in the console over plain HTTP and raw sockets: a PutFile commit of the
bytes as sent, the 6 MB bound applied before the body is read, and refusals."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from console_helpers import console_user as _user
from console_helpers import csrf as _csrf

from console.upload import MAX_BODY
from tests.conftest import ACCOUNT, Server, git

PASSWORD = "Corr3ct-Horse!"
ALL = {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}
# A 1x1 PNG, then every byte value: CR, LF, NUL and high bytes must all come back as sent.
PNG = (
    (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
        b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
        b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    + bytes(range(256))
    + b"\r\n--\r\n"
)
SIX_MB = 6 * 1024 * 1024


@contextmanager
def _signed_in(srv: Server, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, headers={"Origin": srv.url}, timeout=60) as c:
        r = c.post(
            "/console/signin",
            data={"kind": "iam", "account": ACCOUNT, "username": name, "password": PASSWORD},
        )
        assert r.status_code == 303
        yield c


def _repo(srv: Server) -> tuple[str, str]:
    cc = srv.client("codecommit")
    repo = f"up-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=repo)
    out = cc.put_file(repositoryName=repo, branchName="main", filePath="a.txt", fileContent=b"a")
    return repo, out["commitId"]


def _head(srv: Server, repo: str) -> str:
    got = srv.client("codecommit").get_branch(repositoryName=repo, branchName="main")
    return str(got["branch"]["commitId"])


def test_uploaded_png_is_committed_byte_for_byte_and_cloned_by_git(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    repo, head = _repo(server)
    at = f"/console/repositories/{repo}"
    with _signed_in(server, _user(server, [ALL])) as c:
        assert f'href="{at}/upload?branch=main' in c.get(at).text
        page = c.get(at + "/upload", params={"branch": "main", "path": "img"}).text
        assert 'enctype="multipart/form-data"' in page and 'value="img"' in page
        assert f'name="parent" value="{head}"' in page
        fields = {
            "csrf": _csrf(page),
            "branch": "main",
            "folder": "img",
            "parent": head,
            "message": "add a picture",
        }
        r = c.post(at + "/upload", data=fields, files={"file": ("dot.png", PNG, "image/png")})
        assert r.status_code == 303, r.text
        commit = _head(server, repo)
        assert r.headers["location"] == f"{at}/commit/{commit}"
        assert "Uploaded img/dot.png" in c.get(r.headers["location"]).text
    work = tmp_path / "clone"
    git(git_env, "clone", "-q", server.git_url(repo), str(work))
    assert (work / "img" / "dot.png").read_bytes() == PNG
    log = git(git_env, "log", "-1", "--format=%s", cwd=work).stdout.strip()
    assert log == "add a picture"


def test_upload_over_an_outdated_parent_or_without_a_file_commits_nothing(
    server: Server,
) -> None:
    repo, head = _repo(server)
    at = f"/console/repositories/{repo}"
    with _signed_in(server, _user(server, [ALL])) as c:
        token = _csrf(c.get(at + "/upload").text)
        server.client("codecommit").put_file(
            repositoryName=repo,
            branchName="main",
            filePath="b.txt",
            fileContent=b"b",
            parentCommitId=head,
        )
        moved = _head(server, repo)
        fields = {"csrf": token, "branch": "main", "parent": head}
        r = c.post(at + "/upload", data=fields, files={"file": ("x.bin", b"x")})
        assert r.status_code == 400 and "ParentCommitIdOutdatedException" in r.text
        # An empty file input, as a browser sends it: a part with no file name.
        empty = {"file": ("", b"", "application/octet-stream")}
        r = c.post(at + "/upload", data={**fields, "parent": moved}, files=empty)
        assert r.status_code == 400 and "Choose a file to upload." in r.text
        assert _head(server, repo) == moved


def test_file_over_six_mb_within_the_body_bound_is_refused_by_put_file(server: Server) -> None:
    repo, head = _repo(server)
    at = f"/console/repositories/{repo}"
    with _signed_in(server, _user(server, [ALL])) as c:
        token = _csrf(c.get(at + "/upload").text)
        fields = {"csrf": token, "branch": "main", "parent": head}
        big = b"\0" * (SIX_MB + 1)
        r = c.post(at + "/upload", data=fields, files={"file": ("big.bin", big)})
        assert r.status_code == 400 and "FileContentSizeLimitExceededException" in r.text
        assert _head(server, repo) == head
        # The same upload at the limit is committed.
        r = c.post(at + "/upload", data=fields, files={"file": ("big.bin", big[:-1])})
        assert r.status_code == 303
        assert _head(server, repo) != head


def _raw_upload(srv: Server, cookie: str, repo: str, framing: str) -> socket.socket:
    host, port = srv.host_port.split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    sock.sendall(
        (
            f"POST /console/repositories/{repo}/upload HTTP/1.1\r\n"
            f"Host: {srv.host_port}\r\nOrigin: {srv.url}\r\n"
            f"Cookie: ccemu_console={cookie}\r\n"
            "Content-Type: multipart/form-data; boundary=XyZ\r\n"
            f"{framing}\r\n"
        ).encode()
    )
    return sock


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"</html>" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_upload_declaring_more_than_the_bound_is_refused_before_its_body_is_read(
    server: Server,
) -> None:
    repo, head = _repo(server)
    with _signed_in(server, _user(server, [ALL])) as c:
        cookie = c.cookies["ccemu_console"]
        # No byte of the body is sent: a server that waited for it would time out here.
        sock = _raw_upload(server, cookie, repo, f"Content-Length: {MAX_BODY + 1}\r\n")
        with sock:
            answer = _response(sock)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"FileContentSizeLimitExceededException" in answer
        assert _head(server, repo) == head
        assert c.get(f"/console/repositories/{repo}/upload").status_code == 200


def test_chunked_upload_past_the_bound_stops_being_read(server: Server) -> None:
    repo, head = _repo(server)
    with _signed_in(server, _user(server, [ALL])) as c:
        cookie = c.cookies["ccemu_console"]
        sock = _raw_upload(server, cookie, repo, "Transfer-Encoding: chunked\r\n")
        with sock:
            start = (
                b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n"
            )
            piece = b"\0" * 65536
            sent = 0
            chunks = [start] + [piece] * (MAX_BODY // len(piece) + 2)
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            # The body never ends (no last chunk): only a server that stops at the bound
            # answers.
            assert sent > MAX_BODY
            answer = _response(sock)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"FileContentSizeLimitExceededException" in answer
        assert _head(server, repo) == head
        assert c.get(f"/console/repositories/{repo}/upload").status_code == 200


def test_upload_without_csrf_token_or_denied_put_file_commits_nothing(server: Server) -> None:
    repo, head = _repo(server)
    deny = {"Sid": "NoUploads", "Effect": "Deny", "Action": "codecommit:PutFile", "Resource": "*"}
    at = f"/console/repositories/{repo}/upload"
    with _signed_in(server, _user(server, [ALL])) as c:
        fields = {"branch": "main", "parent": head}
        r = c.post(at, data=fields, files={"file": ("x.txt", b"x")})
        assert r.status_code == 403 and "The form has expired." in r.text
        token = _csrf(c.get(at).text)
        r = c.post(
            at,
            data={**fields, "csrf": token},
            files={"file": ("x.txt", b"x")},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403 and "Cross-site request refused." in r.text
    with _signed_in(server, _user(server, [ALL, deny])) as c:
        token = _csrf(c.get(at).text)
        r = c.post(at, data={**fields, "csrf": token}, files={"file": ("x.txt", b"x")})
        assert r.status_code == 403
        assert '<code class="action">codecommit:PutFile</code>' in r.text and "NoUploads" in r.text
        assert _head(server, repo) == head
        assert c.get(at).status_code == 200
