"""Branch protection holds at the API as at the git doors: every CodeCommit operation is
authorized from one declaration, and the ones whose IAM action takes `codecommit:References`
pass the branch they change."""

from __future__ import annotations

import inspect
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from emulator.api import codecommit
from emulator.api.codecommit_access import ACCESS, REFERENCES
from tests.conftest import ACCOUNT, Server, git, make_commits

# The actions the Service Authorization Reference for AWS CodeCommit ("Actions, resources, and
# condition keys for AWS CodeCommit", docs.aws.amazon.com/service-authorization/latest/
# reference/list_awscodecommit.html) lists with the condition key `codecommit:References`.
# GitPush is the other one; it is no API operation and the git doors pass it per ref.
REFERENCE_ACTIONS = {
    "CreateBranch",
    "CreateCommit",
    "CreateUnreferencedMergeCommit",
    "DeleteBranch",
    "DeleteFile",
    "GetMergeCommit",
    "MergeBranchesByFastForward",
    "MergeBranchesBySquash",
    "MergeBranchesByThreeWay",
    "MergePullRequestByFastForward",
    "MergePullRequestBySquash",
    "MergePullRequestByThreeWay",
    "PutFile",
}

PROTECTED = ["refs/heads/main", "refs/heads/prod", "refs/heads/release"]

# AWS's documented branch protection ("Limit pushes and merges to branches"), with CreateBranch
# and the file and commit actions added: the Null condition keeps it from applying to calls
# that carry no reference.
BRANCH_PROTECTION = {
    "Effect": "Deny",
    "Action": [
        "codecommit:GitPush",
        "codecommit:CreateBranch",
        "codecommit:DeleteBranch",
        "codecommit:PutFile",
        "codecommit:DeleteFile",
        "codecommit:CreateCommit",
        "codecommit:MergeBranchesByFastForward",
        "codecommit:MergeBranchesBySquash",
        "codecommit:MergeBranchesByThreeWay",
        "codecommit:MergePullRequestByFastForward",
        "codecommit:MergePullRequestBySquash",
        "codecommit:MergePullRequestByThreeWay",
    ],
    "Resource": "*",
    "Condition": {
        "StringEqualsIfExists": {REFERENCES: PROTECTED},
        "Null": {REFERENCES: "false"},
    },
}


def test_every_codecommit_operation_declares_its_access() -> None:
    model = codecommit.SERVICE.model
    assert set(ACCESS) == set(model.operation_names)
    for op, access in ACCESS.items():
        assert access.action == f"codecommit:{op}", op
        # The operation's own references key, exactly where the reference lists it.
        assert (REFERENCES in access.context_keys) == (op in REFERENCE_ACTIONS), op
        members = set(model.operation_model(op).input_shape.members)
        used = set(access.resource.members).union(*(rule.members for rule in access.context))
        assert used <= members, f"{op} reads {used - members}, which its input does not have"
    # And the table is what the service applies: every handler's operation is declared there.
    assert codecommit.SERVICE.access is ACCESS
    assert {xform_name(op) for op in codecommit.SERVICE.handlers} <= {
        xform_name(op) for op in ACCESS
    }
    # No handler authorizes the operation by hand; the one call left checks the caller's own
    # permissions on a customer managed KMS key the request names.
    handlers = "".join(inspect.getsource(area) for area in (codecommit, *codecommit.AREAS))
    assert handlers.count("authorizer.") == 1
    assert '"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"' in handlers


def _protected_user(server: Server) -> dict[str, str]:
    iam = server.client("iam")
    name = f"dev-{uuid.uuid4().hex[:10]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "codecommit:*", "Resource": "*"},
            BRANCH_PROTECTION,
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="protect", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"arn": arn, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def _branches(server: Server, name: str) -> dict[str, str]:
    cc = server.client()
    return {
        b: cc.get_branch(repositoryName=name, branchName=b)["branch"]["commitId"]
        for b in cc.list_branches(repositoryName=name)["branches"]
    }


def _denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDeniedException", err
    return str(err["Message"])


