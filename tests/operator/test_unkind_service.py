"""The operator against the realistic emulator at its harshest, one behaviour of the real service per test.

Each test turns one of the emulator's realism knobs up (`/_sandbox/realism`, sources in
`ccloud_sandbox/confluent/realism.py`) and checks what the operator did to the real components: the
emulator's request log and state, moto, and the objects through the API server. Durations below are
the emulator's nominal seconds; the world runs at TIME_SCALE (a fiftieth), so 150 nominal is 3 s.
"""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from typing import Any

import httpx

from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI
from ccloud_operator.constants import TRUST_STATEMENT_SID

from harness_support import wait_until
from operator_world import TIME_SCALE, World, condition, s3_role_integration, s3_sink_spec, trust_policy


def nominal(seconds: float) -> float:
    """The realism value that lasts `seconds` in this world."""
    return seconds / TIME_SCALE


def requests(world: World, method: str, path_suffix: str) -> list[dict[str, Any]]:
    return [r for r in world.admin.requests() if r["method"] == method and r["path"].endswith(path_suffix)]


def connectors_url(world: World, suffix: str = "") -> str:
    info = world.info
    return (
        f"{info.url}/connect/v1/environments/{info.environment_id}/clusters/{info.kafka_cluster_id}/connectors{suffix}"
    )


def ready_pair(world: World, name: str, **connector: Any) -> dict[str, Any]:
    """A bucket, an integration on a role the operator creates, and an S3 sink using it, all Ready."""
    world.moto.client("s3").create_bucket(Bucket=name)
    s3_role_integration(world, name, name)
    world.create(MC, f"{name}-sink", s3_sink_spec(world, name, name, **connector))
    return world.wait_condition(MC, f"{name}-sink", "Ready", "True", timeout=90)


def test_an_integration_deleted_outside_under_403_is_registered_again_and_its_id_reaches_the_connector(
    world: World,
) -> None:
    assert world.admin.realism()["missing_resource_status"] == 403
    world.start_operator()
    ready_pair(world, "gone")
    old_id = world.get(PI, "gone")["status"]["integrationId"]
    world.admin.delete_integration(old_id)

    world.wait_event("gone", "IntegrationMissing", timeout=30)
    renewed = world.wait_for(
        PI, "gone", lambda o: o["status"].get("integrationId") not in (None, old_id), "a new integration id"
    )
    new_id = renewed["status"]["integrationId"]
    world.wait_condition(PI, "gone", "Ready", "True", timeout=30)
    sink = world.wait_for(
        MC, "gone-sink", lambda o: o["status"].get("providerIntegrationId") == new_id, "the new id in the connector"
    )
    assert sink["status"]["providerIntegrationId"] == new_id
    # Confluent's reads trail its writes (the emulator's read lag): the PUT shows within moments.
    wait_until(
        lambda: (
            httpx.get(connectors_url(world, "/gone-sink/config"), auth=world.info.basic_auth).json()[
                "provider.integration.id"
            ]
            == new_id
        ),
        "Confluent to show the new integration id in the connector's config",
        timeout=10,
    )
    world.wait_condition(MC, "gone-sink", "Ready", "True", timeout=60)
    assert [i["id"] for i in world.admin.state()["integrations"].values()] == [new_id]


def test_a_provider_integration_whose_integration_is_gone_is_deleted_cleanly(world: World) -> None:
    world.start_operator()
    s3_role_integration(world, "vanished", "vanished")
    integration_id = world.wait_condition(PI, "vanished", "Ready", "True")["status"]["integrationId"]
    world.admin.delete_integration(integration_id)
    read = f"{world.info.url}/pim/v1/integrations/{integration_id}"
    env = {"environment": world.info.environment_id}
    wait_until(lambda: httpx.get(read, params=env, auth=world.info.basic_auth).status_code == 403, "reads see it gone")
    world.admin.clear_requests()
    world.delete(PI, "vanished")
    world.wait_gone(PI, "vanished", timeout=60)
    roles = [r["RoleName"] for r in world.moto.client("iam").list_roles()["Roles"]]
    assert "vanished-role" not in roles
    # Its reads answered 403 (the deletion's, and a validation's that may come first under load); the list
    # confirmed it gone; nothing was created or deleted on the way out.
    reads = [r["status"] for r in requests(world, "GET", f"/pim/v1/integrations/{integration_id}")]
    assert reads and set(reads) == {403}, reads
    assert requests(world, "POST", "/pim/v1/integrations") == []
    assert requests(world, "DELETE", f"/pim/v1/integrations/{integration_id}") == []
    assert world.admin.state()["integrations"] == {}


