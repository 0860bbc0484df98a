"""The console's sign-in and request guard, with a plain HTTP client against the real server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from console_helpers import csrf as _csrf

from tests.conftest import ACCOUNT, Server, start_server

PASSWORD = "Corr3ct-Horse!"


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("console")
    srv = start_server(
        root / "data",
        "--console-idle-timeout",
        "1.5",
        "--access-log",
        str(root / "access.log"),
    )
    yield srv
    srv.stop()


def _user(srv: Server, policy: str | None = None) -> str:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    return name


ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def _client(srv: Server) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"Origin": srv.url}, timeout=30)


def _sign_in(c: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    return c.post(
        "/console/signin",
        data={"kind": "iam", "account": ACCOUNT, "username": name, "password": password},
    )


def test_session_cookie_is_httponly_strict_and_scoped(console_server: Server) -> None:
    name = _user(console_server, ALLOW_ALL)
    with _client(console_server) as c:
        r = _sign_in(c, name)
        assert r.status_code == 303 and r.headers["location"] == "/console/repositories"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
        assert "secure" not in cookie  # plain http: a Secure cookie would never come back
        page = c.get("/console/repositories")
        assert page.status_code == 200 and name in page.text
        assert page.headers["x-frame-options"] == "DENY"
        # The password is nowhere in what the server wrote.
        log = (console_server.data_dir.parent / "access.log").read_text()
        assert PASSWORD not in log and PASSWORD not in console_server.log.read_text()


def test_wrong_password_unknown_user_and_bad_account_look_the_same(console_server: Server) -> None:
    name = _user(console_server)
    with _client(console_server) as c:
        answers = [
            _sign_in(c, name, "not-" + PASSWORD),
            _sign_in(c, "nobody-" + name),
            c.post(
                "/console/signin",
                data={"kind": "iam", "account": "210987654321", "username": name, "password": "x"},
            ),
            c.post(
                "/console/signin",
                data={"kind": "root", "account": ACCOUNT, "password": "not-the-root-secret"},
            ),
        ]
        for r in answers:
            assert r.status_code == 401
            assert "Your authentication information is incorrect" in r.text
            assert "set-cookie" not in r.headers
        assert c.get("/console/repositories").headers["location"] == "/console/signin"
        # The server still serves the next request: the right password works.
        assert _sign_in(c, name).status_code == 303


def test_root_signs_in_with_the_root_secret(console_server: Server) -> None:
    with _client(console_server) as c:
        r = c.post("/console/signin", data={"kind": "root", "account": ACCOUNT, "password": "test"})
        assert r.status_code == 303
        assert "root @ " + ACCOUNT in c.get("/console/repositories").text


def test_state_change_without_csrf_token_is_refused(console_server: Server) -> None:
    name = _user(console_server, ALLOW_ALL)
    repo = f"r-{uuid.uuid4().hex[:8]}"
    with _client(console_server) as c:
        _sign_in(c, name)
        r = c.post("/console/repositories", data={"name": repo})
        assert r.status_code == 403 and "Nothing was changed" in r.text
        r = c.post("/console/repositories", data={"name": repo, "csrf": "forged"})
        assert r.status_code == 403
        assert repo not in _names(console_server)
        token = _csrf(c.get("/console/repositories").text)
        r = c.post("/console/repositories", data={"name": repo, "csrf": token})
        assert r.status_code == 303 and repo in _names(console_server)


def test_cross_origin_post_is_refused(console_server: Server) -> None:
    name = _user(console_server, ALLOW_ALL)
    repo = f"r-{uuid.uuid4().hex[:8]}"
    with _client(console_server) as c:
        _sign_in(c, name)
        token = _csrf(c.get("/console/repositories").text)
        # A page elsewhere posting with the victim's cookie (and even a leaked token).
        evil = {"Origin": "http://evil.example"}
        r = c.post("/console/repositories", data={"name": repo, "csrf": token}, headers=evil)
        assert r.status_code == 403 and "Cross-site request refused" in r.text
        bare = httpx.Client(base_url=console_server.url, cookies=c.cookies, timeout=30)
        r = bare.post("/console/repositories", data={"name": repo, "csrf": token})
        assert r.status_code == 403  # neither Origin nor Referer: refused too
        # Sign-in is guarded as well (login CSRF).
        r = bare.post(
            "/console/signin",
            data={"kind": "iam", "account": ACCOUNT, "username": name, "password": PASSWORD},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403 and "set-cookie" not in r.headers
        assert repo not in _names(console_server)
        r = c.post("/console/repositories", data={"name": repo, "csrf": token})
        assert r.status_code == 303 and repo in _names(console_server)


def test_idle_session_expires(console_server: Server) -> None:
    name = _user(console_server, ALLOW_ALL)
    with _client(console_server) as c:
        _sign_in(c, name)
        assert c.get("/console/repositories").status_code == 200
        time.sleep(2.0)  # the server's idle timeout is 1.5 s
        r = c.get("/console/repositories")
        assert r.status_code == 303 and r.headers["location"] == "/console/signin"


def test_new_password_ends_existing_sessions(console_server: Server) -> None:
    name = _user(console_server, ALLOW_ALL)
    with _client(console_server) as c:
        _sign_in(c, name)
        assert c.get("/console/repositories").status_code == 200
        console_server.client("iam").update_login_profile(UserName=name, Password="An0ther-pass!")
        assert c.get("/console/repositories").status_code == 303


def test_signout_ends_the_session(console_server: Server) -> None:
    name = _user(console_server, ALLOW_ALL)
    with _client(console_server) as c:
        _sign_in(c, name)
        token = _csrf(c.get("/console/repositories").text)
        old = dict(c.cookies)
        assert c.post("/console/signout", data={"csrf": token}).status_code == 303
        replay = httpx.Client(base_url=console_server.url, cookies=old, timeout=30)
        assert replay.get("/console/repositories").status_code == 303


def test_password_reset_required_comes_first(console_server: Server) -> None:
    iam = console_server.client("iam")
    name = _user(console_server, ALLOW_ALL)
    iam.update_login_profile(UserName=name, PasswordResetRequired=True)
    with _client(console_server) as c:
        assert _sign_in(c, name).headers["location"] == "/console/password"
        r = c.get("/console/repositories")
        assert r.headers["location"] == "/console/password"
        token = _csrf(c.get("/console/password").text)
        new = "N3w-password!"
        r = c.post(
            "/console/password",
            data={
                "csrf": token,
                "old_password": PASSWORD,
                "new_password": new,
                "confirm_password": new,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/console/repositories"
        assert c.get("/console/repositories").status_code == 200
    assert not iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"]


def _names(srv: Server) -> list[str]:
    out: Any = srv.client("codecommit").list_repositories()
    return [r["repositoryName"] for r in out["repositories"]]
