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


#: What the connectors need, written out from their documentation, not from the operator's constants:
#: - S3 sink: the policy of Confluent's S3 sink docs ("user-account-iam-policy"), as Confluent's Terraform
#:   example reproduces it (terraform-provider-confluent examples/configurations/connectors/
#:   s3-sink-connector-assume-role/iam_role_module/main.tf);
#: - DynamoDB CDC source: Confluent's cc-amazon-dynamodb-cdc-source page (a snapshot scans the table, CDC
#:   reads its stream and keeps a checkpoint table with the prefix connect-KCL-), the DynamoDB Streams API
#:   (stream actions on table/NAME/stream/LABEL, ListStreams on "*"), and AWS "IAM permissions required for
#:   KCL consumer applications" (the lease table's actions).
DOCUMENTED_S3_SINK = [
    ("s3:ListAllMyBuckets", "arn:aws:s3:::*"),
    *[
        (action, "arn:aws:s3:::orders")
        for action in ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
    ],
    *[
        (action, "arn:aws:s3:::orders/*")
        for action in (
            "s3:PutObject",
            "s3:PutObjectTagging",
            "s3:GetObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        )
    ],
]
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/events"
DOCUMENTED_DYNAMODB_CDC = [
    ("dynamodb:DescribeTable", TABLE),
    ("dynamodb:Scan", TABLE),
    *[
        (action, f"{TABLE}/stream/2026-01-01T00:00:00.000")
        for action in ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")
    ],
    ("dynamodb:ListStreams", "*"),
    *[
        (action, "arn:aws:dynamodb:eu-west-1:123456789012:table/connect-KCL-events-cdc")
        for action in (
            "dynamodb:CreateTable",
            "dynamodb:DescribeTable",
            "dynamodb:Scan",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
    ],
]


def test_the_presets_grant_what_the_connector_documentation_lists() -> None:
    document = policy.permission_document(["orders"], ["events"], None, account_id="123456789012")
    refused = [
        need for need in DOCUMENTED_S3_SINK + DOCUMENTED_DYNAMODB_CDC if not policy.is_allowed([document], *need)
    ]
    assert refused == []


def test_an_existing_role_is_checked_for_each_documented_need() -> None:
    # A role that grants everything documented passes; take any one documented need away and it fails.
    # (A user writes the stream and checkpoint grants with wildcards, as AWS's examples do.)
    written = [
        (action, resource.replace("2026-01-01T00:00:00.000", "*").replace("connect-KCL-events-cdc", "connect-KCL-*"))
        for action, resource in DOCUMENTED_S3_SINK + DOCUMENTED_DYNAMODB_CDC
    ]
    everything = {"Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in written]}
    needed = policy.required_permissions(["orders"], ["events"], account_id="123456789012", region="eu-west-1")
    assert all(policy.is_allowed([everything], *need) for need in needed)
    for missing in written:
        partial = {"Statement": [s for s in everything["Statement"] if (s["Action"], s["Resource"]) != missing]}
        assert not all(policy.is_allowed([partial], *need) for need in needed), f"{missing} is never checked"


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
