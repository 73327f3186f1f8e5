"""Secrets: with DEBUG logging, no secret value on any path reaches a log line, an Event or a status.

The world's teardown check also runs; this test adds every secret path the operator has, and
searches for each value in plain text and in base64 (the form Secrets and Basic auth carry).
"""

from __future__ import annotations

import base64
import json

from reliability_support import bucket_for, pi_spec, sink_spec

from ccloud_operator.constants import GROUP, VERSION
from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from operator_world import World


def _forms(value: str) -> dict[str, str]:
    return {
        "plain": value,
        "base64": base64.b64encode(value.encode()).decode(),
        # Python's repr of a str, as a careless f"{data!r}" would print it.
        "repr": repr(value)[1:-1],
    }


def test_no_secret_value_reaches_logs_events_or_status_with_debug_logging(world: World) -> None:
    cloud = world.info  # the operator-wide Cloud API key (also searched for by the world)
    # A second Cloud API key with the same rights, used through cloudCredentialsSecretRef.
    grant = world.admin.create_api_key(
        "per-resource",
        role_bindings=[
            ("EnvironmentAdmin", f"crn://confluent.cloud/organization={_org(world)}/environment={cloud.environment_id}")
        ],
    )
    iam = world.moto.client("iam")
    user = iam.create_user(UserName="operator-dev")["User"]["UserName"]
    access = iam.create_access_key(UserName=user)["AccessKey"]
    world.moto.client("s3").create_bucket(Bucket=bucket_for("secretive"))

    world.secret("cloud-key", {"api-key": grant.api_key, "api-secret": grant.api_secret})
    world.secret(
        "aws-keys",
        {"aws_access_key_id": access["AccessKeyId"], "aws_secret_access_key": access["SecretAccessKey"]},
    )
    world.secret("kafka-key", {"api-key": "KAFKAKEYSECRETPATH1", "api-secret": "kafka-secret-before-rotation-0001"})
    world.secret("sse", {"key": "sse-customer-key-0123456789abcdef"})
    world.start_operator(CCLOUD_OPERATOR_LOG_LEVEL="DEBUG")

    spec = pi_spec(world, "secretive")
    spec["cloudCredentialsSecretRef"] = {"name": "cloud-key"}
    spec["aws"]["credentialsSecretRef"] = {"name": "aws-keys"}
    world.create(PI, "secretive", spec)
    sink = sink_spec(
        world,
        "secretive",
        bucket_for("secretive"),
        kafkaAuth={"apiKeySecretRef": {"name": "kafka-key"}},
        cloudCredentialsSecretRef={"name": "cloud-key"},
        sensitiveConfig=[{"key": "s3.sse.customer.key", "secretKeyRef": {"name": "sse", "key": "key"}}],
    )
    world.create(MC, "secretive-sink", sink)
    first = world.wait_condition(MC, "secretive-sink", "Ready", "True", timeout=90)["status"]["appliedConfigHash"]

    # Rotation of the Kafka secret and of the sensitive config value, both pushed to Confluent.
    world.secret("kafka-key", {"api-key": "KAFKAKEYSECRETPATH1", "api-secret": "kafka-secret-after-rotation-0002"})
    world.secret("sse", {"key": "sse-customer-key-fedcba9876543210"})
    world.wait_for(MC, "secretive-sink", lambda o: o["status"].get("appliedConfigHash") != first, "rotation", 30)
    world.wait_condition(MC, "secretive-sink", "Ready", "True", timeout=60)
    # Every place is searched while the connector exists (its status holds the most), and again after
    # its deletion, whose finalizer paths log too.
    before = _places(world)
    world.delete(MC, "secretive-sink")
    world.wait_gone(MC, "secretive-sink")
    after = _places(world)
    assert "DEBUG" in after["operator log"], "the operator did not log at DEBUG"
    assert '"appliedConfigHash"' in before["status"], "the scan before deletion saw no connector status"
    assert "ccloud_operator_external_calls_total{" in before["metrics"], "the scan saw no metric samples"
    texts = {
        f"{where} ({when})": text
        for when, seen in (("before", before), ("after", after))
        for where, text in seen.items()
    }
    values = {
        "Cloud API secret (operator-wide)": cloud.api_secret,
        "Cloud API secret (cloudCredentialsSecretRef)": grant.api_secret,
        "AWS secret access key (credentialsSecretRef)": access["SecretAccessKey"],
        # Not the secret half, but a value of the Secret, which the world's check also covers.
        "AWS access key id (credentialsSecretRef)": access["AccessKeyId"],
        "Kafka API key (apiKeySecretRef)": "KAFKAKEYSECRETPATH1",
        "Kafka API secret (before rotation)": "kafka-secret-before-rotation-0001",
        "Kafka API secret (after rotation)": "kafka-secret-after-rotation-0002",
        "sensitiveConfig value (before rotation)": "sse-customer-key-0123456789abcdef",
        "sensitiveConfig value (after rotation)": "sse-customer-key-fedcba9876543210",
        "Basic auth header (operator-wide key)": f"{cloud.api_key}:{cloud.api_secret}",
        "Basic auth header (per-resource key)": f"{grant.api_key}:{grant.api_secret}",
    }
    hits = [
        f"{what} in {where} ({form})"
        for what, value in values.items()
        for form, needle in _forms(value).items()
        for where, text in texts.items()
        if needle in text
    ]
    assert hits == []


def _places(world: World) -> dict[str, str]:
    """Everything the operator writes where people look: its log, Events, statuses and /metrics."""
    return {
        "operator log": world.operator.log() if world.operator else "",
        "events": "\n".join(f"{e.reason} {e.message}" for e in world.events()),
        "status": json.dumps(
            [
                item.get("status")
                for plural in (PI, MC)
                for item in world.custom.list_namespaced_custom_object(GROUP, VERSION, world.namespace, plural)["items"]
            ]
        ),
        "metrics": world.operator.metrics() if world.operator else "",
    }


def _org(world: World) -> str:
    return str(world.admin.state()["organization_id"])