def test_a_connector_whose_cluster_is_gone_reports_it_and_is_deleted_cleanly(world: World) -> None:
    world.start_operator()
    ready_pair(world, "orphaned")
    world.admin.delete_cluster()
    obj = world.wait_condition(MC, "orphaned-sink", "Ready", "False", reason="ClusterNotFound", timeout=30)
    assert world.info.kafka_cluster_id in condition(obj, "Ready")["message"]
    world.delete(MC, "orphaned-sink")
    world.wait_gone(MC, "orphaned-sink", timeout=60)
    event = world.wait_event("orphaned-sink", "ClusterGone")
    assert "counts as deleted" in event.message


def test_list_lag_makes_no_second_create_and_no_takeover_of_a_connector_made_meanwhile(world: World) -> None:
    # Reads trail writes by 8 s, longer than the first poll (5 s), within the create-pending grace.
    world.admin.set_realism(read_lag_seconds=nominal(8))
    world.start_operator(CCLOUD_OPERATOR_CREATE_PENDING_GRACE="30")
    ready_pair(world, "lagged")
    creates = requests(world, "POST", "/connectors")
    assert [r["status"] for r in creates] == [201], creates
    assert [c["name"] for c in world.admin.state()["connectors"].values()] == ["lagged-sink"]

    # Someone creates a connector in the console; a ManagedConnector of the same name is applied at once,
    # while Confluent's list does not show the console's connector yet.
    console = {**s3_sink_spec(world, "lagged", "lagged")["config"], "flush.size": "7", "name": "console-made"}
    integration_id = world.get(PI, "lagged")["status"]["integrationId"]
    console.update(
        {
            "connector.class": "S3_SINK",
            "kafka.auth.mode": "SERVICE_ACCOUNT",
            "kafka.service.account.id": world.info.service_account_id,
            "authentication.method": "IAM Roles",
            "provider.integration.id": integration_id,
        }
    )
    made = httpx.post(
        connectors_url(world), json={"name": "console-made", "config": console}, auth=world.info.basic_auth
    )
    assert made.status_code == 201, made.text
    world.create(MC, "intruder", s3_sink_spec(world, "lagged", "lagged", connectorName="console-made"))
    obj = world.wait_condition(MC, "intruder", "Ready", "False", reason="AlreadyExists", timeout=30)
    assert "console-made" in condition(obj, "Ready")["message"]
    assert requests(world, "PUT", "/console-made/config") == []
    world.delete(MC, "intruder")
    world.wait_gone(MC, "intruder")
    assert requests(world, "DELETE", "/connectors/console-made") == []
    shown = wait_until(
        lambda: (
            (r := httpx.get(connectors_url(world, "/console-made/config"), auth=world.info.basic_auth)).is_success
            and r.json()
        ),
        "the console's connector listed",
    )
    assert shown["flush.size"] == "7"


def test_a_deleted_connector_gets_one_delete_while_it_lingers(world: World) -> None:
    world.admin.set_realism(delete_linger_seconds=nominal(8))
    world.start_operator()
    ready_pair(world, "lingering")
    # From now on reads trail writes by 5 s: after the DELETE, the list still shows the connector running
    # at the first deletion polls, and the DELETE must not be sent again for that.
    world.admin.set_realism(read_lag_seconds=nominal(5))
    world.admin.clear_requests()
    deleted_at = time.monotonic()
    world.delete(MC, "lingering-sink")
    world.wait_gone(MC, "lingering-sink", timeout=60)
    took = time.monotonic() - deleted_at
    assert took >= 7, f"the finalizer let go after {took:.1f}s, before Confluent stopped listing the connector"
    deletes = requests(world, "DELETE", "/connectors/lingering-sink")
    assert [r["status"] for r in deletes] == [200], deletes
    polls = requests(world, "GET", "/connectors")
    assert len(polls) <= 8, f"{len(polls)} list calls while waiting {took:.0f}s: the polls do not back off"


