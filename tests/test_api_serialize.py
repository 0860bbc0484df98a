"""Output serialization against botocore's own parser: what the server writes, boto3 reads back
as the handler meant it (blobs, timestamps, nested lists of structures, None left out)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.parsers import create_parser

from emulator.api.shapes import serialize

MODEL = botocore.session.get_session().get_service_model("codecommit")
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _round_trip(operation: str, value: dict) -> dict:
    shape = MODEL.operation_model(operation).output_shape
    body = json.dumps(serialize(shape, value)).encode()
    parsed = create_parser("json").parse({"status_code": 200, "headers": {}, "body": body}, shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_blob_is_base64_and_read_back_as_bytes() -> None:
    assert _round_trip("GetBlob", {"content": b"\x00\xffbinary"}) == {"content": b"\x00\xffbinary"}


def test_nested_lists_of_structures_keep_timestamps_and_drop_none() -> None:
    comment = {
        "commentId": "c1",
        "content": "looks good",
        "inReplyTo": None,
        "creationDate": WHEN,
        "lastModifiedDate": WHEN.timestamp(),
        "authorArn": "arn:aws:iam::123456789012:user/ana",
        "deleted": False,
        "callerReactions": ["👍"],
        "reactionCounts": {"👍": 2},
    }
    value = {
        "commentsForPullRequestData": [
            {
                "pullRequestId": "1",
                "repositoryName": "r",
                "beforeCommitId": None,
                "location": {
                    "filePath": "a.txt",
                    "filePosition": 3,
                    "relativeFileVersion": "AFTER",
                },
                "comments": [comment],
            }
        ],
        "nextToken": None,
    }
    got = _round_trip("GetCommentsForPullRequest", value)
    (data,) = got["commentsForPullRequestData"]
    assert "beforeCommitId" not in data and "nextToken" not in got
    assert data["location"] == value["commentsForPullRequestData"][0]["location"]
    (back,) = data["comments"]
    assert back["creationDate"] == WHEN and back["lastModifiedDate"] == WHEN
    assert "inReplyTo" not in back
    assert back["reactionCounts"] == {"👍": 2} and back["callerReactions"] == ["👍"]


def test_handler_output_with_a_member_the_model_lacks_is_refused() -> None:
    shape = MODEL.operation_model("GetBlob").output_shape
    with pytest.raises(TypeError, match="no members"):
        serialize(shape, {"content": b"x", "extra": 1})
    nested = MODEL.operation_model("GetCommentsForPullRequest").output_shape
    with pytest.raises(TypeError, match="no members"):
        serialize(nested, {"commentsForPullRequestData": [{"bogus": 1}]})
    with pytest.raises(TypeError, match="no members"):  # a structure with nothing to convert
        serialize(nested, {"commentsForPullRequestData": [{"location": {"bogus": 1}}]})
