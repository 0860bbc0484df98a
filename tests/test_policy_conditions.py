"""Condition operators, IfExists, the set qualifiers and missing keys, one behaviour per test."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from emulator.iam.policy import Request, evaluate, parse_policy
from emulator.iam.principal import Principal

T = "arn:aws:sns:us-east-1:111111111111:t"
USER = Principal(
    account="111111111111",
    arn="arn:aws:iam::111111111111:user/alice",
    user_id="AIDAEXAMPLE",
    kind="IAMUser",
    name="alice",
)


def holds(block: dict[str, Any], context: dict[str, Any] | None = None) -> bool:
    """Does an Allow statement with this Condition block apply to a request with `context`?"""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                       "Condition": block}],
    }  # fmt: skip
    request = Request(USER, "s3:GetObject", "arn:aws:s3:::b/k", context=context or {})
    return evaluate(request, identity=[parse_policy(document, "identity")]).allowed


def one(operator: str, policy_value: Any, context_value: Any, key: str = "s:k") -> bool:
    return holds({operator: {key: policy_value}}, {key: context_value})


@pytest.mark.parametrize(
    ("operator", "policy", "value", "expected"),
    [
        ("StringEquals", "Secret", "Secret", True),
        ("StringEquals", "Secret", "secret", False),
        ("StringEquals", ["a", "b"], "b", True),
        ("StringNotEquals", ["a", "b"], "b", False),
        ("StringNotEquals", ["a", "b"], "c", True),
        ("StringEqualsIgnoreCase", "Secret", "sECRET", True),
        ("StringNotEqualsIgnoreCase", "Secret", "sECRET", False),
        ("StringLike", "home/*/x", "home/a/b/x", True),
        ("StringLike", "repo-?", "repo-10", False),
        ("StringLike", "my.repo", "myXrepo", False),
        ("StringLike", "Home/*", "home/a", False),
        ("StringNotLike", ["t1.*", "t2.*"], "m5.large", True),
        ("StringNotLike", ["t1.*", "t2.*"], "t2.micro", False),
        ("NumericEquals", "10", "10.0", True),
        ("NumericNotEquals", "10", "11", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericGreaterThan", "10", "10.5", True),
        ("NumericGreaterThanEquals", 10, "9", False),
        ("NumericEquals", "10", "ten", False),
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00+00:00", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "1577836800", True),
        ("DateNotEquals", "2020-01-01", "2020-01-02", True),
        ("DateLessThan", "2020-06-30T23:59:59Z", "2020-05-15T12:00:00Z", True),
        ("DateLessThanEquals", "1577836800", "2020-01-01T00:00:00Z", True),
        ("DateGreaterThan", "2020-04-01T00:00:00Z", "2020-03-31T23:59:59Z", False),
        ("DateGreaterThanEquals", "2020-01-01T01:00:00+01:00", "2020-01-01T00:00:00Z", True),
        ("DateLessThan", "2020-01-01", "not a date", False),
        ("Bool", "true", "true", True),
        ("Bool", True, "TRUE", True),
        ("Bool", "false", "true", False),
        ("BinaryEquals", base64.b64encode(b"\x00\x01").decode(), "AAE=", True),
        ("BinaryEquals", "AAE=", "AAI=", False),
        ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
        ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
        ("IpAddress", "203.0.113.0/16", "203.0.200.1", True),
        ("IpAddress", "203.0.113.7", "203.0.113.7", True),
        ("IpAddress", "2001:db8::/32", "2001:db8::1", True),
        ("IpAddress", "2001:db8::/32", "203.0.113.7", False),
        ("IpAddress", "203.0.113.0/24", "not-an-ip", False),
        ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "192.168.1.1", False),
        ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "172.16.0.1", True),
        ("ArnEquals", T, T, True),
        ("ArnLike", "arn:aws:sns:*:111111111111:*", "arn:aws:sns:eu-west-1:111111111111:t", True),
        ("ArnLike", "arn:aws:someservice:*:111122223333:finance/*",
         "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/doc", False),
        ("ArnLike", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b/c", True),
        ("ArnLike", "arn:aws:logs:*", "arn:aws:logs:us-east-1:111111111111:log-group:x", True),
        ("ArnLike", "arn:aws:sns:*:*:T", T, False),
        ("ArnNotEquals", T, T[:-1] + "u", True),
        ("ArnNotLike", "arn:aws:sns:*:111111111111:*", T, False),
    ],
)  # fmt: skip
def test_operator(operator: str, policy: Any, value: str, expected: bool) -> None:
    assert one(operator, policy, value) is expected


def test_condition_keys_are_case_insensitive_values_are_not() -> None:
    assert holds({"StringEquals": {"AWS:UserName": "alice"}}, {"aws:username": "alice"})
    assert not holds({"StringEquals": {"aws:username": "Alice"}}, {"aws:username": "alice"})


def test_keys_in_a_block_are_anded_and_operators_too() -> None:
    block = {"StringEquals": {"s:a": "1", "s:b": "2"}, "Bool": {"s:c": "true"}}
    assert holds(block, {"s:a": "1", "s:b": "2", "s:c": "true"})
    assert not holds(block, {"s:a": "1", "s:b": "3", "s:c": "true"})
    assert not holds(block, {"s:a": "1", "s:b": "2", "s:c": "false"})


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),
        ("StringLike", False),
        ("NumericLessThan", False),
        ("DateGreaterThan", False),
        ("Bool", False),
        ("IpAddress", False),
        ("ArnLike", False),
        ("BinaryEquals", False),
        # Negated operators hold when the key is absent: nothing in the request equals a value.
        ("StringNotEquals", True),
        ("StringNotLike", True),
        ("NumericNotEquals", True),
        ("NotIpAddress", True),
        ("ArnNotLike", True),
        # IfExists: "if the key is not present, evaluate the condition as true".
        ("StringEqualsIfExists", True),
        ("StringNotEqualsIfExists", True),
        ("NumericLessThanIfExists", True),
        ("BoolIfExists", True),
        ("ForAnyValue:StringEquals", False),
        ("ForAnyValue:StringNotEquals", False),
        ("ForAnyValue:StringEqualsIfExists", True),
        ("ForAllValues:StringEquals", True),
        ("ForAllValues:StringNotLike", True),
    ],
)
def test_missing_key(operator: str, expected: bool) -> None:
    value = {"IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8", "Bool": "true"}.get(
        operator, "arn:aws:s3:::x" if "Arn" in operator else "1"
    )
    assert holds({operator: {"s:k": value}}, {"s:other": "1"}) is expected


def test_if_exists_compares_when_the_key_is_present() -> None:
    assert one("StringEqualsIfExists", "refs/heads/main", "refs/heads/main")
    assert not one("StringEqualsIfExists", "refs/heads/main", "refs/heads/dev")


def test_null() -> None:
    assert holds({"Null": {"s:k": "true"}}, {})
    assert not holds({"Null": {"s:k": "true"}}, {"s:k": "x"})
    assert holds({"Null": {"s:k": "false"}}, {"s:k": "x"})
    assert not holds({"Null": {"s:k": False}}, {})
    # An empty multivalued key counts as absent.
    assert holds({"Null": {"s:k": "true"}}, {"s:k": []})


def test_for_any_value() -> None:
    block = {"ForAnyValue:StringEquals": {"s:attrs": ["ID", "PostDateTime"]}}
    assert holds(block, {"s:attrs": ["PostDateTime", "Message"]})
    assert not holds(block, {"s:attrs": ["UserName"]})
    assert not holds(block, {"s:attrs": []})


def test_for_any_value_negated_means_some_value_outside_the_list() -> None:
    block = {"ForAnyValue:StringNotEquals": {"s:tags": ["a", "b"]}}
    assert holds(block, {"s:tags": ["a", "c"]})
    assert not holds(block, {"s:tags": ["a", "b"]})


def test_for_all_values() -> None:
    block = {"ForAllValues:StringEquals": {"s:attrs": ["PostDateTime", "Message", "Tags"]}}
    assert holds(block, {"s:attrs": ["Message", "Tags"]})
    assert not holds(block, {"s:attrs": ["PostDateTime", "UserName"]})
    # An empty set and an absent key are subsets of anything.
    assert holds(block, {"s:attrs": []})
    assert holds(block, {})


def test_for_all_values_negated_means_no_value_in_the_list() -> None:
    block = {"ForAllValues:StringNotLike": {"s:tags": ["secret*"]}}
    assert holds(block, {"s:tags": ["a", "b"]})
    assert not holds(block, {"s:tags": ["a", "secret-x"]})


def test_single_valued_operator_on_a_multivalued_key_matches_any() -> None:
    assert one("StringEquals", "b", ["a", "b"])
    assert not one("StringNotEquals", "b", ["a", "b"])


def test_qualifier_with_like_and_if_exists() -> None:
    block = {"ForAllValues:StringLikeIfExists": {"s:refs": ["refs/heads/feature/*"]}}
    assert holds(block, {"s:refs": ["refs/heads/feature/a", "refs/heads/feature/b"]})
    assert not holds(block, {"s:refs": ["refs/heads/feature/a", "refs/heads/main"]})
    assert holds(block, {})


def test_operator_names_are_matched_without_regard_to_case() -> None:
    assert one("stringequals", "x", "x")
