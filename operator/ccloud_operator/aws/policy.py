"""IAM policy documents: build, merge, compare and evaluate, all as pure functions.

Documents are compared semantically (statement order inside a policy is kept, but string-or-list,
key order and list order within Action/Resource do not count), so the operator writes to AWS only
when something really changed.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from ccloud_operator.constants import TRUST_STATEMENT_SID

PolicyDocument = dict[str, Any]
Statement = dict[str, Any]

POLICY_VERSION = "2012-10-17"

#: What the S3 sink needs [CONTRACT §2 "AWS trust sequence", TF iam_role_module].
S3_SINK_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
S3_SINK_OBJECT_ACTIONS = (
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:GetObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
#: What the DynamoDB CDC source needs (Confluent's cc-amazon-dynamodb-cdc-source page and config
#: reference; the DynamoDB Streams API; AWS "IAM permissions required for KCL consumer applications"):
#: - the snapshot scans each table;
DYNAMODB_TABLE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Scan")
#: - CDC reads each table's stream, on "table/NAME/stream/*";
DYNAMODB_STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")
#: - ListStreams takes no resource, so it is granted on "*";
DYNAMODB_LIST_STREAMS = "dynamodb:ListStreams"
#: - CDC keeps its position in a checkpoint table it creates, named with
#:   dynamodb.cdc.checkpointing.table.prefix (default "connect-KCL-"): the KCL lease-table actions.
DYNAMODB_CHECKPOINT_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:Scan",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
DYNAMODB_CHECKPOINT_TABLE_PREFIX = "connect-KCL-"


def parse_document(raw: str | dict[str, Any] | None) -> PolicyDocument:
    """A policy document from what IAM returns (URL-encoded JSON, JSON, or already parsed)."""
    if raw is None:
        return {"Version": POLICY_VERSION, "Statement": []}
    if isinstance(raw, dict):
        return raw
    text = raw if raw.lstrip().startswith("{") else unquote(raw)
    document: PolicyDocument = json.loads(text)
    return document


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _canonical(value: Any) -> Any:
    """A form of a policy fragment in which equivalent spellings are equal."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(item) for item in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def canonical_statement(statement: Statement) -> Statement:
    """Canonical form of one statement (single-item lists collapse to their item, lists sorted)."""
    result: Statement = _canonical(statement)
    return result


def documents_equal(left: PolicyDocument, right: PolicyDocument) -> bool:
    """Whether two documents grant the same thing, ignoring spelling differences."""
    return [canonical_statement(s) for s in _as_list(left.get("Statement"))] == [
        canonical_statement(s) for s in _as_list(right.get("Statement"))
    ]


def trust_statement(confluent_role_arn: str, external_id: str) -> Statement:
    """The statement that lets Confluent's role assume the customer role with the external ID."""
    return {
        "Sid": TRUST_STATEMENT_SID,
        "Effect": "Allow",
        "Principal": {"AWS": confluent_role_arn},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
    }


def with_trust_statement(document: PolicyDocument, statement: Statement) -> PolicyDocument:
    """The document with the operator's statement put in (or replaced), every other statement kept."""
    others = [s for s in _as_list(document.get("Statement")) if s.get("Sid") != TRUST_STATEMENT_SID]
    return {"Version": document.get("Version", POLICY_VERSION), "Statement": [*others, statement]}


def without_trust_statement(document: PolicyDocument) -> PolicyDocument:
    """The document without the operator's statement."""
    others = [s for s in _as_list(document.get("Statement")) if s.get("Sid") != TRUST_STATEMENT_SID]
    return {"Version": document.get("Version", POLICY_VERSION), "Statement": others}


