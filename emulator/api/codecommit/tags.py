"""CodeCommit's resource tags: TagResource, UntagResource, ListTagsForResource."""

from __future__ import annotations

from collections.abc import Mapping

from emulator.api.codecommit.common import Output, repository_from_arn
from emulator.api.service import RequestContext
from emulator.repos.tags import validate_tag_keys, validate_tags

MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "resourceArn": ("ResourceArnRequiredException", "InvalidResourceArnException"),
    "tags": ("TagsMapRequiredException", "InvalidTagsMapException"),
    "tagKeys": ("TagKeysListRequiredException", "InvalidTagKeysListException"),
}


def tag_resource(ctx: RequestContext, resource_arn: str, tags: Mapping[str, str]) -> None:
    checked = validate_tags(tags, required=True)
    repo = repository_from_arn(ctx, resource_arn)
    ctx.emu.repos.set_tags(repo, checked)


def untag_resource(ctx: RequestContext, resource_arn: str, tag_keys: list[str]) -> None:
    keys = validate_tag_keys(tag_keys)
    repo = repository_from_arn(ctx, resource_arn)
    ctx.emu.repos.remove_tags(repo, keys)


def list_tags_for_resource(
    ctx: RequestContext, resource_arn: str, next_token: str | None = None
) -> Output:
    # A repository has at most 50 tags, so every answer is a single page.
    repo = repository_from_arn(ctx, resource_arn)
    return {"tags": ctx.emu.repos.tags(repo)}
