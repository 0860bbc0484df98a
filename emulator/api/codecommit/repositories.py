"""CodeCommit's repositories: CreateRepository, GetRepository, ListRepositories,
BatchGetRepositories, DeleteRepository, UpdateRepositoryName, UpdateRepositoryDescription,
UpdateRepositoryEncryptionKey."""

from __future__ import annotations

from collections.abc import Mapping

from emulator.api.codecommit.common import Output, repository
from emulator.api.pagination import page
from emulator.api.service import RequestContext
from emulator.codecommit_errors import error, message
from emulator.errors import ClientError
from emulator.iam.authorize import AccessDenied
from emulator.kms.model import CUSTOMER, KmsKey
from emulator.repos.model import Repository
from emulator.repos.names import validate_repository_name
from emulator.repos.tags import validate_tags

# ListRepositories answers at most 1,000 repositories per page, as CodeCommit does.
REPOSITORY_PAGE = 1000
# BatchGetRepositories takes up to 100 names (MaximumRepositoryNamesExceededException's
# documentation: "Currently, this number is 100").
MAX_BATCH_NAMES = 100

# Input member -> (error when it is missing, error when it breaks a constraint).
MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "repositoryName": ("RepositoryNameRequiredException", "InvalidRepositoryNameException"),
    "oldName": ("RepositoryNameRequiredException", "InvalidRepositoryNameException"),
    "newName": ("RepositoryNameRequiredException", "InvalidRepositoryNameException"),
    "repositoryNames": ("RepositoryNamesRequiredException", "InvalidRepositoryNameException"),
    "repositoryDescription": (None, "InvalidRepositoryDescriptionException"),
    "sortBy": (None, "InvalidSortByException"),
    "order": (None, "InvalidOrderException"),
    "kmsKeyId": ("EncryptionKeyRequiredException", "EncryptionKeyInvalidIdException"),
}


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
    return {"repositoryMetadata": _metadata(ctx, repository(ctx, repository_name))}


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
    repo = repository(ctx, repository_name)
    ctx.emu.repos.update(repo, description=repository_description)


def update_repository_encryption_key(
    ctx: RequestContext, repository_name: str, kms_key_id: str
) -> Output:
    """Re-wrap the repository's data key under another KMS key: one row changes, no pack is
    read or rewritten."""
    repo = repository(ctx, repository_name)
    key = _encryption_key(ctx, kms_key_id)
    original = ctx.emu.data_keys.rewrap(repo, key)
    ctx.emu.repos.update(repo, kms_key_id=key.arn)
    return {"repositoryId": repo.id, "kmsKeyId": key.arn, "originalKmsKeyId": original.arn}
