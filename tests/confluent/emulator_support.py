"""Shared steps of the emulator tests: polling with a deadline, request bodies, AWS policy documents."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import httpx

from ccloud_sandbox.confluent.launcher import EmulatorInfo

T = TypeVar("T")


def wait_for(observe: Callable[[], T | None], what: str, timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll `observe` until it returns something truthy (empty is "not yet"); TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        observed = observe()
        if observed:
            return observed
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def role_arn(name: str, account: str = "123456789012") -> str:
    """An IAM role ARN in moto's account."""
    return f"arn:aws:iam::{account}:role/{name}"


def integration_request(environment_id: str, customer_role_arn: str, provider: str = "AWS") -> dict[str, Any]:
    """A pim/v1 create body."""
    return {
        "display_name": unique("pi"),
        "provider": provider,
        "config": {"kind": "AwsIntegrationConfig", "customer_iam_role_arn": customer_role_arn},
        "environment": {"id": environment_id},
    }


def create_integration(api: httpx.Client, info: EmulatorInfo, customer_role_arn: str) -> dict[str, Any]:
    """Create an integration and return it."""
    response = api.post("/pim/v1/integrations", json=integration_request(info.environment_id, customer_role_arn))
    assert response.status_code == 201, response.text
    integration: dict[str, Any] = response.json()
    return integration


def connectors_path(info: EmulatorInfo) -> str:
    """Base path of the seeded cluster's connectors."""
    return f"/connect/v1/environments/{info.environment_id}/clusters/{info.kafka_cluster_id}/connectors"


def plugins_path(info: EmulatorInfo) -> str:
    """Base path of the seeded cluster's connector plugins."""
    return f"/connect/v1/environments/{info.environment_id}/clusters/{info.kafka_cluster_id}/connector-plugins"


def datagen_config(name: str, **extra: str) -> dict[str, str]:
    """A minimal connector config of a generically validated class."""
    return {
        "connector.class": "DatagenSource",
        "name": name,
        "kafka.auth.mode": "KAFKA_API_KEY",
        "kafka.api.key": "KAFKAKEY",
        "kafka.api.secret": "kafka-secret-value",
        "kafka.topic": "orders",
        "output.data.format": "JSON",
        **extra,
    }


def s3_sink_config(name: str, bucket: str, integration_id: str, topics: str = "orders") -> dict[str, str]:
    """An S3 sink that authenticates with the integration's IAM role."""
    return {
        "connector.class": "S3_SINK",
        "name": name,
        "kafka.auth.mode": "KAFKA_API_KEY",
        "kafka.api.key": "KAFKAKEY",
        "kafka.api.secret": "kafka-secret-value",
        "topics": topics,
        "input.data.format": "JSON",
        "output.data.format": "JSON",
        "s3.bucket.name": bucket,
        "time.interval": "HOURLY",
        "flush.size": "1000",
        "authentication.method": "IAM Roles",
        "provider.integration.id": integration_id,
        "tasks.max": "1",
    }


def dynamodb_cdc_config(name: str, tables: str, integration_id: str, sync_mode: str = "SNAPSHOT_CDC") -> dict[str, str]:
    """A DynamoDB CDC source that authenticates with the integration's IAM role (sync mode: the default)."""
    return {
        "connector.class": "DynamoDbCdcSource",
        "name": name,
        "kafka.auth.mode": "KAFKA_API_KEY",
        "kafka.api.key": "KAFKAKEY",
        "kafka.api.secret": "kafka-secret-value",
        "dynamodb.service.endpoint": "https://dynamodb.us-east-1.amazonaws.com",
        "dynamodb.table.discovery.mode": "INCLUDELIST",
        "dynamodb.table.includelist": tables,
        "dynamodb.table.sync.mode": sync_mode,
        "output.data.format": "AVRO",
        "authentication.method": "IAM Roles",
        "provider.integration.id": integration_id,
    }


def create_connector(api: httpx.Client, info: EmulatorInfo, config: dict[str, str]) -> dict[str, Any]:
    """Create a connector and return the 201 body."""
    response = api.post(connectors_path(info), json={"name": config["name"], "config": config})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def status_of(api: httpx.Client, info: EmulatorInfo, name: str) -> dict[str, Any]:
    """The connector's status body."""
    response = api.get(f"{connectors_path(info)}/{name}/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_state(
    api: httpx.Client, info: EmulatorInfo, name: str, states: Collection[str], timeout: float = 15.0
) -> dict[str, Any]:
    """Poll the status until the connector state is one of `states`; return the status."""

    def observe() -> dict[str, Any] | None:
        status = status_of(api, info, name)
        return status if status["connector"]["state"] in states else None

    return wait_for(observe, f"connector {name} in {sorted(states)}", timeout)


def trust_policy(principal: str | list[str], external_id: str | None) -> dict[str, Any]:
    """A trust policy letting `principal` assume the role, pinned to `external_id` when given."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def s3_sink_permissions(bucket: str, object_actions: list[str] | None = None) -> dict[str, Any]:
    """The S3 permissions Confluent documents for the S3 sink."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "arn:aws:s3:::*"},
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Effect": "Allow",
                "Action": object_actions
                or [
                    "s3:PutObject",
                    "s3:PutObjectTagging",
                    "s3:GetObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }


def dynamodb_cdc_permissions(table: str, region: str = "us-east-1", account: str = "123456789012") -> dict[str, Any]:
    """The DynamoDB permissions the CDC source needs for one table, written out from the sources:

    - Confluent's DynamoDB CDC Source page (docs.confluent.io cloud/current/connectors/
      cc-amazon-dynamodb-cdc-source.html): a snapshot scans the table, CDC reads its DynamoDB stream
      and keeps its position in a checkpoint table named with `dynamodb.cdc.checkpointing.table.prefix`
      (default "connect-KCL-");
    - the DynamoDB Streams API: DescribeStream, GetShardIterator and GetRecords act on the stream ARN
      (`table/NAME/stream/LABEL`); ListStreams takes no resource ("*");
    - AWS "IAM permissions required for KCL consumer applications": the lease (checkpoint) table needs
      CreateTable, DescribeTable, Scan, GetItem, PutItem, UpdateItem, DeleteItem.
    """
    table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:DescribeTable", "dynamodb:Scan"], "Resource": table_arn},
            {
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"],
                "Resource": f"{table_arn}/stream/*",
            },
            {"Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:CreateTable",
                    "dynamodb:DescribeTable",
                    "dynamodb:Scan",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                "Resource": f"arn:aws:dynamodb:{region}:{account}:table/connect-KCL-*",
            },
        ],
    }
