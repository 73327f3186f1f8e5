"""What happens in AWS when Confluent's side of a provider integration starts a connector.

`decide_and_run` is synchronous (boto3) and meant for `asyncio.to_thread`. It
1. reads the customer role's trust policy and permission policies (inline and attached managed policies,
   default versions) with the emulator's own AWS keys,
2. decides with `iam_policy.evaluate` whether Confluent's role may assume the customer role with the
   integration's external id, and whether the customer role may perform what the connector needs,
3. when allowed, really moves a little data with the emulator's keys: the S3 sink writes JSON objects,
   the DynamoDB CDC source scans its tables and counts the items.

Denials produce traces worded like the real connectors' (AWS SDK for Java exception text).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ccloud_sandbox.confluent.iam_policy import AccessRequest, Decision, evaluate, parse_policy_document
from ccloud_sandbox.confluent.state import CONFLUENT_AWS_ACCOUNT_ID

log = logging.getLogger(__name__)

# What each connector does in AWS, taken from the sources, not from the operator's presets (the two
# must agree because both follow the same documents, never because one copies the other).
#
# S3 sink: the policy of Confluent's S3 sink docs ("user-account-iam-policy", reproduced in
# terraform-provider-confluent examples/configurations/connectors/s3-sink-connector-assume-role/
# iam_role_module/main.tf): ListAllMyBuckets on every bucket, three bucket actions, five object actions.
S3_ACCOUNT_ACTIONS = ("s3:ListAllMyBuckets",)
S3_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
S3_OBJECT_ACTIONS = (
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:GetObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
# DynamoDB CDC source (Confluent's cc-amazon-dynamodb-cdc-source page and its config reference): a
# snapshot scans each table (DescribeTable, Scan); CDC reads the table's stream (DynamoDB Streams API:
# DescribeStream, GetShardIterator, GetRecords on the stream, ListStreams, which takes no resource);
# CDC keeps its position in a checkpoint table it creates, named with
# `dynamodb.cdc.checkpointing.table.prefix` (default "connect-KCL-"), with the lease-table actions of the
# Kinesis Client Library (AWS "IAM permissions required for KCL consumer applications"); TAG discovery
# finds tables through the Resource Groups Tagging API (tag:GetResources, no resource).
DYNAMODB_SNAPSHOT_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:Scan")
DYNAMODB_STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")
DYNAMODB_LIST_STREAMS = "dynamodb:ListStreams"
DYNAMODB_CHECKPOINT_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:Scan",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
DYNAMODB_CHECKPOINT_PREFIX = "connect-KCL-"
TAG_DISCOVERY_ACTION = "tag:GetResources"
#: Records per simulated S3 object and objects per topic on each start.
S3_RECORDS_PER_OBJECT = 3
S3_OBJECTS_PER_START = 2


@dataclass(frozen=True)
class AwsSettings:
    """How the emulator reaches "AWS" (normally a moto server) and with which keys."""

    endpoint: str
    access_key_id: str
    secret_access_key: str
    region: str


@dataclass(frozen=True)
class IntegrationGrant:
    """The provider integration a connector uses, as Confluent's side knows it."""

    customer_role_arn: str
    confluent_role_arn: str
    external_id: str
    #: Wall-clock time the integration was created; its external ID cannot be in a trust policy before.
    created_at: float = 0.0


RolePolicies = tuple[dict[str, Any], list[dict[str, Any]]]


@dataclass(frozen=True)
class _Version:
    """One version of a role's trust and permission policies, and what was in force before it."""

    digest: str
    made_at: float
    policies: RolePolicies
    before: RolePolicies | None

    def in_force(self, now: float, delay: float) -> RolePolicies | None:
        return self.policies if now - self.made_at >= delay else self.before


