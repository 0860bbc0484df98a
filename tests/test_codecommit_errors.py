"""AWS's own error messages: every error the CodeCommit API can answer is in one table with the
source of its text, the model's texts are the model's word for word, the table's document is
generated from it, and a sample of messages reaches boto3 exactly as AWS words them."""

from __future__ import annotations

import ast
import html
import re
import uuid
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config as BotoConfig
from conftest import REGION, Server

from emulator import codecommit_errors as catalog

ROOT = Path(__file__).resolve().parents[1]

# Every module a CodeCommit API call runs through, from the signature check to the services.
CODECOMMIT_PATH = [
    "emulator/errors.py",
    "emulator/codecommit_errors.py",
    "emulator/iam/sigv4.py",
    "emulator/iam/authorize.py",
    "emulator/api/endpoint.py",
    "emulator/api/json_protocol.py",
    "emulator/api/service.py",
    "emulator/api/pagination.py",
    # every area module of the CodeCommit handlers
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "emulator/api/codecommit").glob("*.py")),
    "emulator/api/codecommit_access.py",
    "emulator/api/codecommit/code.py",
    "emulator/repos/names.py",
    "emulator/repos/tags.py",
    "emulator/repos/branches.py",
    "emulator/repos/code.py",
    "emulator/repos/code_diff.py",
    "emulator/repos/merge.py",
    "emulator/repos/line_merge.py",
    "emulator/repos/service.py",
    "emulator/events/triggers.py",
    "emulator/events/service.py",
    "emulator/repos/data_keys.py",
    "emulator/repos/tree_edit.py",
    "emulator/repos/commits.py",
    "emulator/repos/branch_merges.py",
    "emulator/repos/pull_requests.py",
    "emulator/repos/pull_request_model.py",
    "emulator/repos/pull_request_follow.py",
    "emulator/repos/approval_rules.py",
    "emulator/repos/approval_templates.py",
    "emulator/repos/comments.py",
    "emulator/repos/reactions.py",
    "emulator/repos/merge.py",
    "emulator/kms/segmented.py",
]
# Codes named on that path that CodeCommit never answers: KMS's own error, caught and turned
# into EncryptionIntegrityChecksFailedException.
NOT_ANSWERED = {"InvalidCiphertextException"}
ERROR_CODE = re.compile(r"^[A-Z][A-Za-z0-9]+(Exception|Failure)$")


def _codes_named(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and ERROR_CODE.match(node.value)
    }


def test_every_error_code_the_codecommit_api_raises_is_in_the_table_with_a_source() -> None:
    named: set[str] = set()
    for rel in CODECOMMIT_PATH:
        named |= _codes_named(ROOT / rel)
    named -= NOT_ANSWERED
    listed = {m.code for m in catalog.TABLE.values()}
    assert sorted(named - listed) == []  # raised, but not in the table
    assert sorted(listed - named) == []  # in the table, but raised nowhere
    for entry in catalog.TABLE.values():
        assert entry.source in (catalog.RECORDED, catalog.MODEL, catalog.AWS_DOCS, catalog.CCEMU)
        assert entry.reference.strip(), entry.code


def _first_paragraph(doc: str) -> str:
    """The text of an error shape's documentation up to its first closing `</p>`, without
    markup (one shape's documentation closes its paragraph with an escaped `&lt;/p&gt;`)."""
    text = html.unescape(doc).split("</p>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", text).split()).replace(" .", ".")


def test_model_texts_are_the_models_documentation_word_for_word() -> None:
    model = botocore.session.get_session().get_service_model("codecommit")
    for entry in catalog.TABLE.values():
        if entry.code in model.shape_names:
            shape = model.shape_for(entry.code)
            status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
            assert entry.status == status, entry.code
        if entry.source == catalog.MODEL:
            assert entry.text == _first_paragraph(model.shape_for(entry.code).documentation)


def test_the_errors_document_is_the_table_rendered() -> None:
    doc = ROOT / "emulator" / "docs" / "codecommit_errors.md"
    assert doc.read_text() == catalog.render_table()


def _unvalidated(server: Server) -> Any:
    """A boto3 client that sends what it is given, so the server's own checks answer."""
    import boto3

    return boto3.client(
        "codecommit",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=BotoConfig(parameter_validation=False, retries={"max_attempts": 1}),
    )


def _error(call: Any, **kw: Any) -> tuple[str, str]:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        call(**kw)
    err = info.value.response["Error"]
    return str(err["Code"]), str(err["Message"])


def test_a_sample_of_messages_reaches_boto3_as_aws_words_them(server: Server) -> None:
    cc = server.client()
    name = f"msg-{uuid.uuid4().hex[:8]}"
    cc.create_repository(repositoryName=name)
    # Recorded AWS answers (moto's tests carry them), trailing space included.
    assert _error(cc.create_repository, repositoryName="in_123_valid_@#$_characters") == (
        "InvalidRepositoryNameException",
        "The repository name is not valid. Repository names can be any valid combination of"
        " letters, numbers, periods, underscores, and dashes between 1 and 100 characters in"
        " length. Names are case sensitive. For more information, see Limits in the AWS"
        " CodeCommit User Guide. ",
    )
    assert _error(cc.get_repository, repositoryName=f"{name}-gone") == (
        "RepositoryDoesNotExistException",
        f"{name}-gone does not exist",
    )
    assert _error(cc.create_repository, repositoryName=name) == (
        "RepositoryNameExistsException",
        f"Repository named {name} already exists",
    )
    # The model's documentation of the error shape.
    assert _error(cc.get_branch, repositoryName=name, branchName="nope") == (
        "BranchDoesNotExistException",
        "The specified branch does not exist.",
    )
    assert _error(cc.list_repositories, nextToken="garbage") == (
        "InvalidContinuationTokenException",
        "The specified continuation token is not valid.",
    )
    arn = f"arn:aws:codecommit:{REGION}:123456789012:{name}"
    assert _error(cc.tag_resource, resourceArn=arn, tags={"aws:x": "y"}) == (
        "InvalidSystemTagUsageException",
        "The specified tag is not valid. Key names cannot be prefixed with aws:.",
    )
    raw = _unvalidated(server)
    assert _error(raw.get_repository) == (
        "RepositoryNameRequiredException",
        "A repository name is required, but was not specified.",
    )
    assert _error(
        raw.put_repository_triggers,
        repositoryName=name,
        triggers=[
            {
                "name": "t",
                "destinationArn": f"arn:aws:sns:{REGION}:123456789012:t",
                "events": [],
            }
        ],
    ) == (
        "InvalidRepositoryTriggerEventsException",
        "Repository trigger events list cannot be empty",
    )
    # Nothing changed, and the server serves the next request.
    assert cc.get_repository_triggers(repositoryName=name)["triggers"] == []
    assert cc.get_repository(repositoryName=name)["repositoryMetadata"]["repositoryName"] == name
