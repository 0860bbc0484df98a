"""The console's Code pages over plain HTTP: escaping, raw bytes, denials through the one gate."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from console_helpers import console_user as _user
from console_helpers import csrf as _csrf
from console_helpers import signed_in as _signed_in

from tests.conftest import ACCOUNT, Server, start_server

PASSWORD = "Corr3ct-Horse!"
EVIL = '<script>alert("pwned")</script>'
NAME = "<script>"


ALL = {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"}


def _repo_with(srv: Server, files: dict[str, bytes]) -> tuple[str, str]:
    cc = srv.client("codecommit")
    repo = f"code-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=repo)
    out = cc.create_commit(
        repositoryName=repo,
        branchName="main",
        putFiles=[{"filePath": p, "fileContent": c} for p, c in files.items()],
    )
    return repo, out["commitId"]


def test_file_named_script_and_its_content_are_escaped(server: Server) -> None:
    repo, _ = _repo_with(server, {NAME: EVIL.encode(), "README.md": f"# hi {EVIL}".encode()})
    with _signed_in(server, _user(server, [ALL])) as c:
        # The folder view lists the file and renders the README as plain text.
        r = c.get(f"/console/repositories/{repo}")
        assert r.status_code == 200 and 'class="readme"' in r.text
        assert "<script>" not in r.text
        assert "&lt;script&gt;</a>" in r.text and "# hi &lt;script&gt;alert(" in r.text
        r = c.get(f"/console/repositories/{repo}/file", params={"path": NAME})
        assert r.status_code == 200 and 'class="filename">&lt;script&gt;</strong>' in r.text
        assert "<script>" not in r.text
        assert "<pre>&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;</pre>" in r.text
        # Raw bytes never run as this origin: a download, not a page.
        r = c.get(f"/console/repositories/{repo}/raw", params={"path": NAME})
        assert r.content == EVIL.encode()
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-disposition"].startswith("attachment;")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]


def test_commit_view_shows_the_unified_diff_of_a_change(server: Server) -> None:
    repo, first = _repo_with(server, {"a.txt": b"one\ntwo\nthree\n"})
    cc = server.client("codecommit")
    second = cc.put_file(
        repositoryName=repo,
        branchName="main",
        fileContent=b"one\n2\nthree\n",
        filePath="a.txt",
        parentCommitId=first,
    )["commitId"]
    with _signed_in(server, _user(server, [ALL])) as c:
        r = c.get(f"/console/repositories/{repo}/commit/{second}")
        assert r.status_code == 200
        assert "@@ -1,3 +1,3 @@" in r.text
        assert '<span class="del">-two</span>' in r.text
        assert '<span class="add">+2</span>' in r.text
        commits = c.get(f"/console/repositories/{repo}/commits").text
        assert second[:7] in commits and first[:7] in commits


def test_user_denied_get_file_sees_the_denial_naming_get_file(server: Server) -> None:
    repo, _ = _repo_with(server, {"secret.txt": b"s3cr3t"})
    deny = {"Sid": "NoFiles", "Effect": "Deny", "Action": "codecommit:GetFile", "Resource": "*"}
    with _signed_in(server, _user(server, [ALL, deny])) as c:
        r = c.get(f"/console/repositories/{repo}/file", params={"path": "secret.txt"})
        assert r.status_code == 403
        assert '<code class="action">codecommit:GetFile</code>' in r.text
        assert f":{repo}</code>" in r.text and "NoFiles" in r.text
        assert "s3cr3t" not in r.text
        # The next request is served: the folder view does not need GetFile.
        r = c.get(f"/console/repositories/{repo}")
        assert r.status_code == 200 and "secret.txt" in r.text


def test_denied_put_file_on_a_protected_branch_changes_nothing(server: Server) -> None:
    """A policy that protects `main` through codecommit:References holds in the console too:
    the console's commit is authorized with the key the API declares for PutFile."""
    repo, head = _repo_with(server, {"a.txt": b"a"})
    protect = {
        "Sid": "ProtectMain",
        "Effect": "Deny",
        "Action": "codecommit:PutFile",
        "Resource": "*",
        "Condition": {"StringEquals": {"codecommit:References": ["refs/heads/main"]}},
    }
    cc = server.client("codecommit")
    cc.create_branch(repositoryName=repo, branchName="work", commitId=head)
    with _signed_in(server, _user(server, [ALL, protect])) as c:
        token = _csrf(c.get(f"/console/repositories/{repo}/edit").text)
        form = {
            "csrf": token,
            "branch": "main",
            "path": "new.txt",
            "content": "hello",
            "message": "add",
            "parent": head,
        }
        r = c.post(f"/console/repositories/{repo}/edit", data=form)
        assert r.status_code == 403
        assert "codecommit:PutFile" in r.text and "ProtectMain" in r.text
        assert cc.get_branch(repositoryName=repo, branchName="main")["branch"]["commitId"] == head
        # The same user commits to another branch: served, through the same path.
        r = c.post(f"/console/repositories/{repo}/edit", data={**form, "branch": "work"})
        assert r.status_code == 303
        got = cc.get_file(repositoryName=repo, filePath="new.txt", commitSpecifier="work")
        assert got["fileContent"] == b"hello"