class IamPropagation:
    """IAM's eventual consistency: a changed policy takes effect `delay` seconds after it was made.

    The emulator cannot see when AWS stored a change; it learns of it when it next reads the role
    (on every connector start). A version seen for the first time counts as made then, except on the
    first look at a role: then it is as old as the later of the role's creation and the integration's
    (a trust statement naming the integration's external ID cannot predate the integration). Until a
    version is in force, the one before it is; for a role seen for the first time, nothing is, which is
    how AWS answers an AssumeRole of a role it does not know yet.
    """

    def __init__(self) -> None:
        self._versions: dict[str, _Version] = {}
        self._lock = threading.Lock()

    def in_force(
        self, role_arn: str, policies: RolePolicies, *, first_made_at: float, delay: float, now: float | None = None
    ) -> RolePolicies | None:
        """The policies AssumeRole and the role's calls are decided with now."""
        now = time.time() if now is None else now
        digest = hashlib.sha256(json.dumps(policies, sort_keys=True).encode()).hexdigest()
        with self._lock:
            version = self._versions.get(role_arn)
            if version is None:
                version = _Version(digest, min(first_made_at, now), policies, None)
            elif version.digest != digest:
                version = _Version(digest, now, policies, version.in_force(now, delay))
            self._versions[role_arn] = version
            return version.in_force(now, delay)


@dataclass
class RunOutcome:
    """Result of one start attempt: either running (with what data moved) or failed with a trace."""

    running: bool
    trace: str = ""
    task_message: str = ""
    activity: dict[str, Any] = field(default_factory=dict)
    next_offsets: dict[str, int] = field(default_factory=dict)


def _client(settings: AwsSettings, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=settings.endpoint,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
    )


def _request_id() -> str:
    return str(uuid.uuid4())


def _role_name(role_arn: str) -> str:
    # arn:aws:iam::123456789012:role/optional/path/Name -> Name
    return role_arn.split(":", 5)[-1].rsplit("/", 1)[-1]


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _session_arn(grant: IntegrationGrant, session: str) -> str:
    return f"arn:aws:sts::{CONFLUENT_AWS_ACCOUNT_ID}:assumed-role/{_role_name(grant.confluent_role_arn)}/{session}"


def _customer_session_arn(grant: IntegrationGrant, session: str) -> str:
    account = _account_of(grant.customer_role_arn)
    return f"arn:aws:sts::{account}:assumed-role/{_role_name(grant.customer_role_arn)}/{session}"


def _assume_denied_trace(grant: IntegrationGrant, session: str, reason: str) -> str:
    return (
        f"Unable to assume role {grant.customer_role_arn}: Access denied: User: {_session_arn(grant, session)} "
        f"is not authorized to perform: sts:AssumeRole on resource: {grant.customer_role_arn}{reason} "
        f"(Service: AWSSecurityTokenService; Status Code: 403; Error Code: AccessDenied; "
        f"Request ID: {_request_id()}; Proxy: null)"
    )


