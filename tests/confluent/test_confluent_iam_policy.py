"""The emulator's IAM policy evaluator: the semantics it relies on to decide like AWS."""

from __future__ import annotations

from typing import Any

from ccloud_sandbox.confluent.iam_policy import AccessRequest, Decision, evaluate, parse_policy_document

CONFLUENT_ROLE = "arn:aws:iam::503394815713:role/cspi-abc-assumer"
CUSTOMER_ROLE = "arn:aws:iam::123456789012:role/customer"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _s3(action: str, resource: str) -> AccessRequest:
    return AccessRequest(action=action, resource=resource)


def test_default_is_implicit_deny() -> None:
    assert evaluate([], _s3("s3:PutObject", "arn:aws:s3:::b/k")) is Decision.IMPLICIT_DENY


def test_wildcards_in_action_and_resource() -> None:
    policy = _policy({"Effect": "Allow", "Action": "S3:Put*", "Resource": "arn:aws:s3:::bucket-?/*"})
    assert evaluate([policy], _s3("s3:PutObject", "arn:aws:s3:::bucket-1/a/b")).allowed
    assert not evaluate([policy], _s3("s3:PutObject", "arn:aws:s3:::bucket-10/a")).allowed
    assert not evaluate([policy], _s3("s3:GetObject", "arn:aws:s3:::bucket-1/a")).allowed


def test_resource_match_is_case_sensitive() -> None:
    policy = _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::Bucket/*"})
    assert not evaluate([policy], _s3("s3:PutObject", "arn:aws:s3:::bucket/k")).allowed


def test_explicit_deny_in_another_policy_wins() -> None:
    allow = _policy({"Effect": "Allow", "Action": "*", "Resource": "*"})
    deny = _policy({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"})
    assert evaluate([allow, deny], _s3("s3:PutObject", "arn:aws:s3:::b/k")) is Decision.EXPLICIT_DENY
    assert evaluate([allow, deny], _s3("s3:GetObject", "arn:aws:s3:::b/k")).allowed


def test_not_action_and_not_resource() -> None:
    policy = _policy(
        {"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::b/*"},
    )
    assert evaluate([policy], _s3("s3:PutObject", "arn:aws:s3:::b/k")).allowed
    assert not evaluate([policy], _s3("s3:DeleteObject", "arn:aws:s3:::b/k")).allowed
    assert evaluate([policy], _s3("s3:PutObject", "arn:aws:s3:::other/k")) is Decision.EXPLICIT_DENY


def _assume(external_id: str | None, principal: str = CONFLUENT_ROLE) -> AccessRequest:
    context = {"sts:ExternalId": external_id} if external_id is not None else {}
    return AccessRequest("sts:AssumeRole", CUSTOMER_ROLE, principal_arn=principal, context=context)


def test_trust_principal_forms() -> None:
    def trust(principal: Any) -> dict[str, Any]:
        return _policy({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})

    assert evaluate([trust({"AWS": CONFLUENT_ROLE})], _assume("x")).allowed
    assert evaluate([trust({"AWS": ["arn:aws:iam::1:role/a", CONFLUENT_ROLE]})], _assume("x")).allowed
    assert evaluate([trust({"AWS": "arn:aws:iam::503394815713:root"})], _assume("x")).allowed
    assert evaluate([trust({"AWS": "503394815713"})], _assume("x")).allowed
    assert evaluate([trust("*")], _assume("x")).allowed
    assert not evaluate([trust({"AWS": "arn:aws:iam::503394815713:role/other"})], _assume("x")).allowed
    assert not evaluate([trust({"Service": "ec2.amazonaws.com"})], _assume("x")).allowed


def test_external_id_conditions() -> None:
    def trust(condition: dict[str, Any]) -> dict[str, Any]:
        return _policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": CONFLUENT_ROLE},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        )

    equals = trust({"StringEquals": {"sts:ExternalId": "abc"}})
    assert evaluate([equals], _assume("abc")).allowed
    assert not evaluate([equals], _assume("abd")).allowed
    assert not evaluate([equals], _assume(None)).allowed
    like = trust({"StringLike": {"sts:externalid": ["a*", "zzz"]}})
    assert evaluate([like], _assume("abc")).allowed
    not_equals = trust({"StringNotEquals": {"sts:ExternalId": "abc"}})
    assert not evaluate([not_equals], _assume("abc")).allowed
    assert evaluate([not_equals], _assume("xyz")).allowed
    unknown_operator = trust({"NumericBetween": {"sts:ExternalId": "1"}})
    assert not evaluate([unknown_operator], _assume("1")).allowed


def test_url_encoded_documents_are_parsed() -> None:
    encoded = "%7B%22Statement%22%3A%20%5B%5D%7D"
    assert parse_policy_document(encoded) == {"Statement": []}