def test_branches_are_created_made_default_and_deleted(server: Server) -> None:
    repo, head = _repo_with(server, {"a.txt": b"a"})
    cc = server.client("codecommit")
    with _signed_in(server, _user(server, [ALL])) as c:
        at = f"/console/repositories/{repo}/branches"
        token = _csrf(c.get(at).text)
        assert c.post(at, data={"csrf": token, "branch": "dev", "from": "main"}).status_code == 303
        assert cc.get_branch(repositoryName=repo, branchName="dev")["branch"]["commitId"] == head
        r = c.post(at + "/default", data={"csrf": token, "branch": "dev"})
        assert r.status_code == 303
        meta = cc.get_repository(repositoryName=repo)["repositoryMetadata"]
        assert meta["defaultBranch"] == "dev"
        r = c.post(at + "/delete", data={"csrf": token, "branch": "main"})
        assert r.status_code == 303
        assert cc.list_branches(repositoryName=repo)["branches"] == ["dev"]
        # A bad name: the API's error, nothing made, and the page still serves.
        r = c.post(at, data={"csrf": token, "branch": "bad..name", "from": "dev"})
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert cc.list_branches(repositoryName=repo)["branches"] == ["dev"]
        assert c.get(at).status_code == 200


def test_connection_steps_name_this_server_and_the_users_ssh_key(server: Server) -> None:
    repo, _ = _repo_with(server, {"a.txt": b"a"})
    name = _user(server, [ALL, {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}])
    iam = server.client("iam")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    key_id = iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=public)["SSHPublicKey"][
        "SSHPublicKeyId"
    ]
    with _signed_in(server, name) as c:
        r = c.get(f"/console/repositories/{repo}/connect")
        assert r.status_code == 200
        assert f"git clone {server.url}/v1/repos/{repo}" in r.text
        assert f"User {key_id}" in r.text
        assert f"{name}-at-{ACCOUNT}" in r.text
        for tab in ('id="https"', 'id="ssh"', 'id="grc"'):
            assert tab in r.text


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_images_are_shown_and_binary_files_noted(server: Server) -> None:
    repo, _ = _repo_with(server, {"dot.png": PNG, "blob.bin": b"\x00\x01\x02binary"})
    with _signed_in(server, _user(server, [ALL])) as c:
        r = c.get(f"/console/repositories/{repo}/file", params={"path": "dot.png"})
        assert r.status_code == 200 and '<img class="shown"' in r.text
        raw = c.get(f"/console/repositories/{repo}/raw", params={"path": "dot.png"})
        assert raw.content == PNG and raw.headers["content-type"] == "image/png"
        assert raw.headers["content-disposition"].startswith("inline;")
        r = c.get(f"/console/repositories/{repo}/file", params={"path": "blob.bin"})
        assert r.status_code == 200 and "Binary file not shown." in r.text
        assert "binary" not in r.text.split("Binary file not shown.")[1]


def test_a_file_is_edited_and_deleted_in_the_console(server: Server) -> None:
    repo, head = _repo_with(server, {"notes.txt": b"first\n"})
    cc = server.client("codecommit")
    with _signed_in(server, _user(server, [ALL])) as c:
        at = f"/console/repositories/{repo}"
        page = c.get(at + "/edit", params={"branch": "main", "path": "notes.txt"}).text
        assert ">first\n</textarea>" in page and f'name="parent" value="{head}"' in page
        form = {"csrf": _csrf(page), "branch": "main", "path": "notes.txt", "parent": head}
        r = c.post(at + "/edit", data={**form, "content": "second\r\n", "message": "edit"})
        assert r.status_code == 303
        edited = cc.get_file(repositoryName=repo, filePath="notes.txt")
        assert edited["fileContent"] == b"second\n"
        # A form shown before that commit names an outdated parent: refused, nothing lost.
        r = c.post(at + "/edit", data={**form, "content": "stale", "message": "stale"})
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert cc.get_file(repositoryName=repo, filePath="notes.txt")["fileContent"] == b"second\n"
        # Delete, from the file view's button (the commit it shows is the parent).
        view = c.get(at + "/file", params={"ref": "main", "path": "notes.txt"}).text
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', view))
        assert (
            fields["parent"]
            == cc.get_branch(repositoryName=repo, branchName="main")["branch"]["commitId"]
        )
        r = c.post(at + "/delete-file", data=fields)
        assert r.status_code == 303
        folder = cc.get_folder(repositoryName=repo, folderPath="/")
        assert folder["files"] == []


def test_grc_steps_name_the_tls_endpoint_and_its_ca(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", "--https-port", "0")
    try:
        repo, _ = _repo_with(srv, {"a.txt": b"a"})
        ca = str((srv.data_dir / "tls" / "ca.pem").resolve())
        with _signed_in(srv, _user(srv, [ALL])) as c:
            page = c.get(f"/console/repositories/{repo}/connect").text
        grc = page.split('id="grc"')[1]
        assert f"git clone codecommit::us-east-1://{repo}" in grc
        assert "export CODE_COMMIT_ENDPOINT=127.0.0.1:" in grc
        assert f'<code class="ca">{ca}</code>' in grc and f".sslCAInfo {ca}" in grc
    finally:
        srv.stop()


def test_grc_tab_without_tls_says_how_to_turn_it_on(server: Server) -> None:
    repo, _ = _repo_with(server, {"a.txt": b"a"})
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get(f"/console/repositories/{repo}/connect").text
    grc = page.split('id="grc"')[1]
    assert "start the server with <code>--https-port</code>" in grc
    assert "codecommit::" not in grc
