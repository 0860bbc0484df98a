"""IAM console passwords through boto3: login profiles, ChangePassword, the password policy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server

GOOD = "Corr3ct-Horse!"
OTHER = "Batt3ry-Staple!"


@pytest.fixture
def logged_server(tmp_path: Path) -> Iterator[Server]:
    """A server of its own, writing an access log, with no password policy yet."""
    srv = start_server(tmp_path / "data", "--access-log", str(tmp_path / "access.log"))
    yield srv
    srv.stop()


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _user(iam: Any, policy: dict[str, Any] | None = None) -> str:
    name = f"u-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return name


def _keys(srv: Server, iam: Any, name: str) -> Any:
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return srv.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def test_login_profile_lifecycle(logged_server: Server) -> None:
    iam = logged_server.client("iam")
    name = _user(iam)
    made = iam.create_login_profile(UserName=name, Password=GOOD, PasswordResetRequired=True)
    assert made["LoginProfile"]["UserName"] == name
    assert made["LoginProfile"]["PasswordResetRequired"] is True
    got = iam.get_login_profile(UserName=name)["LoginProfile"]
    assert got["PasswordResetRequired"] is True and "CreateDate" in got

    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName=name, Password=GOOD)
    assert _code(exc) == "EntityAlreadyExists"

    iam.update_login_profile(UserName=name, PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False

    # A user with a console password cannot be deleted until the password is.
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=name)
    assert _code(exc) == "DeleteConflict"
    iam.delete_login_profile(UserName=name)
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName=name)
    assert _code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.delete_login_profile(UserName=name)
    assert _code(exc) == "NoSuchEntity"
    iam.delete_user(UserName=name)

    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName="nobody-" + name, Password=GOOD)
    assert _code(exc) == "NoSuchEntity"

    # No password ever reaches the access log or the server's output.
    logged = (logged_server.data_dir.parent / "access.log").read_text()
    assert "CreateLoginProfile" in logged
    assert GOOD not in logged and GOOD not in logged_server.log.read_text()


def test_weak_password_is_refused_by_the_default_policy_and_changes_nothing(
    logged_server: Server,
) -> None:
    iam = logged_server.client("iam")
    name = _user(iam)
    # With no account policy, AWS's default asks for 8 characters and three kinds of them.
    for weak in ("short1A", "alllowercaseletters", "lowercase123"):
        with pytest.raises(ClientError) as exc:
            iam.create_login_profile(UserName=name, Password=weak)
        assert _code(exc) == "PasswordPolicyViolation"
    with pytest.raises(ClientError) as exc:
        iam.get_login_profile(UserName=name)
    assert _code(exc) == "NoSuchEntity"
    iam.create_login_profile(UserName=name, Password="lowercase123!")


def test_account_password_policy(logged_server: Server) -> None:
    iam = logged_server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.get_account_password_policy()
    assert _code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.delete_account_password_policy()
    assert _code(exc) == "NoSuchEntity"

    iam.update_account_password_policy(
        MinimumPasswordLength=12, RequireSymbols=True, MaxPasswordAge=30, PasswordReusePrevention=2
    )
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12
    assert policy["RequireSymbols"] is True and policy["RequireNumbers"] is False
    assert policy["ExpirePasswords"] is True and policy["MaxPasswordAge"] == 30
    assert policy["PasswordReusePrevention"] == 2
    name = _user(iam)
    with pytest.raises(ClientError) as exc:
        iam.create_login_profile(UserName=name, Password="longbutnosymbol")
    assert _code(exc) == "PasswordPolicyViolation"
    iam.create_login_profile(UserName=name, Password="long-with-symbol")

    # Members left out go back to their defaults, as on IAM.
    iam.update_account_password_policy(RequireNumbers=True)
    policy = iam.get_account_password_policy()["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 6 and policy["RequireSymbols"] is False
    assert policy["ExpirePasswords"] is False and "MaxPasswordAge" not in policy

    # The model's bounds are the server's too, for a client that does not check them.
    import boto3
    from botocore.config import Config

    unchecked = boto3.client(
        "iam",
        endpoint_url=logged_server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as exc:
        unchecked.update_account_password_policy(MinimumPasswordLength=3)
    assert _code(exc) == "ValidationError"
    assert iam.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 6
    iam.delete_account_password_policy()
    with pytest.raises(ClientError) as exc:
        iam.get_account_password_policy()
    assert _code(exc) == "NoSuchEntity"


def test_change_password_needs_the_old_password_and_respects_reuse(
    logged_server: Server,
) -> None:
    iam = logged_server.client("iam")
    iam.update_account_password_policy(
        MinimumPasswordLength=8, AllowUsersToChangePassword=True, PasswordReusePrevention=1
    )
    name = _user(iam)
    iam.create_login_profile(UserName=name, Password=GOOD, PasswordResetRequired=True)
    own = _keys(logged_server, iam, name)

    with pytest.raises(ClientError) as exc:
        own.change_password(OldPassword="not-" + GOOD, NewPassword=OTHER)
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        own.change_password(OldPassword=GOOD, NewPassword="tiny")
    assert _code(exc) == "PasswordPolicyViolation"
    # PasswordReusePrevention=1: the current password cannot come back.
    with pytest.raises(ClientError) as exc:
        own.change_password(OldPassword=GOOD, NewPassword=GOOD)
    assert _code(exc) == "PasswordPolicyViolation"
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"]

    own.change_password(OldPassword=GOOD, NewPassword=OTHER)
    # Setting a new password clears PasswordResetRequired.
    assert not iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"]
    with pytest.raises(ClientError) as exc:  # the old one is gone
        own.change_password(OldPassword=GOOD, NewPassword="Third-pass1")
    assert _code(exc) == "AccessDenied"
    own.change_password(OldPassword=OTHER, NewPassword="Third-pass1")

    # The root user has no password of its own to change this way.
    with pytest.raises(ClientError) as exc:
        iam.change_password(OldPassword=GOOD, NewPassword=OTHER)
    assert _code(exc) == "InvalidUserType"


def test_change_password_needs_permission_without_the_policy_flag(logged_server: Server) -> None:
    iam = logged_server.client("iam")
    name = _user(iam)
    iam.create_login_profile(UserName=name, Password=GOOD)
    own = _keys(logged_server, iam, name)
    with pytest.raises(ClientError) as exc:
        own.change_password(OldPassword=GOOD, NewPassword=OTHER)
    assert _code(exc) == "AccessDenied"
    iam.put_user_policy(
        UserName=name,
        PolicyName="own-password",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iam:ChangePassword",
                        "Resource": f"arn:aws:iam::123456789012:user/{name}",
                    }
                ],
            }
        ),
    )
    own.change_password(OldPassword=GOOD, NewPassword=OTHER)


def test_login_profile_operations_go_through_the_gate(server: Server) -> None:
    iam = server.client("iam")
    target = _user(iam)
    name = _user(
        iam,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:GetLoginProfile", "Resource": "*"}],
        },
    )
    own = _keys(server, iam, name)
    with pytest.raises(ClientError) as exc:
        own.create_login_profile(UserName=target, Password=GOOD)
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        own.update_account_password_policy(MinimumPasswordLength=20)
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # allowed to look: there is nothing to see
        own.get_login_profile(UserName=target)
    assert _code(exc) == "NoSuchEntity"
    # The server still serves the next request.
    iam.create_login_profile(UserName=target, Password=GOOD)
    assert own.get_login_profile(UserName=target)["LoginProfile"]["UserName"] == target


def test_renamed_user_keeps_its_login_profile(server: Server) -> None:
    iam = server.client("iam")
    name = _user(iam)
    iam.create_login_profile(UserName=name, Password=GOOD)
    iam.update_user(UserName=name, NewUserName=name + "-x")
    assert iam.get_login_profile(UserName=name + "-x")["LoginProfile"]["UserName"] == name + "-x"
    iam.put_user_policy(
        UserName=name + "-x",
        PolicyName="own-password",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}],
            }
        ),
    )
    own = _keys(server, iam, name + "-x")
    own.change_password(OldPassword=GOOD, NewPassword=OTHER)
