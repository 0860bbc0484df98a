"""CodeCommit (`CodeCommit_20150413`): one handler per operation, named `xform_name(Operation)`.

A handler calls the repository service or `emulator.repos.branches` and returns the output
members (camelCase, as the model names them). The protocol layer validates input against the
model and authorizes the call as `emulator.api.codecommit_access` declares it before a handler
runs, and serializes what it returns: a handler authorizes nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel

from emulator.api import codecommit_code, codecommit_merge, codecommit_triggers
from emulator.api.codecommit_access import ACCESS, parse_repository_arn
from emulator.api.pagination import page
from emulator.api.service import (
    RequestContext,
    ServiceSpec,
    collect_handlers,
)
from emulator.api.shapes import Invalid, validation_message
from emulator.codecommit_errors import MESSAGES, error, message
from emulator.errors import ClientError, ServiceError, client_error
from emulator.iam.authorize import AccessDenied
from emulator.kms.model import CUSTOMER, KmsKey
from emulator.repos import branches
from emulator.repos.model import Repository
from emulator.repos.names import validate_repository_name
from emulator.repos.service import repository_not_found
from emulator.repos.tags import validate_tag_keys, validate_tags

Output = dict[str, Any]

# ListRepositories answers at most 1,000 repositories per page, as CodeCommit does.
REPOSITORY_PAGE = 1000
BRANCH_PAGE = 100
# BatchGetRepositories takes up to 100 names (MaximumRepositoryNamesExceededException's
# documentation: "Currently, this number is 100").
MAX_BATCH_NAMES = 100


# -- helpers --------------------------------------------------------------------------------


def _repo(ctx: RequestContext, name: str | None) -> Repository:
    """Repository `name` of the caller's account and region (the call is already authorized).
    A repository whose KMS key cannot be used answers every operation with CodeCommit's
    encryption error."""
    repo = ctx.emu.repos.get(ctx.account, ctx.region, validate_repository_name(name))
    ctx.emu.data_keys.check(repo)
    return repo


def _encryption_key(ctx: RequestContext, kms_key_id: str | None) -> KmsKey:
    """The KMS key a repository is to be encrypted with (`aws/codecommit` when none is named).
    A customer managed key is used with the caller's own permissions on it, as CodeCommit
    does; being refused is `EncryptionKeyAccessDeniedException`."""
    key = ctx.emu.data_keys.choose_key(ctx.account, ctx.region, kms_key_id)
    if key.manager == CUSTOMER:
        for action in ("kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"):
            try:
                # The caller's own permissions on its key, as CodeCommit uses them: a check
                # of the key the request names, beyond the operation's declared access.
                ctx.emu.authorizer.authorize(
                    ctx.principal,
                    action,
                    key.arn,
                    source_ip=ctx.source_ip,
                    secure_transport=ctx.secure_transport,
                )
            except AccessDenied:
                raise error("EncryptionKeyAccessDeniedException") from None
    return key


def _metadata(ctx: RequestContext, repo: Repository) -> Output:
    return {
        "accountId": repo.account,
        "repositoryId": repo.id,
        "repositoryName": repo.name,
        "repositoryDescription": repo.description,
        "defaultBranch": repo.default_branch,
        "lastModifiedDate": repo.modified,
        "creationDate": repo.created,
        "cloneUrlHttp": ctx.emu.clone_url_http(repo),
        "cloneUrlSsh": ctx.emu.clone_url_ssh(repo),
        "Arn": repo.arn,
        "kmsKeyId": repo.kms_key_id,
    }


def _repo_from_arn(ctx: RequestContext, arn: str | None) -> Repository:
    region, account, name = parse_repository_arn(arn)
    # A repository lives in one account and region: an ARN elsewhere names nothing here.
    repo = ctx.emu.repos.find(account, region, name)
    if repo is None or account != ctx.account or region != ctx.region:
        raise repository_not_found(name)
    ctx.emu.data_keys.check(repo)
    return repo


# -- repositories ---------------------------------------------------------------------------


def create_repository(
    ctx: RequestContext,
    repository_name: str,
    repository_description: str | None = None,
    tags: Mapping[str, str] | None = None,
    kms_key_id: str | None = None,
) -> Output:
    name = validate_repository_name(repository_name)
    checked = validate_tags(tags)
    key = _encryption_key(ctx, kms_key_id)
    repo = ctx.emu.repos.create(
        ctx.account, ctx.region, name, repository_description, checked, key.arn
    )
    ctx.emu.data_keys.create(repo, key)
    return {"repositoryMetadata": _metadata(ctx, repo)}


def get_repository(ctx: RequestContext, repository_name: str) -> Output:
    return {"repositoryMetadata": _metadata(ctx, _repo(ctx, repository_name))}


def list_repositories(
    ctx: RequestContext,
    next_token: str | None = None,
    sort_by: str | None = None,
    order: str | None = None,
) -> Output:
    sort_by = sort_by or "repositoryName"
    order = order or "ascending"
    repos = ctx.emu.repos.list(ctx.account, ctx.region)
    if sort_by == "repositoryName":
        repos.sort(key=lambda r: r.name)
    else:
        repos.sort(key=lambda r: (r.modified, r.name))
    if order == "descending":
        repos.reverse()
    items, token = page(repos, next_token, REPOSITORY_PAGE, f"repositories:{sort_by}:{order}")
    return {
        "repositories": [{"repositoryName": r.name, "repositoryId": r.id} for r in items],
        "nextToken": token,
    }


def batch_get_repositories(ctx: RequestContext, repository_names: list[str]) -> Output:
    # An empty list is allowed (the model sets no minimum): it finds nothing. A missing list
    # is RepositoryNamesRequiredException, from the model's validation.
    if len(repository_names) > MAX_BATCH_NAMES:
        raise error("MaximumRepositoryNamesExceededException")
    names = list(dict.fromkeys(validate_repository_name(n) for n in repository_names))
    found: list[Output] = []
    missing: list[str] = []
    errors: list[Output] = []
    for name in names:
        repo = ctx.emu.repos.find(ctx.account, ctx.region, name)
        if repo is None:
            missing.append(name)
            errors.append(
                {
                    "repositoryName": name,
                    "errorCode": "RepositoryDoesNotExistException",
                    "errorMessage": message("RepositoryDoesNotExistException", name=name),
                }
            )
            continue
        try:
            ctx.emu.data_keys.check(repo)
        except ClientError as exc:
            # A repository whose key cannot be used is reported, not returned (the model's
            # BatchGetRepositoriesErrorCodeEnum lists the encryption errors for this).
            errors.append(
                {
                    "repositoryId": repo.id,
                    "repositoryName": name,
                    "errorCode": exc.code,
                    "errorMessage": exc.message,
                }
            )
            continue
        found.append(_metadata(ctx, repo))
    return {"repositories": found, "repositoriesNotFound": missing, "errors": errors}


def delete_repository(ctx: RequestContext, repository_name: str) -> Output:
    name = validate_repository_name(repository_name)
    deleted = ctx.emu.repos.delete(ctx.account, ctx.region, name)
    return {"repositoryId": None if deleted is None else deleted.id}


def update_repository_name(ctx: RequestContext, old_name: str, new_name: str) -> None:
    old = validate_repository_name(old_name)
    new = validate_repository_name(new_name)
    ctx.emu.repos.rename(ctx.account, ctx.region, old, new)


def update_repository_description(
    ctx: RequestContext, repository_name: str, repository_description: str | None = None
) -> None:
    repo = _repo(ctx, repository_name)
    ctx.emu.repos.update(repo, description=repository_description)


def update_repository_encryption_key(
    ctx: RequestContext, repository_name: str, kms_key_id: str
) -> Output:
    """Re-wrap the repository's data key under another KMS key: one row changes, no pack is
    read or rewritten."""
    repo = _repo(ctx, repository_name)
    key = _encryption_key(ctx, kms_key_id)
    original = ctx.emu.data_keys.rewrap(repo, key)
    ctx.emu.repos.update(repo, kms_key_id=key.arn)
    return {"repositoryId": repo.id, "kmsKeyId": key.arn, "originalKmsKeyId": original.arn}


# -- tags -----------------------------------------------------------------------------------


def tag_resource(ctx: RequestContext, resource_arn: str, tags: Mapping[str, str]) -> None:
    checked = validate_tags(tags, required=True)
    repo = _repo_from_arn(ctx, resource_arn)
    ctx.emu.repos.set_tags(repo, checked)


def untag_resource(ctx: RequestContext, resource_arn: str, tag_keys: list[str]) -> None:
    keys = validate_tag_keys(tag_keys)
    repo = _repo_from_arn(ctx, resource_arn)
    ctx.emu.repos.remove_tags(repo, keys)


def list_tags_for_resource(
    ctx: RequestContext, resource_arn: str, next_token: str | None = None
) -> Output:
    # A repository has at most 50 tags, so every answer is a single page.
    repo = _repo_from_arn(ctx, resource_arn)
    return {"tags": ctx.emu.repos.tags(repo)}


# -- branches -------------------------------------------------------------------------------


def _branch_info(branch: branches.Branch) -> Output:
    return {"branchName": branch.name, "commitId": branch.commit_id}


def create_branch(
    ctx: RequestContext, repository_name: str, branch_name: str, commit_id: str
) -> None:
    repo = _repo(ctx, repository_name)
    branches.create_branch(ctx.emu.repos, repo, branch_name, commit_id, ctx.principal.arn)


def get_branch(
    ctx: RequestContext, repository_name: str | None = None, branch_name: str | None = None
) -> Output:
    repo = _repo(ctx, repository_name)
    return {"branch": _branch_info(branches.get_branch(ctx.emu.repos, repo, branch_name))}


def list_branches(
    ctx: RequestContext, repository_name: str, next_token: str | None = None
) -> Output:
    repo = _repo(ctx, repository_name)
    names = branches.list_branches(ctx.emu.repos, repo)
    items, token = page(names, next_token, BRANCH_PAGE, f"branches:{repo.id}")
    return {"branches": list(items), "nextToken": token}


def delete_branch(ctx: RequestContext, repository_name: str, branch_name: str) -> Output:
    repo = _repo(ctx, repository_name)
    deleted = branches.delete_branch(ctx.emu.repos, repo, branch_name, ctx.principal.arn)
    return {"deletedBranch": None if deleted is None else _branch_info(deleted)}


def update_default_branch(
    ctx: RequestContext, repository_name: str, default_branch_name: str
) -> None:
    repo = _repo(ctx, repository_name)
    branches.set_default_branch(ctx.emu.repos, repo, default_branch_name)


# -- validation failures --------------------------------------------------------------------

# Input member -> (error when it is missing, error when it breaks a constraint). CodeCommit
# answers these with its own exceptions where the operation's model lists them.
_MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "repositoryName": ("RepositoryNameRequiredException", "InvalidRepositoryNameException"),
    "oldName": ("RepositoryNameRequiredException", "InvalidRepositoryNameException"),
    "newName": ("RepositoryNameRequiredException", "InvalidRepositoryNameException"),
    "repositoryNames": ("RepositoryNamesRequiredException", "InvalidRepositoryNameException"),
    "repositoryDescription": (None, "InvalidRepositoryDescriptionException"),
    "branchName": ("BranchNameRequiredException", "InvalidBranchNameException"),
    "defaultBranchName": ("BranchNameRequiredException", "InvalidBranchNameException"),
    "commitId": ("CommitIdRequiredException", "InvalidCommitIdException"),
    "resourceArn": ("ResourceArnRequiredException", "InvalidResourceArnException"),
    "tags": ("TagsMapRequiredException", "InvalidTagsMapException"),
    "tagKeys": ("TagKeysListRequiredException", "InvalidTagKeysListException"),
    "sortBy": (None, "InvalidSortByException"),
    "order": (None, "InvalidOrderException"),
    "nextToken": (None, "InvalidContinuationTokenException"),
    "kmsKeyId": ("EncryptionKeyRequiredException", "EncryptionKeyInvalidIdException"),
    **codecommit_code.MEMBER_ERRORS,
    **codecommit_merge.MEMBER_ERRORS,
}


def validation_error(op: OperationModel, failures: list[Invalid]) -> ServiceError:
    if any(f.reason == "type" for f in failures):
        bad = next(f for f in failures if f.reason == "type")
        return client_error("SerializationException", bad.message)
    first = failures[0]
    if first.member == "triggers":
        return codecommit_triggers.validation_error(failures)
    known = {shape.name for shape in op.error_shapes}
    required, invalid = _MEMBER_ERRORS.get(first.member, (None, "ValidationException"))
    # An empty string where a name is required counts as missing, as CodeCommit treats it.
    empty = first.path == first.member and (
        (first.reason == "length" and "greater than" in first.message)
        or (first.reason == "pattern" and first.message.startswith("Value '' at"))
    )
    missing = first.reason == "required" or (empty and required is not None)
    code = required if missing else invalid
    if code is None or code not in known:
        code = "ValidationException"
    if code in MESSAGES and "{" not in MESSAGES[code].text:
        # CodeCommit answers with its exception's own text, not the constraint that failed.
        return error(code)
    return client_error(code, validation_message(failures))


SERVICE = ServiceSpec(
    signing_name="codecommit",
    model_name="codecommit",
    handlers=lambda model: collect_handlers(
        model,
        {
            **globals(),
            **vars(codecommit_triggers),
            **vars(codecommit_code),
            **vars(codecommit_merge),
        },
    ),
    validation_error=validation_error,
    access=ACCESS,
)
