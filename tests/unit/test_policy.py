"""Policy documents: semantic comparison, the operator's trust statement, and evaluation."""

from ccloud_operator.aws import policy
from ccloud_operator.constants import TRUST_STATEMENT_SID

CONFLUENT_ROLE = "arn:aws:iam::210987654321:role/confluent-assumer"
EXTERNAL_ID = "0b9d1c52-6c2f-4a44-9f3a-0a7f7e0e3a11"


def test_spelling_differences_are_not_changes() -> None:
    written = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}
        ],
    }
    read_back = {
        "Statement": [{"Resource": "arn:aws:s3:::b/*", "Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow"}],
        "Version": "2012-10-17",
    }
    assert policy.documents_equal(written, read_back)


def test_a_changed_action_is_a_change() -> None:
    left = {"Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    right = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    assert not policy.documents_equal(left, right)


def test_trust_statement_merge_keeps_other_statements() -> None:
    ec2 = {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    stale = policy.trust_statement(CONFLUENT_ROLE, "old-external-id")
    merged = policy.with_trust_statement(
        {"Version": "2012-10-17", "Statement": [ec2, stale]}, policy.trust_statement(CONFLUENT_ROLE, EXTERNAL_ID)
    )
    assert merged["Statement"][0] == ec2
    ours = [s for s in merged["Statement"] if s.get("Sid") == TRUST_STATEMENT_SID]
    assert len(ours) == 1
    assert ours[0]["Condition"]["StringEquals"]["sts:ExternalId"] == EXTERNAL_ID
    assert policy.without_trust_statement(merged)["Statement"] == [ec2]


def test_trust_admits_only_the_exact_external_id() -> None:
    good = {"Statement": [policy.trust_statement(CONFLUENT_ROLE, EXTERNAL_ID)]}
    assert policy.trust_admits(good, CONFLUENT_ROLE, EXTERNAL_ID)[0]
    wrong = {"Statement": [policy.trust_statement(CONFLUENT_ROLE, "another")]}
    admitted, reason = policy.trust_admits(wrong, CONFLUENT_ROLE, EXTERNAL_ID)
    assert not admitted and "another external ID" in reason
    no_condition = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": CONFLUENT_ROLE}, "Action": "sts:AssumeRole"}]
    }
    admitted, reason = policy.trust_admits(no_condition, CONFLUENT_ROLE, EXTERNAL_ID)
    assert not admitted and "no StringEquals sts:ExternalId" in reason


def test_an_explicit_deny_in_the_trust_policy_wins() -> None:
    deny = {"Sid": "NoConfluent", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:*"}
    document = {"Statement": [policy.trust_statement(CONFLUENT_ROLE, EXTERNAL_ID), deny]}
    admitted, reason = policy.trust_admits(document, CONFLUENT_ROLE, EXTERNAL_ID)
    assert not admitted and "NoConfluent" in reason


def test_presets_grant_what_they_require() -> None:
    document = policy.permission_document(["orders"], ["events"], None, account_id="123456789012")
    needed = policy.required_permissions(["orders"], ["events"], account_id="123456789012", region="eu-west-1")
    assert needed
    assert all(policy.is_allowed([document], action, resource) for action, resource in needed)


def test_deny_wins_over_allow_and_wildcards_match() -> None:
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::orders*"}]}
    assert policy.is_allowed([allow_all], "s3:PutObject", "arn:aws:s3:::orders/*")
    deny_put = {"Statement": [{"Effect": "Deny", "Action": "s3:Put*", "Resource": "*"}]}
    assert not policy.is_allowed([allow_all, deny_put], "s3:PutObject", "arn:aws:s3:::orders/*")
    assert policy.is_allowed([allow_all, deny_put], "s3:GetObject", "arn:aws:s3:::orders/*")
    assert not policy.is_allowed([allow_all], "s3:PutObject", "arn:aws:s3:::other/*")


def test_url_encoded_documents_from_iam_are_parsed() -> None:
    encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
    assert policy.parse_document(encoded) == {"Version": "2012-10-17", "Statement": []}
