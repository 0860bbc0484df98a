"""TagResource, UntagResource and ListTagsForResource on repository ARNs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import ACCOUNT, REGION, Server


@pytest.fixture
def repo_arn(cc: Any) -> str:
    name = f"tags-{uuid.uuid4().hex[:12]}"
    arn: str = cc.create_repository(repositoryName=name, tags={"a": "1"})["repositoryMetadata"][
        "Arn"
    ]
    return arn


def test_tag_list_untag(cc: Any, repo_arn: str) -> None:
    assert cc.list_tags_for_resource(resourceArn=repo_arn)["tags"] == {"a": "1"}
    cc.tag_resource(resourceArn=repo_arn, tags={"b": "2", "a": "changed", "empty": ""})
    assert cc.list_tags_for_resource(resourceArn=repo_arn)["tags"] == {
        "a": "changed",
        "b": "2",
        "empty": "",
    }
    cc.untag_resource(resourceArn=repo_arn, tagKeys=["a", "not-there"])
    assert cc.list_tags_for_resource(resourceArn=repo_arn)["tags"] == {"b": "2", "empty": ""}


def test_tag_rules(cc: Any, repo_arn: str) -> None:
    with pytest.raises(cc.exceptions.InvalidSystemTagUsageException):
        cc.tag_resource(resourceArn=repo_arn, tags={"aws:created-by": "x"})
    with pytest.raises(cc.exceptions.InvalidSystemTagUsageException):
        cc.tag_resource(resourceArn=repo_arn, tags={"AWS:created-by": "x"})
    with pytest.raises(cc.exceptions.InvalidSystemTagUsageException):
        cc.untag_resource(resourceArn=repo_arn, tagKeys=["aws:created-by"])
    with pytest.raises(cc.exceptions.InvalidTagsMapException):
        cc.tag_resource(resourceArn=repo_arn, tags={"k" * 129: "v"})
    with pytest.raises(cc.exceptions.InvalidTagsMapException):
        cc.tag_resource(resourceArn=repo_arn, tags={"k": "v" * 257})
    with pytest.raises(cc.exceptions.InvalidTagsMapException):
        cc.tag_resource(resourceArn=repo_arn, tags={"k": "semi;colon"})
    with pytest.raises(cc.exceptions.InvalidTagKeysListException):
        cc.untag_resource(resourceArn=repo_arn, tagKeys=["k" * 129])
    # Nothing changed through any of those.
    assert cc.list_tags_for_resource(resourceArn=repo_arn)["tags"] == {"a": "1"}
    # Letters of any script, spaces and + - = . _ : / @ are allowed.
    cc.tag_resource(resourceArn=repo_arn, tags={"Équipe 1": "a+b=c.d_e:f/g@h-i"})
    assert cc.list_tags_for_resource(resourceArn=repo_arn)["tags"]["Équipe 1"] == (
        "a+b=c.d_e:f/g@h-i"
    )


def test_at_most_50_tags(cc: Any, repo_arn: str) -> None:
    cc.tag_resource(resourceArn=repo_arn, tags={f"k{i}": "v" for i in range(49)})
    assert len(cc.list_tags_for_resource(resourceArn=repo_arn)["tags"]) == 50
    with pytest.raises(cc.exceptions.TooManyTagsException):
        cc.tag_resource(resourceArn=repo_arn, tags={"one-more": "v"})
    # Overwriting existing keys does not count as new tags.
    cc.tag_resource(resourceArn=repo_arn, tags={"k0": "new"})
    tags = cc.list_tags_for_resource(resourceArn=repo_arn)["tags"]
    assert len(tags) == 50 and tags["k0"] == "new" and "one-more" not in tags


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        f"arn:aws:s3:::{ACCOUNT}",
        f"arn:aws:codecommit:{REGION}:12345:repo",
        f"arn:aws-cn:codecommit:{REGION}:{ACCOUNT}:repo",
        f"arn:aws:codecommit:{REGION}",
    ],
)
def test_invalid_resource_arn(cc: Any, arn: str) -> None:
    with pytest.raises(cc.exceptions.InvalidResourceArnException):
        cc.list_tags_for_resource(resourceArn=arn)
    with pytest.raises(cc.exceptions.InvalidResourceArnException):
        cc.tag_resource(resourceArn=arn, tags={"k": "v"})


def test_arn_of_missing_repository(cc: Any) -> None:
    arn = f"arn:aws:codecommit:{REGION}:{ACCOUNT}:gone-{uuid.uuid4().hex[:8]}"
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.list_tags_for_resource(resourceArn=arn)
    with pytest.raises(cc.exceptions.RepositoryDoesNotExistException):
        cc.untag_resource(resourceArn=arn, tagKeys=["a"])


def test_other_accounts_repository_is_denied(server: Server, repo_arn: str) -> None:
    intruder = server.client(key="999988887777")
    with pytest.raises(intruder.exceptions.ClientError) as info:
        intruder.tag_resource(resourceArn=repo_arn, tags={"pwned": "yes"})
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    cc = server.client()
    assert "pwned" not in cc.list_tags_for_resource(resourceArn=repo_arn)["tags"]