def test_polls_back_off_and_share_one_list_while_connectors_provision(world: World) -> None:
    world.admin.set_realism(provisioning_seconds=nominal(30))
    world.start_operator()
    world.moto.client("s3").create_bucket(Bucket="slow")
    s3_role_integration(world, "slow", "slow")
    world.wait_condition(PI, "slow", "Ready", "True")
    names = ["slow-a", "slow-b", "slow-c"]
    for name in names:
        world.create(MC, name, s3_sink_spec(world, "slow", "slow"))
    for name in names:
        world.wait_condition(MC, name, "Ready", "True", timeout=120)
    creates = requests(world, "POST", "/connectors")
    assert len(creates) == 3, [(r["time"], r["path"], r["status"]) for r in creates]
    last_create = max(r["arrived"] for r in creates)
    lists = [r["arrived"] for r in requests(world, "GET", "/connectors") if r["arrived"] > last_create]
    # Three connectors polling through 30 s of provisioning: polls at about 5, 15 and 35 s, each round
    # served by one list for all three (a read right after each create aside).
    assert len(lists) <= 8, lists
    stamps = sorted(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in lists)
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps) if later - earlier >= 2]
    assert max(gaps) >= 15, f"the polls never backed off past 15 s: gaps {gaps}"


def test_a_connector_created_paused_is_paused_once_running_and_a_failed_one_is_not_paused(world: World) -> None:
    world.admin.set_realism(provisioning_seconds=nominal(3))
    world.start_operator()
    obj = ready_pair(world, "dormant", state="Paused")
    assert condition(obj, "Ready")["reason"] == "Paused" and obj["status"]["state"] == "PAUSED"
    # The emulator ignores a pause sent while PROVISIONING, so one pause that worked was sent while RUNNING.
    assert [r["status"] for r in requests(world, "PUT", "/dormant-sink/pause")] == [202]

    world.patch(MC, "dormant-sink", {"spec": {"state": "Running"}})
    world.wait_condition(MC, "dormant-sink", "Ready", "True", reason="Available", timeout=60)
    world.admin.fail_connector("dormant-sink", "java.lang.IllegalStateException: disk on fire")
    world.wait_condition(MC, "dormant-sink", "Ready", "False", reason="Failed", timeout=30)
    world.admin.clear_requests()
    world.patch(MC, "dormant-sink", {"spec": {"state": "Paused"}})
    # Three resyncs later (one list per resync interval), still no pause: FAILED cannot be paused.
    wait_until(lambda: len(requests(world, "GET", "/connectors")) >= 4, "three resyncs", timeout=30)
    assert requests(world, "PUT", "/dormant-sink/pause") == []
    assert condition(world.get(MC, "dormant-sink"), "Ready")["reason"] == "Failed"


def test_a_connector_failing_on_iam_propagation_runs_again_without_user_action(world: World) -> None:
    world.admin.set_realism(iam_propagation_seconds=nominal(8), provisioning_seconds=nominal(1))
    # No resync within the test: after its restart the connector is polled until it runs again.
    world.start_operator(CCLOUD_OPERATOR_RESYNC_INTERVAL="600")
    obj = ready_pair(world, "fresh")
    assert obj["spec"].get("restartPolicy") is None  # the default, Never
    event = world.wait_event("fresh-sink", "ConnectorRestarted")
    assert "AWS access error" in event.message
    restarts = requests(world, "POST", "/fresh-sink/restart")
    assert restarts, "the connector never failed on the new role: propagation was not hit"
    assert obj["status"]["state"] == "RUNNING"


def test_a_role_registered_by_terraform_is_reported_and_never_registered_again(world: World) -> None:
    iam = world.moto.client("iam")
    ec2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role_arn = iam.create_role(
        RoleName="terraformed", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ec2]})
    )["Role"]["Arn"]
    registered = world.admin.register_integration(role_arn, provider="aws", display_name="made-by-terraform")
    world.start_operator()
    world.create(PI, "terraformed", {"environment": world.info.environment_id, "aws": {"roleArn": role_arn}})
    obj = world.wait_condition(PI, "terraformed", "Ready", "False", reason="AlreadyExists", timeout=30)
    assert registered["id"] in condition(obj, "Ready")["message"]
    world.wait_event("terraformed", "AlreadyExists")
    assert condition(obj, "Synced")["reason"] == "ReconcileError"
    # The lookup found it (the list's provider filter would have hidden "aws"): no create was even tried.
    assert requests(world, "GET", "/pim/v1/integrations")
    assert requests(world, "POST", "/pim/v1/integrations") == []
    assert "integrationId" not in obj["status"]
    world.delete(PI, "terraformed")
    world.wait_gone(PI, "terraformed")
    assert registered["id"] in world.admin.state()["integrations"]
    assert len(trust_policy(world.moto, "terraformed")["Statement"]) == 1  # never touched