def test_branch_protection_policy_stops_api_branch_deletion_and_creation(
    server: Server, git_env: dict[str, str], tmp_path: Path
) -> None:
    name = f"prot-{uuid.uuid4().hex[:10]}"
    root = server.client()
    root.create_repository(repositoryName=name)
    work = tmp_path / "work"
    [sha] = make_commits(git_env, work, 1)
    git(git_env, "push", "-q", server.git_url(name), "main", "main:prod", cwd=work)
    assert _branches(server, name) == {"main": sha, "prod": sha}

    dev = _protected_user(server)
    cc = server.client(key=dev["key"], secret=dev["secret"])
    arn = f"arn:aws:codecommit:us-east-1:{ACCOUNT}:{name}"

    message = _denied(cc.delete_branch, repositoryName=name, branchName="prod")
    assert message.startswith(
        f"User: {dev['arn']} is not authorized to perform: codecommit:DeleteBranch on resource:"
        f" {arn}"
    )
    _denied(cc.create_branch, repositoryName=name, branchName="release", commitId=sha)
    assert _branches(server, name) == {"main": sha, "prod": sha}

    # Moving the default branch away is allowed (UpdateDefaultBranch takes no reference), but
    # main stays protected once it is no longer the default.
    cc.create_branch(repositoryName=name, branchName="feature", commitId=sha)
    cc.update_default_branch(repositoryName=name, defaultBranchName="feature")
    _denied(cc.delete_branch, repositoryName=name, branchName="main")
    assert _branches(server, name) == {"main": sha, "prod": sha, "feature": sha}

    # Branches the policy does not name stay the user's to create and delete.
    cc.create_branch(repositoryName=name, branchName="topic/x", commitId=sha)
    deleted = cc.delete_branch(repositoryName=name, branchName="topic/x")["deletedBranch"]
    assert deleted == {"branchName": "topic/x", "commitId": sha}
    assert _branches(server, name) == {"main": sha, "prod": sha, "feature": sha}

    # The git door still refuses a push to main and takes one to an unprotected branch.
    url = server.git_url(name, key=dev["key"], secret=dev["secret"])
    [new] = make_commits(git_env, work, 1)
    proc = git(git_env, "push", "--porcelain", url, "HEAD:main", cwd=work, check=False)
    assert proc.returncode != 0 and "codecommit:GitPush" in proc.stdout + proc.stderr
    git(git_env, "push", "-q", url, "HEAD:feature", cwd=work)
    assert _branches(server, name) == {"main": sha, "prod": sha, "feature": new}
    # The server still serves the next request.
    assert root.get_repository(repositoryName=name)["repositoryMetadata"]["defaultBranch"] == (
        "feature"
    )


@pytest.mark.parametrize(
    ("op", "params", "expected"),
    [
        ("PutFile", {"branchName": "main"}, ["refs/heads/main"]),
        ("DeleteFile", {"branchName": "prod"}, ["refs/heads/prod"]),
        ("CreateCommit", {"branchName": "release"}, ["refs/heads/release"]),
        ("MergeBranchesBySquash", {"targetBranch": "main", "destinationCommitSpecifier": "dev"},
         ["refs/heads/main"]),
        ("MergeBranchesByFastForward", {"destinationCommitSpecifier": "main"}, ["refs/heads/main"]),
        ("MergeBranchesByThreeWay", {"destinationCommitSpecifier": "refs/heads/main"},
         ["refs/heads/main"]),
        ("GetMergeCommit", {"destinationCommitSpecifier": "main"}, ["refs/heads/main"]),
        ("CreateUnreferencedMergeCommit", {"destinationCommitSpecifier": "a" * 40}, []),
    ],
)  # fmt: skip
def test_operations_not_served_yet_already_declare_the_branch_they_change(
    op: str, params: dict[str, str], expected: list[str]
) -> None:
    """PutFile, CreateCommit, merges... answer 501 today; the gate will pass their branch the
    day a handler serves them."""
    values = [v for rule in ACCESS[op].context for v in rule.values(None, params)]  # type: ignore[arg-type]
    assert values == expected
