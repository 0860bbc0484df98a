"""AWS partitions: the `aws` in `arn:aws:...`, chosen by region. Used by every service that
names its resources by ARN, so it sits below them all."""

from __future__ import annotations


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
