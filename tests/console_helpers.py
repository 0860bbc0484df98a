"""What the console's plain-HTTP tests share: an IAM user with a console password and an inline
policy, a signed-in client, and the hidden form fields a page carries."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from conftest import Server

ACCOUNT = "123456789012"
PASSWORD = "Corr3ct-Horse!"


def console_user(srv: Server, statements: list[dict[str, Any]]) -> str:
    """A new IAM user who may sign in with PASSWORD, allowed `statements`; its name."""
    iam = srv.client("iam")
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=PASSWORD)
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc)
    return name


@contextmanager
def signed_in(srv: Server, name: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in to the console as the IAM user `name` (its Origin this server's)."""
    with httpx.Client(base_url=srv.url, headers={"Origin": srv.url}, timeout=30) as c:
        r = c.post(
            "/console/signin",
            data={"kind": "iam", "account": ACCOUNT, "username": name, "password": PASSWORD},
        )
        assert r.status_code == 303
        yield c


def csrf(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, page
    return m.group(1)


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, name
    return m.group(1)
