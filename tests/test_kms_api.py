"""The local KMS through boto3 against a real ccemu: keys, aliases, state changes, rotation,
Encrypt/Decrypt/GenerateDataKey/ReEncrypt, tags, and the errors KMS answers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, Server


@pytest.fixture
def kms(server: Server) -> Any:
    return server.client("kms")


def new_key(kms: Any, **kw: Any) -> dict[str, Any]:
    meta: dict[str, Any] = kms.create_key(**kw)["KeyMetadata"]
    return meta


def calls(*fns: Callable[[], object]) -> tuple[Callable[[], object], ...]:
    return fns


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_handlers_take_exactly_the_model_members() -> None:
    from emulator.api import kms as kms_api
    from emulator.api.json_protocol import handler_signature_problems

    assert handler_signature_problems(kms_api.SERVICE) == []


def test_create_and_describe_key(kms: Any) -> None:
    meta = new_key(kms, Description="for tests", Tags=[{"TagKey": "team", "TagValue": "blue"}])
    key_id = meta["KeyId"]
    assert str(uuid.UUID(key_id)) == key_id
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert meta["AWSAccountId"] == ACCOUNT
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["Origin"] == "AWS_KMS"
    assert meta["MultiRegion"] is False
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Description"] == "for tests"
    assert abs(meta["CreationDate"] - datetime.now(UTC)) < timedelta(minutes=1)
    assert "DeletionDate" not in meta
    for ref in (key_id, meta["Arn"]):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "blue"}]
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert f"arn:aws:iam::{ACCOUNT}:root" in policy


def test_policy_is_stored_as_given(kms: Any) -> None:
    policy = '{"Version":"2012-10-17","Statement":[]}'
    key_id = new_key(kms, Policy=policy)["KeyId"]
    assert kms.get_key_policy(KeyId=key_id)["Policy"] == policy


def test_only_symmetric_encryption_keys(kms: Any) -> None:
    with pytest.raises(ClientError) as exc:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert error_code(exc) == "UnsupportedOperationException"


def test_list_keys_pages(kms: Any) -> None:
    ids = {new_key(kms)["KeyId"] for _ in range(3)}
    seen: set[str] = set()
    marker: str | None = None
    while True:
        page = kms.list_keys(Limit=2, **({"Marker": marker} if marker else {}))
        assert len(page["Keys"]) <= 2
        for entry in page["Keys"]:
            assert entry["KeyArn"].endswith(entry["KeyId"])
            seen.add(entry["KeyId"])
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert ids <= seen
    with pytest.raises(ClientError) as exc:
        kms.list_keys(Marker="not a marker")
    assert error_code(exc) == "InvalidMarkerException"


def test_unknown_and_malformed_keys(kms: Any) -> None:
    missing = str(uuid.uuid4())
    for ref in (missing, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}", "alias/nothing-here"):
        with pytest.raises(ClientError) as exc:
            kms.describe_key(KeyId=ref)
        assert error_code(exc) == "NotFoundException", ref
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId="not-a-key-id")
    assert error_code(exc) == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=f"arn:aws:s3:{REGION}:{ACCOUNT}:key/{missing}")
    assert error_code(exc) == "InvalidArnException"
    # A key is per account and region: the same id in another region names nothing.
    key_id = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}")
    assert error_code(exc) == "NotFoundException"


def test_keys_are_per_region(server: Server, kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    other = server.client("kms", region="eu-west-1")
    with pytest.raises(ClientError) as exc:
        other.describe_key(KeyId=key_id)
    assert error_code(exc) == "NotFoundException"
    assert key_id not in {k["KeyId"] for k in other.list_keys()["Keys"]}


# -- aliases --------------------------------------------------------------------------------


def test_aliases(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    other_id = new_key(kms)["KeyId"]
    name = f"alias/test-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"
    for ref in (name, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id
    listed = kms.list_aliases(KeyId=key_id)["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in listed] == [
        (name, alias_arn, key_id)
    ]
    assert name in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName=name, TargetKeyId=other_id)
    assert error_code(exc) == "AlreadyExistsException"
    kms.update_alias(AliasName=name, TargetKeyId=other_id)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other_id
    kms.delete_alias(AliasName=name)
    assert kms.list_aliases(KeyId=other_id)["Aliases"] == []
    with pytest.raises(ClientError) as exc:
        kms.delete_alias(AliasName=name)
    assert error_code(exc) == "NotFoundException"


def test_alias_names(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="no-prefix", TargetKeyId=key_id)
    assert error_code(exc) == "InvalidAliasNameException"
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key_id)
    assert error_code(exc) == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        kms.create_alias(AliasName="alias/x", TargetKeyId=str(uuid.uuid4()))
    assert error_code(exc) == "NotFoundException"


def test_aws_managed_codecommit_key(kms: Any) -> None:
    meta = kms.describe_key(KeyId="alias/aws/codecommit")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert kms.describe_key(KeyId="alias/aws/codecommit")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    aliases = kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/aws/codecommit"]
    # AWS manages it: not the caller's to disable, delete, rotate or re-point.
    for call in calls(
        lambda: kms.disable_key(KeyId=meta["KeyId"]),
        lambda: kms.schedule_key_deletion(KeyId=meta["KeyId"]),
        lambda: kms.rotate_key_on_demand(KeyId=meta["KeyId"]),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "UnsupportedOperationException"
    with pytest.raises(ClientError) as exc:
        kms.delete_alias(AliasName="alias/aws/codecommit")
    assert error_code(exc) == "NotAuthorizedException"
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is True


# -- cryptography ---------------------------------------------------------------------------


def test_encrypt_decrypt_with_every_key_form(kms: Any) -> None:
    meta = new_key(kms)
    name = f"alias/enc-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=meta["KeyId"])
    forms = [meta["KeyId"], meta["Arn"], name, f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"]
    for ref in forms:
        out = kms.encrypt(KeyId=ref, Plaintext=b"secret bytes")
        assert out["KeyId"] == meta["Arn"]
        assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        assert b"secret bytes" not in out["CiphertextBlob"]
        # The blob names its key: Decrypt needs no KeyId.
        plain = kms.decrypt(CiphertextBlob=out["CiphertextBlob"])
        assert plain["Plaintext"] == b"secret bytes"
        assert plain["KeyId"] == meta["Arn"]
        assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"], KeyId=ref)["Plaintext"] == (
            b"secret bytes"
        )


def test_encryption_context_is_bound(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    ctx = {"purpose": "test", "repo": "r1"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=ctx)["CiphertextBlob"]
    reordered = dict(reversed(list(ctx.items())))
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=reordered)["Plaintext"] == b"x"
    for wrong in ({}, {"purpose": "test"}, {**ctx, "repo": "r2"}):
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
        assert error_code(exc) == "InvalidCiphertextException"


def test_tampered_or_foreign_ciphertext(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    blob = bytearray(kms.encrypt(KeyId=key_id, Plaintext=b"hello")["CiphertextBlob"])
    blob[-1] ^= 1
    for bad in (bytes(blob), b"short", b"\x00" * 80):
        with pytest.raises(ClientError) as exc:
            kms.decrypt(CiphertextBlob=bad)
        assert error_code(exc) == "InvalidCiphertextException"


def test_decrypt_with_another_key_id(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    other = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert error_code(exc) == "IncorrectKeyException"


def test_generate_data_key(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    for kw, size in (
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 7}, 7),
    ):
        out = kms.generate_data_key(KeyId=key_id, EncryptionContext={"a": "b"}, **kw)
        assert len(out["Plaintext"]) == size
        back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"a": "b"})
        assert back["Plaintext"] == out["Plaintext"]
    bare = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key_id)
    assert error_code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=key_id, NumberOfBytes=2000)
    assert error_code(exc) == "ValidationException"
    assert len(kms.generate_random(NumberOfBytes=20)["Plaintext"]) == 20


def test_re_encrypt(kms: Any) -> None:
    source = new_key(kms)
    dest = new_key(kms)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=dest["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert out["SourceKeyId"] == source["Arn"] and out["KeyId"] == dest["Arn"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert back["Plaintext"] == b"move me" and back["KeyId"] == dest["Arn"]
    with pytest.raises(ClientError) as exc:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dest["KeyId"])
    assert error_code(exc) == "InvalidCiphertextException"


def test_unsupported_algorithm(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_code(exc) == "InvalidKeyUsageException"


# -- key states -----------------------------------------------------------------------------


def test_disable_and_enable(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and meta["Enabled"] is False
    for call in calls(
        lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "DisabledException"
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_schedule_and_cancel_deletion(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    for days in (6, 31):
        with pytest.raises(ClientError) as exc:
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=days)
        assert error_code(exc) == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs(out["DeletionDate"] - expected) < timedelta(minutes=1)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["DeletionDate"] == out["DeletionDate"]
    for call in calls(
        lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.enable_key(KeyId=key_id),
        lambda: kms.disable_key(KeyId=key_id),
        lambda: kms.schedule_key_deletion(KeyId=key_id),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"].endswith(key_id)
    # As on AWS, a key whose deletion was cancelled is disabled until enabled.
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta
    with pytest.raises(ClientError) as exc:
        kms.cancel_key_deletion(KeyId=key_id)
    assert error_code(exc) == "KMSInvalidStateException"
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_default_deletion_window_is_30_days(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    out = kms.schedule_key_deletion(KeyId=key_id)
    assert out["PendingWindowInDays"] == 30


def test_management_calls_take_key_ids_not_aliases(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    name = f"alias/mgmt-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=name, TargetKeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms.disable_key(KeyId=name)
    assert error_code(exc) == "NotFoundException"


# -- rotation -------------------------------------------------------------------------------


def test_rotation_keeps_old_ciphertexts(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
    assert abs(status["NextRotationDate"] - (datetime.now(UTC) + timedelta(days=90))) < (
        timedelta(minutes=1)
    )
    blobs = []
    for i in range(3):
        blobs.append(kms.encrypt(KeyId=key_id, Plaintext=f"v{i}".encode())["CiphertextBlob"])
        kms.rotate_key_on_demand(KeyId=key_id)
    assert len({b[:24] for b in blobs}) == 3  # each under its own material version
    for i, blob in enumerate(blobs):
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == f"v{i}".encode()
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"] * 3
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as exc:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_code(exc) == "DisabledException"


# -- tags -----------------------------------------------------------------------------------


def test_tags(kms: Any) -> None:
    key_id = new_key(kms)["KeyId"]
    kms.tag_resource(
        KeyId=key_id,
        Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}],
    )
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "3"}])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [
        {"TagKey": "a", "TagValue": "3"},
        {"TagKey": "b", "TagValue": "2"},
    ]
    kms.untag_resource(KeyId=key_id, TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    with pytest.raises(ClientError) as exc:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "aws:x", "TagValue": "1"}])
    assert error_code(exc) == "TagException"
    with pytest.raises(ClientError) as exc:
        kms.list_resource_tags(KeyId=str(uuid.uuid4()))
    assert error_code(exc) == "NotFoundException"


# -- authorization --------------------------------------------------------------------------


def test_kms_calls_go_through_the_iam_gate(server: Server, kms: Any) -> None:
    iam = server.client("iam")
    user = f"kms-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    allowed = new_key(kms)["Arn"]
    denied = new_key(kms)["Arn"]
    iam.put_user_policy(
        UserName=user,
        PolicyName="p",
        PolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            f'"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"{allowed}"'
            "}]}"
        ),
    )
    creds = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = server.client("kms", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
    blob = theirs.encrypt(KeyId=allowed, Plaintext=b"ok")["CiphertextBlob"]
    assert theirs.decrypt(CiphertextBlob=blob)["Plaintext"] == b"ok"
    for call in calls(
        lambda: theirs.encrypt(KeyId=denied, Plaintext=b"no"),
        lambda: theirs.describe_key(KeyId=denied),
        lambda: theirs.disable_key(KeyId=allowed),
        lambda: theirs.create_key(),
        lambda: theirs.decrypt(
            CiphertextBlob=kms.encrypt(KeyId=denied, Plaintext=b"x")["CiphertextBlob"]
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "AccessDeniedException"
