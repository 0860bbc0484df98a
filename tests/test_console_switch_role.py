"""Switch role in the console: STS AssumeRole as the signed-in user, then acting as the role."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from console_helpers import csrf as _csrf
from console_helpers import signed_in as _signed_in

from tests.conftest import ACCOUNT, Server

PASSWORD = "Corr3ct-Horse!"
OTHER = "111122223333"


def _doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _user(srv: Server, *statements: dict[str, Any]) -> str:
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=_doc(*statements))
    return name


def _role_in_other_account(srv: Server, trusted: str) -> tuple[str, str, str]:
    """A repository and a read-only role in account OTHER whose trust policy names `trusted`."""
    repo = f"b-{uuid.uuid4().hex[:8]}"
    srv.client(key=OTHER, secret="test").create_repository(repositoryName=repo)
    iam = srv.client("iam", key=OTHER, secret="test")
    role = f"dev-{uuid.uuid4().hex[:6]}"
    trust = {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(RoleName=role, Path="/team/", AssumeRolePolicyDocument=_doc(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AWSCodeCommitReadOnly")
    return repo, role, arn["Role"]["Arn"]


def _switch(c: httpx.Client, role: str, display: str = "", **headers: str) -> httpx.Response:
    token = _csrf(c.get("/console/switchrole").text)
    form = {"csrf": token, "account": OTHER, "role": role, "display": display}
    return c.post("/console/switchrole", data=form, headers=headers)


def test_switched_role_in_another_account_sees_that_accounts_repositories(
    server: Server,
) -> None:
    own = f"a-{uuid.uuid4().hex[:8]}"
    server.client().create_repository(repositoryName=own)
    name = _user(server)
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    repo, role, role_arn = _role_in_other_account(server, user_arn)
    allow_assume = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
    read = {"Effect": "Allow", "Action": "codecommit:List*", "Resource": "*"}
    server.client("iam").put_user_policy(
        UserName=name, PolicyName="p", PolicyDocument=_doc(allow_assume, read)
    )
    with _signed_in(server, name) as c:
        page = c.get("/console/repositories").text
        assert own in page and repo not in page
        r = _switch(c, "team/" + role, "Dev in B")
        assert r.status_code == 303, r.text
        page = c.get("/console/repositories").text
        assert repo in page and own not in page
        assert "Dev in B" in page and f"Back to {name}" in page
        assert f"arn:aws:sts::{OTHER}:assumed-role/{role}/{name}" in page
        # The role's policies decide now: read-only, so creating a repository is denied,
        # with the role session named and nothing created.
        token = _csrf(page)
        r = c.post("/console/repositories", data={"csrf": token, "name": "nope-" + repo})
        assert r.status_code == 403 and "codecommit:CreateRepository" in r.text
        assert f"assumed-role/{role}/{name}" in r.text
        names = [
            x["repositoryName"]
            for x in server.client(key=OTHER, secret="test").list_repositories()["repositories"]
        ]
        assert "nope-" + repo not in names
        # The form remembers the role it switched to.
        assert "Dev in B" in c.get("/console/switchrole").text
        # Back to the user: their own account again.
        r = c.post("/console/switchrole/back", data={"csrf": token})
        assert r.status_code == 303
        page = c.get("/console/repositories").text
        assert own in page and repo not in page and "Back to" not in page


def test_role_whose_trust_policy_refuses_the_user_shows_the_sts_error(server: Server) -> None:
    own = f"a-{uuid.uuid4().hex[:8]}"
    server.client().create_repository(repositoryName=own)
    name = _user(
        server,
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
        {"Effect": "Allow", "Action": "codecommit:List*", "Resource": "*"},
    )
    # The role trusts someone else.
    repo, role, role_arn = _role_in_other_account(
        server, f"arn:aws:iam::{ACCOUNT}:user/someone-else"
    )
    with _signed_in(server, name) as c:
        r = _switch(c, "team/" + role)
        assert r.status_code == 403
        assert (
            f"AccessDenied: User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to"
            f" perform: sts:AssumeRole on resource: {role_arn}"
        ) in r.text
        # Still the user, in the user's account; the server serves the next request.
        page = c.get("/console/repositories").text
        assert own in page and repo not in page and "Back to" not in page
        # A malformed account id is refused before STS is asked.
        r = c.post(
            "/console/switchrole",
            data={"csrf": _csrf(page), "account": "12", "role": role, "display": ""},
        )
        assert r.status_code == 400 and "12-digit account ID" in r.text


def test_switch_role_from_another_origin_or_without_token_is_refused(server: Server) -> None:
    name = _user(server)
    repo, role, role_arn = _role_in_other_account(server, f"arn:aws:iam::{ACCOUNT}:user/{name}")
    server.client("iam").put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=_doc(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn},
            {"Effect": "Allow", "Action": "codecommit:List*", "Resource": "*"},
        ),
    )
    with _signed_in(server, name) as c:
        r = _switch(c, "team/" + role, Origin="http://evil.example")
        assert r.status_code == 403 and "Cross-site request refused" in r.text
        r = c.post(
            "/console/switchrole", data={"account": OTHER, "role": "team/" + role, "display": ""}
        )
        assert r.status_code == 403
        page = c.get("/console/repositories").text
        assert repo not in page and "Back to" not in page
        # With the token and from this origin it works, and going back is guarded the same way.
        assert _switch(c, "team/" + role).status_code == 303
        r = c.post(
            "/console/switchrole/back",
            data={"csrf": _csrf(page)},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403
        assert c.post("/console/switchrole/back", data={}).status_code == 403
        assert repo in c.get("/console/repositories").text
