"""CodeCommit's branches: CreateBranch, GetBranch, ListBranches, DeleteBranch,
UpdateDefaultBranch. The rules are `emulator.repos.branches`'s."""

from __future__ import annotations

from emulator.api.codecommit.common import Output, repository
from emulator.api.pagination import page
from emulator.api.service import RequestContext
from emulator.repos import branches as repo_branches

BRANCH_PAGE = 100

MEMBER_ERRORS: dict[str, tuple[str | None, str]] = {
    "branchName": ("BranchNameRequiredException", "InvalidBranchNameException"),
    "defaultBranchName": ("BranchNameRequiredException", "InvalidBranchNameException"),
    "commitId": ("CommitIdRequiredException", "InvalidCommitIdException"),
}


def _branch_info(branch: repo_branches.Branch) -> Output:
    return {"branchName": branch.name, "commitId": branch.commit_id}


def create_branch(
    ctx: RequestContext, repository_name: str, branch_name: str, commit_id: str
) -> None:
    repo = repository(ctx, repository_name)
    repo_branches.create_branch(ctx.emu.repos, repo, branch_name, commit_id, ctx.principal.arn)


def get_branch(
    ctx: RequestContext, repository_name: str | None = None, branch_name: str | None = None
) -> Output:
    repo = repository(ctx, repository_name)
    return {"branch": _branch_info(repo_branches.get_branch(ctx.emu.repos, repo, branch_name))}


def list_branches(
    ctx: RequestContext, repository_name: str, next_token: str | None = None
) -> Output:
    repo = repository(ctx, repository_name)
    names = repo_branches.list_branches(ctx.emu.repos, repo)
    items, token = page(names, next_token, BRANCH_PAGE, f"branches:{repo.id}")
    return {"branches": list(items), "nextToken": token}


def delete_branch(ctx: RequestContext, repository_name: str, branch_name: str) -> Output:
    repo = repository(ctx, repository_name)
    deleted = repo_branches.delete_branch(ctx.emu.repos, repo, branch_name, ctx.principal.arn)
    return {"deletedBranch": None if deleted is None else _branch_info(deleted)}


def update_default_branch(
    ctx: RequestContext, repository_name: str, default_branch_name: str
) -> None:
    repo = repository(ctx, repository_name)
    repo_branches.set_default_branch(ctx.emu.repos, repo, default_branch_name)