def _load_role_policies(iam: Any, role_name: str) -> tuple[RolePolicies, float]:
    """The trust policy and every permission policy document of a role, and when the role was created."""
    role = iam.get_role(RoleName=role_name)["Role"]
    created = role.get("CreateDate")
    created_at = created.timestamp() if isinstance(created, datetime) else 0.0
    trust = parse_policy_document(role["AssumeRolePolicyDocument"])
    permissions: list[dict[str, Any]] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for policy_name in page["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
            permissions.append(parse_policy_document(document))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        for attached in page["AttachedPolicies"]:
            policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
            version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
            permissions.append(parse_policy_document(version["PolicyVersion"]["Document"]))
    return (trust, permissions), created_at


def check_assume_role(trust: Mapping[str, Any], grant: IntegrationGrant, session: str) -> str | None:
    """None when Confluent's role may assume the customer role, else the failure trace."""
    base = {
        "aws:PrincipalArn": grant.confluent_role_arn,
        "aws:PrincipalAccount": CONFLUENT_AWS_ACCOUNT_ID,
        "aws:SourceAccount": CONFLUENT_AWS_ACCOUNT_ID,
    }
    with_external_id = AccessRequest(
        action="sts:AssumeRole",
        resource=grant.customer_role_arn,
        principal_arn=grant.confluent_role_arn,
        context={**base, "sts:ExternalId": grant.external_id},
    )
    decision = evaluate([trust], with_external_id)
    if decision is Decision.EXPLICIT_DENY:
        return _assume_denied_trace(grant, session, " with an explicit deny in a resource-based policy")
    if decision is Decision.IMPLICIT_DENY:
        return _assume_denied_trace(grant, session, "")
    # Confluent requires the trust to pin the external id (confused-deputy protection): a trust that also
    # lets a caller without the id in, or with another id, is treated as a denial.
    for other_context in (base, {**base, "sts:ExternalId": str(uuid.uuid4())}):
        probe = AccessRequest(
            action="sts:AssumeRole",
            resource=grant.customer_role_arn,
            principal_arn=grant.confluent_role_arn,
            context=other_context,
        )
        if evaluate([trust], probe).allowed:
            return _assume_denied_trace(
                grant, session, " because the trust policy does not require the sts:ExternalId of the integration"
            )
    return None


def _permission_trace(
    service: str,
    decision: Decision,
    action: str,
    resource: str,
    caller: str,
) -> str:
    why = (
        "with an explicit deny in an identity-based policy"
        if decision is Decision.EXPLICIT_DENY
        else f"because no identity-based policy allows the {action} action"
    )
    message = f"User: {caller} is not authorized to perform: {action} on resource: {resource} {why}"
    if service == "s3":
        return (
            f"com.amazonaws.services.s3.model.AmazonS3Exception: {message} "
            f"(Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: {_request_id()})"
        )
    return (
        f"com.amazonaws.services.dynamodbv2.model.AmazonDynamoDBException: {message} "
        f"(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: AccessDeniedException; "
        f"Request ID: {_request_id()})"
    )


def _first_denied(permissions: list[dict[str, Any]], wanted: list[tuple[str, str]]) -> tuple[str, str, Decision] | None:
    for action, resource in wanted:
        decision = evaluate(permissions, AccessRequest(action=action, resource=resource))
        if not decision.allowed:
            return action, resource, decision
    return None


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _region_from_endpoint(endpoint: str | None, default: str) -> str:
    # e.g. https://dynamodb.eu-west-1.amazonaws.com -> eu-west-1
    if endpoint:
        host = endpoint.split("://", 1)[-1].split("/", 1)[0]
        labels = host.split(".")
        if len(labels) >= 3 and labels[0] == "dynamodb":
            return labels[1]
    return default


def decide_and_run(
    settings: AwsSettings,
    grant: IntegrationGrant,
    connector_class: str,
    connector_name: str,
    config: Mapping[str, str],
    next_offsets: Mapping[str, int],
    propagation: IamPropagation | None = None,
    propagation_delay: float = 0.0,
) -> RunOutcome:
    """Start a connector that authenticates with an IAM role: decide like AWS, then move data.

    With `propagation`, the role's policies are the ones in force `propagation_delay` seconds after
    each change (IAM is eventually consistent), not the ones stored now.
    """
    session = f"confluent-{connector_name}"[:64]
    iam = _client(settings, "iam")
    try:
        stored, created_at = _load_role_policies(iam, _role_name(grant.customer_role_arn))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "NoSuchEntity":
            # AWS answers AccessDenied, not NoSuchEntity, when the role to assume does not exist.
            return RunOutcome(False, _assume_denied_trace(grant, session, ""))
        return RunOutcome(False, f"Unable to read role {grant.customer_role_arn}: {error}")
    except BotoCoreError as error:
        return RunOutcome(False, f"Unable to reach AWS: {error}")
    in_force: RolePolicies | None = stored
    if propagation is not None:
        in_force = propagation.in_force(
            grant.customer_role_arn,
            stored,
            first_made_at=max(created_at, grant.created_at),
            delay=propagation_delay,
        )
    if in_force is None:
        # The role is too new for STS to know it yet.
        return RunOutcome(False, _assume_denied_trace(grant, session, ""))
    trust, permissions = in_force

    if _account_of(grant.customer_role_arn) == "":
        return RunOutcome(False, _assume_denied_trace(grant, session, ""))
    denied_trace = check_assume_role(trust, grant, session)
    if denied_trace is not None:
        return RunOutcome(False, denied_trace)

    caller = _customer_session_arn(grant, session)
    if connector_class == "S3_SINK":
        return _run_s3_sink(settings, permissions, caller, connector_name, config, next_offsets)
    if connector_class == "DynamoDbCdcSource":
        return _run_dynamodb_cdc(settings, permissions, caller, grant, config, connector_name)
    return RunOutcome(True, task_message="Assumed the customer role; no data movement simulated for this class")


def _object_key(topics_dir: str, topic: str, start_offset: int) -> str:
    # The S3 sink's default layout: <topics.dir>/<topic>/partition=<p>/<topic>+<p>+<start offset>.json
    return f"{topics_dir}/{topic}/partition=0/{topic}+0+{start_offset:010d}.json"


def _run_s3_sink(
    settings: AwsSettings,
    permissions: list[dict[str, Any]],
    caller: str,
    connector_name: str,
    config: Mapping[str, str],
    next_offsets: Mapping[str, int],
) -> RunOutcome:
    bucket = config.get("s3.bucket.name", "")
    topics_dir = config.get("topics.dir", "topics")
    offsets = dict(next_offsets)
    wanted = [(a, "arn:aws:s3:::*") for a in S3_ACCOUNT_ACTIONS]
    wanted += [(a, f"arn:aws:s3:::{bucket}") for a in S3_BUCKET_ACTIONS]
    # Object actions are decided on the objects the sink is about to write, as S3 would decide them, so a
    # grant scoped to the topics prefix works just like `bucket/*`.
    for topic in _csv(config.get("topics")):
        key = _object_key(topics_dir, topic, offsets.get(topic, 0))
        wanted += [(a, f"arn:aws:s3:::{bucket}/{key}") for a in S3_OBJECT_ACTIONS]
    denied = _first_denied(permissions, wanted)
    if denied is not None:
        action, resource, decision = denied
        return RunOutcome(False, _permission_trace("s3", decision, action, resource, caller))

    s3 = _client(settings, "s3")
    written: list[str] = []
    try:
        for topic in _csv(config.get("topics")):
            for _ in range(S3_OBJECTS_PER_START):
                start = offsets.get(topic, 0)
                records = [
                    {
                        "topic": topic,
                        "partition": 0,
                        "offset": start + i,
                        "connector": connector_name,
                        "timestamp": datetime.now(UTC).isoformat(),
                    }
                    for i in range(S3_RECORDS_PER_OBJECT)
                ]
                key = _object_key(topics_dir, topic, start)
                body = "\n".join(json.dumps(r) for r in records) + "\n"
                s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
                written.append(key)
                offsets[topic] = start + S3_RECORDS_PER_OBJECT
    except ClientError as error:
        error_info = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return RunOutcome(
            False,
            f"com.amazonaws.services.s3.model.AmazonS3Exception: {error_info.get('Message', '')} "
            f"(Service: Amazon S3; Status Code: {status}; Error Code: {error_info.get('Code', '')}; "
            f"Request ID: {_request_id()})",
        )
    return RunOutcome(
        True,
        task_message=f"Wrote {len(written)} objects to s3://{bucket}",
        activity={"s3_bucket": bucket, "s3_objects_written": written},
        next_offsets=offsets,
    )


def _tag_filters(raw: str | None) -> dict[str, set[str]]:
    """`dynamodb.table.tag.filters`: "key1:v1,v2;key2:v3" -> {key1: {v1, v2}, key2: {v3}}."""
    filters: dict[str, set[str]] = {}
    for clause in (raw or "").split(";"):
        key, _, values = clause.partition(":")
        if key.strip():
            filters[key.strip()] = {v.strip() for v in values.split(",") if v.strip()}
    return filters


def _tables_by_tag(dynamodb: Any, filters: dict[str, set[str]]) -> list[str]:
    """Tables whose tags match every filter (a key with no values matches any value)."""
    found = []
    for page in dynamodb.get_paginator("list_tables").paginate():
        for table in page["TableNames"]:
            arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
            tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])}
            if all(key in tags and (not values or tags[key] in values) for key, values in filters.items()):
                found.append(table)
    return found


