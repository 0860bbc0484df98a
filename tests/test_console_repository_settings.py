"""The console's repository changes over plain HTTP: create with tags and a KMS key chosen
from the account's keys, rename and describe from Settings, and their refusals."""

from __future__ import annotations

import uuid

from console_helpers import console_user as _user
from console_helpers import csrf as _csrf
from console_helpers import signed_in as _signed_in

from tests.conftest import ACCOUNT, REGION, Server

PASSWORD = "Corr3ct-Horse!"
ALL = {"Effect": "Allow", "Action": ["codecommit:*", "kms:*"], "Resource": "*"}


def _names(srv: Server) -> set[str]:
    repos = srv.client("codecommit").list_repositories()["repositories"]
    return {r["repositoryName"] for r in repos}


def test_repository_is_created_with_tags_and_a_key_chosen_from_the_accounts_keys(
    server: Server,
) -> None:
    kms = server.client("kms")
    key = kms.create_key(Description="lab key")["KeyMetadata"]
    alias = f"alias/lab-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    cc = server.client("codecommit")
    name = f"new-{uuid.uuid4().hex[:8]}"
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get("/console/repositories").text
        # The account's keys are offered (ListAliases, ListKeys) and any can still be typed.
        assert f'<option value="{alias}">{key["KeyId"]}</option>' in page
        assert f'<option value="{key["Arn"]}">{alias}</option>' in page
        form = {
            "csrf": _csrf(page),
            "name": name,
            "description": "for the lab",
            "tag_key_0": "team",
            "tag_value_0": "blue",
            "tag_key_1": "cost-center",
            "tag_value_1": "42",
            "tag_key_2": "",
            "tag_value_2": "",
            "kms_key_id": alias,
        }
        r = c.post("/console/repositories", data=form)
        assert r.status_code == 303, r.text
        meta = cc.get_repository(repositoryName=name)["repositoryMetadata"]
        assert meta["kmsKeyId"] == key["Arn"]
        assert meta["repositoryDescription"] == "for the lab"
        tags = cc.list_tags_for_resource(resourceArn=meta["Arn"])["tags"]
        assert tags == {"team": "blue", "cost-center": "42"}


def test_invalid_tags_or_an_unknown_key_create_nothing(server: Server) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    with _signed_in(server, _user(server, [ALL])) as c:
        token = _csrf(c.get("/console/repositories").text)
        form = {"csrf": token, "name": name, "tag_key_0": "team", "tag_value_0": "<b>x</b>"}
        r = c.post("/console/repositories", data=form)
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert f'value="{name}"' in r.text  # the form is shown again as it was filled
        assert name not in _names(server)
        form = {"csrf": token, "name": name, "kms_key_id": "alias/no-such-key"}
        r = c.post("/console/repositories", data=form)
        assert r.status_code == 400 and 'role="alert"' in r.text
        assert name not in _names(server)
        assert c.get("/console/repositories").status_code == 200


def test_repository_is_renamed_and_described_from_its_settings(server: Server) -> None:
    cc = server.client("codecommit")
    old = f"old-{uuid.uuid4().hex[:8]}"
    new = f"renamed-{uuid.uuid4().hex[:8]}"
    taken = f"taken-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=old, repositoryDescription="before")
    cc.create_repository(repositoryName=taken)
    with _signed_in(server, _user(server, [ALL])) as c:
        page = c.get(f"/console/repositories/{old}/settings").text
        assert 'id="general"' in page and ">before</textarea>" in page
        token = _csrf(page)
        # A name in use: CodeCommit's error, nothing renamed.
        r = c.post(
            f"/console/repositories/{old}/settings/name", data={"csrf": token, "new_name": taken}
        )
        assert r.status_code == 400 and "RepositoryNameExistsException" in r.text
        assert old in _names(server)

        r = c.post(
            f"/console/repositories/{old}/settings/description",
            data={"csrf": token, "description": "after\r\nsecond line"},
        )
        assert r.status_code == 303
        meta = cc.get_repository(repositoryName=old)["repositoryMetadata"]
        assert meta["repositoryDescription"] == "after\nsecond line"

        r = c.post(
            f"/console/repositories/{old}/settings/name", data={"csrf": token, "new_name": new}
        )
        assert r.status_code == 303
        assert r.headers["location"] == f"/console/repositories/{new}/settings#general"
        names = _names(server)
        assert new in names and old not in names
        page = c.get(r.headers["location"]).text
        assert f"Renamed repository {old} to {new}." in page
        arn = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{new}"
        assert cc.get_repository(repositoryName=new)["repositoryMetadata"]["Arn"] == arn


def test_user_denied_rename_sees_the_denial_naming_update_repository_name(
    server: Server,
) -> None:
    name = f"keep-{uuid.uuid4().hex[:8]}"
    server.client("codecommit").create_repository(repositoryName=name)
    deny = {
        "Sid": "NoRenames",
        "Effect": "Deny",
        "Action": "codecommit:UpdateRepositoryName",
        "Resource": "*",
    }
    with _signed_in(server, _user(server, [ALL, deny])) as c:
        at = f"/console/repositories/{name}/settings"
        token = _csrf(c.get(at).text)
        r = c.post(at + "/name", data={"csrf": token, "new_name": name + "-x"})
        assert r.status_code == 403
        assert '<code class="action">codecommit:UpdateRepositoryName</code>' in r.text
        assert f":{name}</code>" in r.text and "NoRenames" in r.text
        names = _names(server)
        assert name in names and name + "-x" not in names
        # The same user may still change the description.
        r = c.post(at + "/description", data={"csrf": token, "description": "still mine"})
        assert r.status_code == 303


def test_cross_site_rename_changes_nothing(server: Server) -> None:
    name = f"xs-{uuid.uuid4().hex[:8]}"
    server.client("codecommit").create_repository(repositoryName=name)
    with _signed_in(server, _user(server, [ALL])) as c:
        at = f"/console/repositories/{name}/settings"
        token = _csrf(c.get(at).text)
        r = c.post(
            at + "/name",
            data={"csrf": token, "new_name": name + "-x"},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403
        r = c.post(at + "/name", data={"new_name": name + "-x"})  # no CSRF token
        assert r.status_code == 403
        assert name in _names(server) and name + "-x" not in _names(server)
        assert c.get(at).status_code == 200
