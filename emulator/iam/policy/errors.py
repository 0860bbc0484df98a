"""Errors of the policy language, named after IAM's error shapes."""

from __future__ import annotations

from emulator.errors import ClientError


class MalformedPolicyDocument(ClientError):
    """IAM's answer to a policy document it cannot accept; the message says what is wrong."""

    code = "MalformedPolicyDocument"
    status = 400


class PolicySizeExceeded(ClientError):
    """A document over its size quota. IAM reports this as `LimitExceeded` (HTTP 409), not as a
    malformed document: "Cannot exceed quota for PolicySize: 6144"."""

    code = "LimitExceeded"
    status = 409
