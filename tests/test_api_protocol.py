"""The JSON 1.1 protocol layer: targets, bodies, model validation and uniform errors."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import REGION, Server

TARGET = "CodeCommit_20150413"


def signed_headers(
    url: str,
    body: bytes,
    *,
    target: str | None,
    key: str = "test",
    secret: str = "test",
    region: str = REGION,
    service: str = "codecommit",
    when: datetime | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers of a request signed by botocore's SigV4 signer, at time `when`."""
    headers = {"Content-Type": "application/x-amz-json-1.1", **(extra or {})}
    if target is not None:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    moment = (when or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        SigV4Auth(Credentials(key, secret), service, region).add_auth(req)
    return dict(req.headers.items())


def signed_post(
    server: Server, op: str | None, payload: Any = None, *, body: bytes | None = None, **kw: Any
) -> httpx.Response:
    """POST one signed API call; `op` is the operation name (None: no X-Amz-Target)."""
    url = server.url + "/"
    data = body if body is not None else json.dumps(payload or {}).encode()
    target = None if op is None else (op if "." in op else f"{TARGET}.{op}")
    headers = signed_headers(url, data, target=target, **kw)
    return httpx.post(url, content=data, headers=headers, timeout=60)


def error_of(resp: httpx.Response) -> tuple[int, str, str]:
    doc = resp.json()
    return resp.status_code, doc["__type"], doc["message"]


def unvalidated_client(server: Server) -> Any:
    """A boto3 client that sends whatever it is given, so the server's validation is seen."""
    import boto3

    return boto3.client(
        "codecommit",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(parameter_validation=False, retries={"max_attempts": 1}),
    )


def assert_still_serving(server: Server) -> None:
    resp = signed_post(server, "ListRepositories", {})
    assert resp.status_code == 200, resp.text
    assert "repositories" in resp.json()


def test_a_signed_raw_call_succeeds(server: Server) -> None:
    name = f"raw-{uuid.uuid4().hex[:10]}"
    resp = signed_post(server, "CreateRepository", {"repositoryName": name})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/x-amz-json-1.1"
    assert resp.headers["x-amzn-requestid"]
    meta = resp.json()["repositoryMetadata"]
    assert meta["repositoryName"] == name
    # Timestamps are epoch seconds on the wire, as the JSON protocol says; None members are absent.
    assert isinstance(meta["creationDate"], float)
    assert abs(meta["creationDate"] - datetime.now(UTC).timestamp()) < 60
    assert "repositoryDescription" not in meta
    assert "defaultBranch" not in meta


def test_bad_json_is_a_serialization_error(server: Server) -> None:
    resp = signed_post(server, "CreateRepository", body=b'{"repositoryName": ')
    assert error_of(resp)[:2] == (400, "SerializationException")
    resp = signed_post(server, "CreateRepository", body=b'["a list"]')
    assert error_of(resp)[:2] == (400, "SerializationException")
    assert_still_serving(server)


def test_wrong_json_type_is_a_serialization_error(server: Server) -> None:
    resp = signed_post(server, "CreateRepository", {"repositoryName": 42})
    assert error_of(resp)[:2] == (400, "SerializationException")
    resp = signed_post(server, "CreateRepository", {"repositoryName": "x", "tags": ["a"]})
    assert error_of(resp)[:2] == (400, "SerializationException")


@pytest.mark.parametrize(
    "target",
    [None, f"{TARGET}.NoSuchOperation", "DynamoDB_20120810.ListTables", "ListRepositories"],
)
def test_unknown_target(server: Server, target: str | None) -> None:
    url = server.url + "/"
    headers = signed_headers(url, b"{}", target=target)
    resp = httpx.post(url, content=b"{}", headers=headers)
    status, code, message = error_of(resp)
    assert (status, code) == (400, "UnknownOperationException")
    assert message
    assert_still_serving(server)


def test_unknown_service_in_credential_scope(server: Server) -> None:
    resp = signed_post(server, "ListTables", {}, service="dynamodb")
    status, code, message = error_of(resp)
    assert (status, code) == (501, "NotImplementedException")
    assert "dynamodb" in message
    assert_still_serving(server)


def test_oversized_body_is_refused(server: Server) -> None:
    body = b'{"repositoryName": "' + b"x" * (13 * 1024 * 1024) + b'"}'
    resp = signed_post(server, "CreateRepository", body=body)
    status, code, _ = error_of(resp)
    assert (status, code) == (413, "RequestEntityTooLargeException")
    assert_still_serving(server)


def test_not_implemented_operation_answers_uniformly(server: Server, cc: Any) -> None:
    with pytest.raises(ClientError) as info:
        cc.get_blob_differences(repositoryName="whatever", afterBlobId="0" * 40)
    err = info.value.response
    assert err["Error"]["Code"] == "NotImplementedException"
    assert err["Error"]["Message"] == ("ccemu does not implement CodeCommit GetBlobDifferences yet")
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert_still_serving(server)


def test_missing_required_member_gets_codecommit_error(server: Server) -> None:
    resp = signed_post(server, "CreateRepository", {})
    assert error_of(resp)[:2] == (400, "RepositoryNameRequiredException")
    resp = signed_post(server, "CreateRepository", {"repositoryName": ""})
    assert error_of(resp)[:2] == (400, "RepositoryNameRequiredException")
    resp = signed_post(server, "BatchGetRepositories", {})
    assert error_of(resp)[:2] == (400, "RepositoryNamesRequiredException")
    resp = signed_post(server, "TagResource", {"resourceArn": "arn:aws:codecommit:x"})
    assert error_of(resp)[:2] == (400, "TagsMapRequiredException")


def test_constraint_failures_get_codecommit_errors(server: Server) -> None:
    resp = signed_post(server, "CreateRepository", {"repositoryName": "r" * 101})
    status, code, message = error_of(resp)
    assert (status, code) == (400, "InvalidRepositoryNameException")
    # AWS's own text for the exception, not the constraint that failed.
    assert message.startswith("The repository name is not valid. Repository names can be any")
    resp = signed_post(
        server,
        "CreateRepository",
        {"repositoryName": f"d-{uuid.uuid4().hex[:8]}", "repositoryDescription": "x" * 1001},
    )
    assert error_of(resp)[:2] == (400, "InvalidRepositoryDescriptionException")
    resp = signed_post(server, "ListRepositories", {"sortBy": "size"})
    assert error_of(resp)[:2] == (400, "InvalidSortByException")
    resp = signed_post(server, "ListRepositories", {"order": "sideways"})
    assert error_of(resp)[:2] == (400, "InvalidOrderException")


def test_boto3_without_client_validation_sees_modeled_errors(server: Server) -> None:
    cc = unvalidated_client(server)
    with pytest.raises(cc.exceptions.RepositoryNameRequiredException):
        cc.get_repository()
    with pytest.raises(cc.exceptions.BranchNameRequiredException):
        cc.create_branch(repositoryName="r", commitId="0" * 40)
    with pytest.raises(cc.exceptions.CommitIdRequiredException):
        cc.create_branch(repositoryName="r", branchName="b")


def test_handlers_take_exactly_the_model_members() -> None:
    from emulator.api import codecommit
    from emulator.api.json_protocol import handler_signature_problems

    assert handler_signature_problems(codecommit.SERVICE) == []
    assert {
        "CreateRepository",
        "GetRepository",
        "ListRepositories",
        "BatchGetRepositories",
        "DeleteRepository",
        "UpdateRepositoryName",
        "UpdateRepositoryDescription",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "CreateBranch",
        "GetBranch",
        "ListBranches",
        "DeleteBranch",
        "UpdateDefaultBranch",
    } <= set(codecommit.SERVICE.handlers)


def test_every_codecommit_area_module_is_served() -> None:
    """A handler module added to the CodeCommit package but not to its `AREAS` would answer
    every one of its operations 501: the package's modules and the served areas agree."""
    import pkgutil

    from emulator.api import codecommit

    modules = {info.name for info in pkgutil.iter_modules(codecommit.__path__)}
    areas = {area.__name__.rpartition(".")[2] for area in codecommit.AREAS}
    assert modules - {"common"} == areas
    # Each served handler is defined in its area, never one an area merely imports.
    for op, handler in codecommit.SERVICE.handlers.items():
        assert handler.__module__ in {area.__name__ for area in codecommit.AREAS}, op