def _run_dynamodb_cdc(
    settings: AwsSettings,
    permissions: list[dict[str, Any]],
    caller: str,
    grant: IntegrationGrant,
    config: Mapping[str, str],
    connector_name: str,
) -> RunOutcome:
    region = _region_from_endpoint(config.get("dynamodb.service.endpoint"), settings.region)
    account = _account_of(grant.customer_role_arn)
    sync_mode = config.get("dynamodb.table.sync.mode", "SNAPSHOT_CDC")
    snapshot, cdc = sync_mode in ("SNAPSHOT", "SNAPSHOT_CDC"), sync_mode in ("CDC", "SNAPSHOT_CDC")
    dynamodb = _client(settings, "dynamodb")
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{{}}"
    if config.get("dynamodb.table.discovery.mode", "INCLUDELIST") == "TAG":
        denied = _first_denied(permissions, [(TAG_DISCOVERY_ACTION, "*")])
        if denied is not None:
            return RunOutcome(False, _tagging_trace(denied, caller))
        tables = _tables_by_tag(dynamodb, _tag_filters(config.get("dynamodb.table.tag.filters")))
    else:
        tables = _csv(config.get("dynamodb.table.includelist"))
    wanted: list[tuple[str, str]] = []
    for table in tables:
        if snapshot:
            wanted += [(a, table_arn.format(table)) for a in DYNAMODB_SNAPSHOT_ACTIONS]
        if cdc:
            stream = f"{table_arn.format(table)}/stream/{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S.000')}"
            wanted += [(a, stream) for a in DYNAMODB_STREAM_ACTIONS]
    if cdc and tables:
        wanted.append((DYNAMODB_LIST_STREAMS, "*"))
        prefix = config.get("dynamodb.cdc.checkpointing.table.prefix", DYNAMODB_CHECKPOINT_PREFIX)
        checkpoint = table_arn.format(f"{prefix}{connector_name}")
        wanted += [(a, checkpoint) for a in DYNAMODB_CHECKPOINT_ACTIONS]
    denied = _first_denied(permissions, wanted)
    if denied is not None:
        action, resource, decision = denied
        return RunOutcome(False, _permission_trace("dynamodb", decision, action, resource, caller))
    items_read: dict[str, int] = {}
    for table in tables:
        try:
            description = dynamodb.describe_table(TableName=table)["Table"]
            if cdc and not description.get("LatestStreamArn"):
                # The CDC modes read the table's stream; a table without one cannot be captured.
                return RunOutcome(
                    False,
                    f"io.confluent.connect.dynamodb.cdc.DynamoDbCdcException: DynamoDB Streams is not enabled on "
                    f"table {table}; enable a stream (NEW_AND_OLD_IMAGES) or use dynamodb.table.sync.mode SNAPSHOT",
                )
            count = 0
            if snapshot:
                for page in dynamodb.get_paginator("scan").paginate(TableName=table, Select="COUNT"):
                    count += int(page.get("Count", 0))
        except ClientError as error:
            error_info = error.response.get("Error", {})
            return RunOutcome(
                False,
                f"com.amazonaws.services.dynamodbv2.model.{error_info.get('Code', 'AmazonDynamoDBException')}: "
                f"{error_info.get('Message', '')} (Service: AmazonDynamoDBv2; Status Code: 400; "
                f"Error Code: {error_info.get('Code', '')}; Request ID: {_request_id()})",
            )
        items_read[table] = count
    summary = ", ".join(f"{count} items from {table}" for table, count in items_read.items())
    return RunOutcome(
        True,
        task_message=f"Snapshot read {summary}" if summary else "No tables to snapshot",
        activity={"dynamodb_items_read": items_read, "dynamodb_tables": list(tables)},
    )


def _tagging_trace(denied: tuple[str, str, Decision], caller: str) -> str:
    action, _, decision = denied
    why = "with an explicit deny" if decision is Decision.EXPLICIT_DENY else "as no identity-based policy allows it"
    return (
        f"com.amazonaws.services.resourcegroupstaggingapi.model.AWSResourceGroupsTaggingAPIException: User: {caller} "
        f"is not authorized to perform: {action} {why} (Service: AWSResourceGroupsTaggingAPI; Status Code: 400; "
        f"Error Code: AccessDeniedException; Request ID: {_request_id()})"
    )