def permission_document(
    s3_buckets: Iterable[str],
    dynamodb_tables: Iterable[str],
    extra_document: str | None,
    *,
    account_id: str,
    partition: str = "aws",
) -> PolicyDocument:
    """The inline permission policy for presets plus a user's document."""
    statements: list[Statement] = []
    buckets = sorted(set(s3_buckets))
    if buckets:
        statements.append(
            {"Sid": "S3SinkListBuckets", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
        )
        statements.append(
            {
                "Sid": "S3SinkBuckets",
                "Effect": "Allow",
                "Action": list(S3_SINK_BUCKET_ACTIONS),
                "Resource": [f"arn:{partition}:s3:::{bucket}" for bucket in buckets],
            }
        )
        statements.append(
            {
                "Sid": "S3SinkObjects",
                "Effect": "Allow",
                "Action": list(S3_SINK_OBJECT_ACTIONS),
                "Resource": [f"arn:{partition}:s3:::{bucket}/*" for bucket in buckets],
            }
        )
    tables = sorted(set(dynamodb_tables))
    if tables:
        table_arns = [f"arn:{partition}:dynamodb:*:{account_id}:table/{table}" for table in tables]
        statements.append(
            {
                "Sid": "DynamoDbCdcTables",
                "Effect": "Allow",
                "Action": list(DYNAMODB_TABLE_ACTIONS),
                "Resource": table_arns,
            }
        )
        statements.append(
            {
                "Sid": "DynamoDbCdcStreams",
                "Effect": "Allow",
                "Action": list(DYNAMODB_STREAM_ACTIONS),
                "Resource": [f"{arn}/stream/*" for arn in table_arns],
            }
        )
        statements.append(
            {"Sid": "DynamoDbCdcListStreams", "Effect": "Allow", "Action": DYNAMODB_LIST_STREAMS, "Resource": "*"}
        )
        statements.append(
            {
                "Sid": "DynamoDbCdcCheckpoints",
                "Effect": "Allow",
                "Action": list(DYNAMODB_CHECKPOINT_ACTIONS),
                "Resource": f"arn:{partition}:dynamodb:*:{account_id}:table/{DYNAMODB_CHECKPOINT_TABLE_PREFIX}*",
            }
        )
    if extra_document:
        statements.extend(_as_list(parse_document(extra_document).get("Statement")))
    return {"Version": POLICY_VERSION, "Statement": statements}


def required_permissions(
    s3_buckets: Iterable[str],
    dynamodb_tables: Iterable[str],
    *,
    account_id: str,
    region: str,
    partition: str = "aws",
) -> list[tuple[str, str]]:
    """(action, resource) pairs the presets need, for checking an existing role."""
    needed: list[tuple[str, str]] = []
    buckets = sorted(set(s3_buckets))
    if buckets:
        needed.append(("s3:ListAllMyBuckets", f"arn:{partition}:s3:::*"))
    for bucket in buckets:
        needed += [(action, f"arn:{partition}:s3:::{bucket}") for action in S3_SINK_BUCKET_ACTIONS]
        needed += [(action, f"arn:{partition}:s3:::{bucket}/*") for action in S3_SINK_OBJECT_ACTIONS]
    tables = sorted(set(dynamodb_tables))
    for table in tables:
        table_arn = f"arn:{partition}:dynamodb:{region}:{account_id}:table/{table}"
        needed += [(action, table_arn) for action in DYNAMODB_TABLE_ACTIONS]
        needed += [(action, f"{table_arn}/stream/*") for action in DYNAMODB_STREAM_ACTIONS]
    if tables:
        checkpoints = f"arn:{partition}:dynamodb:{region}:{account_id}:table/{DYNAMODB_CHECKPOINT_TABLE_PREFIX}*"
        needed.append((DYNAMODB_LIST_STREAMS, "*"))
        needed += [(action, checkpoints) for action in DYNAMODB_CHECKPOINT_ACTIONS]
    return needed


def _matches(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    # IAM wildcards are * and ?; fnmatch also treats [] specially, which ARNs never contain.
    return fnmatch.fnmatchcase(value, pattern)


def _statement_applies(statement: Statement, action: str, resource: str) -> bool:
    if "NotAction" in statement:
        if any(_matches(p, action, case_sensitive=False) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(_matches(p, action, case_sensitive=False) for p in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        return not any(_matches(p, resource, case_sensitive=True) for p in _as_list(statement["NotResource"]))
    # A resource pattern that is itself a wildcard also covers a wildcard request ("bucket/*").
    return any(_matches(p, resource, case_sensitive=True) for p in _as_list(statement.get("Resource")))


def is_allowed(documents: Iterable[PolicyDocument], action: str, resource: str) -> bool:
    """Identity-policy evaluation without conditions: an explicit Deny wins, then any Allow, else deny."""
    allowed = False
    for document in documents:
        for statement in _as_list(document.get("Statement")):
            if not _statement_applies(statement, action, resource):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                allowed = True
    return allowed


def trust_admits(document: PolicyDocument, confluent_role_arn: str, external_id: str) -> tuple[bool, str]:
    """Whether a trust policy lets Confluent's role assume the role with exactly this external ID.

    Returns (admitted, reason). Only the StringEquals form the operator writes (and its list
    spelling) counts as admitting; a statement without the ExternalId condition is reported, since
    Confluent's own validation requires it.
    """
    denied_by = None
    admitted = False
    reason = f"no statement allows {confluent_role_arn} to sts:AssumeRole"
    for statement in _as_list(document.get("Statement")):
        principals = (
            _as_list((statement.get("Principal") or {}).get("AWS"))
            if isinstance(statement.get("Principal"), dict)
            else _as_list(statement.get("Principal"))
        )
        if not any(p == "*" or p == confluent_role_arn for p in principals):
            continue
        if not any(_matches(a, "sts:AssumeRole", case_sensitive=False) for a in _as_list(statement.get("Action"))):
            continue
        if statement.get("Effect") == "Deny":
            denied_by = statement.get("Sid") or "an unnamed statement"
            continue
        condition = statement.get("Condition") or {}
        expected = _as_list((condition.get("StringEquals") or {}).get("sts:ExternalId"))
        if not expected:
            reason = f"the statement admitting {confluent_role_arn} has no StringEquals sts:ExternalId condition"
            continue
        if external_id not in expected:
            reason = f"the statement admitting {confluent_role_arn} expects another external ID"
            continue
        admitted = True
    if denied_by is not None:
        return False, f"statement {denied_by} denies {confluent_role_arn} sts:AssumeRole"
    if admitted:
        return True, "the trust policy admits Confluent's role with the integration's external ID"
    return False, reason
