"""CodeCommit's git host names, and the clone URLs AWS answers with.

By default `cloneUrlHttp` / `cloneUrlSsh` are this server's own URLs. With `--aws-clone-urls` they
are AWS's, word for word (`https://git-codecommit.{region}.amazonaws.com/v1/repos/{name}`, and
`amazonaws.com.cn` in the China regions), and the client's git and ssh config sends those hosts
here (`ccemu configure --aws-clone-urls` writes one `url.<base>.insteadOf` rule per region, since
git's insteadOf matches prefixes and has no wildcard, and an ssh `Host git-codecommit.*` block).
"""

from __future__ import annotations

from functools import cache

from emulator.arns import partition_for

# The DNS suffix of each partition's endpoints (botocore's endpoints.json, "dnsSuffix").
_DNS_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
# What `Host` in ~/.ssh/config matches: every CodeCommit git host of every partition.
SSH_HOST_PATTERNS = ("git-codecommit.*.amazonaws.com", "git-codecommit.*.amazonaws.com.cn")


@cache
def codecommit_regions() -> tuple[str, ...]:
    """Every region of every partition where CodeCommit exists (botocore's endpoint data)."""
    import botocore.session

    session = botocore.session.get_session()
    regions: list[str] = []
    for partition in session.get_available_partitions():
        regions += session.get_available_regions("codecommit", partition_name=partition)
    return tuple(regions)


def git_host(region: str) -> str:
    """CodeCommit's git endpoint for `region`, as AWS's "Regions and Git connection endpoints"
    lists it."""
    return f"git-codecommit.{region}.{_DNS_SUFFIX[partition_for(region)]}"


def aws_clone_url_http(region: str, name: str) -> str:
    return f"https://{git_host(region)}/v1/repos/{name}"


def aws_clone_url_ssh(region: str, name: str) -> str:
    return f"ssh://{git_host(region)}/v1/repos/{name}"