def test_the_dynamodb_preset_grants_what_the_cdc_source_really_needs(world: World) -> None:
    dynamodb = world.moto.client("dynamodb")
    dynamodb.create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    world.start_operator()
    world.create(
        PI,
        "cdc",
        {
            "environment": world.info.environment_id,
            "aws": {"createRole": {"roleName": "cdc-role"}, "permissions": {"dynamodbTables": ["events"]}},
        },
    )
    world.wait_condition(PI, "cdc", "Ready", "True")
    world.create(
        MC,
        "events-cdc",
        {
            "environment": world.info.environment_id,
            "kafkaCluster": world.info.kafka_cluster_id,
            "connectorClass": "DynamoDbCdcSource",
            "providerIntegrationRef": {"name": "cdc"},
            "kafkaAuth": {"serviceAccountId": world.info.service_account_id},
            "config": {
                "dynamodb.service.endpoint": "dynamodb.us-east-1.amazonaws.com",
                "dynamodb.table.includelist": "events",
                "output.data.format": "PROTOBUF",
            },
        },
    )
    obj = world.wait_condition(MC, "events-cdc", "Ready", "True", timeout=90)
    assert obj["status"]["state"] == "RUNNING"
    assert requests(world, "POST", "/events-cdc/restart") == [], "the preset lacked something the connector needs"


def test_an_existing_role_keeps_its_only_statement_and_its_policies_are_read_across_pages(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="paged")
    iam = world.moto.client("iam")
    ec2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role_arn = iam.create_role(
        RoleName="paged", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [ec2]})
    )["Role"]["Arn"]
    nothing = {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}
    for name in ("a-unrelated", "b-unrelated"):
        iam.put_role_policy(
            RoleName="paged",
            PolicyName=name,
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [nothing]}),
        )
    s3 = {"Version": "2012-10-17", "Statement": []}
    s3["Statement"] = [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::paged", "arn:aws:s3:::paged/*"]},
    ]
    iam.put_role_policy(RoleName="paged", PolicyName="c-s3", PolicyDocument=json.dumps(s3))
    world.start_operator()
    world.create(
        PI,
        "paged",
        {
            "environment": world.info.environment_id,
            "aws": {"roleArn": role_arn, "permissions": {"s3Buckets": ["paged"]}},
        },
    )
    obj = world.wait_condition(PI, "paged", "Ready", "True")
    # moto answers one policy name per page here (as IAM may): the S3 grant is on the third page.
    assert obj["status"]["validation"]["permissions"]["result"] == "Passed"

    # Someone leaves only Confluent's statement in the trust policy; deleting must not write it empty.
    document = trust_policy(world.moto, "paged")
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") == TRUST_STATEMENT_SID]
    iam.update_assume_role_policy(RoleName="paged", PolicyDocument=json.dumps(document))
    world.delete(PI, "paged")
    world.wait_gone(PI, "paged")
    event = world.wait_event("paged", "TrustStatementKept")
    assert "empty" in event.message
    assert [s.get("Sid") for s in trust_policy(world.moto, "paged")["Statement"]] == [TRUST_STATEMENT_SID]


def test_an_integration_used_outside_kubernetes_blocks_deletion_until_confluent_lets_go(world: World) -> None:
    world.admin.set_realism(delete_linger_seconds=nominal(3))
    world.start_operator()
    world.moto.client("s3").create_bucket(Bucket="shared")
    s3_role_integration(world, "shared", "shared")
    integration_id = world.wait_condition(PI, "shared", "Ready", "True")["status"]["integrationId"]
    config = {
        **s3_sink_spec(world, "shared", "shared")["config"],
        "name": "console-sink",
        "connector.class": "S3_SINK",
        "kafka.auth.mode": "SERVICE_ACCOUNT",
        "kafka.service.account.id": world.info.service_account_id,
        "authentication.method": "IAM Roles",
        "provider.integration.id": integration_id,
    }
    made = httpx.post(
        connectors_url(world), json={"name": "console-sink", "config": config}, auth=world.info.basic_auth
    )
    assert made.status_code == 201, made.text
    wait_until(
        lambda: any(
            u.endswith("/connector=console-sink") for u in world.admin.state()["integrations"][integration_id]["usages"]
        ),
        "the console connector among the usages",
    )
    world.delete(PI, "shared")
    event = world.wait_event("shared", "DeletionBlocked", timeout=30)
    assert "console-sink" in event.message
    assert world.get(PI, "shared") is not None
    httpx.delete(connectors_url(world, "/console-sink"), auth=world.info.basic_auth).raise_for_status()
    world.wait_gone(PI, "shared", timeout=60)
    assert world.admin.state()["integrations"] == {}
