"""ManagedConnector paths each tested once: a Secret without the key, the read after its own create, the
states between (Degraded, Pausing, Resuming), Orphan, and a Confluent name other than the object's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ccloud_operator.constants import MANAGED_CONNECTORS as MC

from operator_world import TIME_SCALE, World, condition, s3_role_integration, s3_sink_spec


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def requests(world: World, method: str, suffix: str) -> list[dict[str, Any]]:
    return [r for r in world.admin.requests() if r["method"] == method and r["path"].endswith(suffix)]


def test_a_secret_without_the_named_key_is_reported_and_nothing_is_sent(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="keyless")
    world.start_operator()
    s3_role_integration(world, "keyless", "keyless")
    world.secret("kafka", {"api-key": "KAFKAKEYKEYLESS01"})  # no api-secret
    world.create(
        MC, "keyless-sink", s3_sink_spec(world, "keyless", "keyless", kafkaAuth={"apiKeySecretRef": {"name": "kafka"}})
    )
    obj = world.wait_condition(MC, "keyless-sink", "Ready", "False", reason="CredentialsNotFound", timeout=60)
    assert f"Secret {world.namespace}/kafka has no key api-secret" in condition(obj, "Ready")["message"]
    assert requests(world, "POST", "/connectors") == []


def test_a_connector_under_another_name_is_read_right_after_its_create_and_orphaned_on_delete(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="renamed")
    world.start_operator()
    s3_role_integration(world, "renamed", "renamed")
    spec = s3_sink_spec(world, "renamed", "renamed", connectorName="orders-archive.v2", deletionPolicy="Orphan")
    world.create(MC, "renamed-sink", spec)
    obj = world.wait_condition(MC, "renamed-sink", "Ready", "True", timeout=90)
    assert obj["status"]["connectorName"] == "orders-archive.v2"
    assert [c["name"] for c in world.admin.state()["connectors"].values()] == ["orders-archive.v2"]
    # The pass that created it read the cluster's list again at once (a fresh read, not a cached one).
    create = requests(world, "POST", "/connectors")[0]
    reads = [at(r["arrived"]) for r in requests(world, "GET", "/connectors") if r["arrived"] >= create["time"]]
    assert reads and reads[0] - at(create["time"]) < 1.0, (create, reads[:2])

    world.delete(MC, "renamed-sink")
    world.wait_gone(MC, "renamed-sink")
    world.wait_event("renamed-sink", "Orphaned")
    assert requests(world, "DELETE", "/connectors/orders-archive.v2") == []
    assert [c["name"] for c in world.admin.state()["connectors"].values()] == ["orders-archive.v2"]


def test_degraded_pausing_and_resuming_show_while_confluent_works(world: World) -> None:
    # Pause and resume take 8 s here, so the states between can be seen.
    world.admin.set_realism(pause_resume_seconds=8 / TIME_SCALE)
    world.moto.client("s3").create_bucket(Bucket="between")
    world.start_operator()
    s3_role_integration(world, "between", "between")
    spec = s3_sink_spec(world, "between", "between")
    spec["config"]["tasks.max"] = "2"
    world.create(MC, "between-sink", spec)
    world.wait_condition(MC, "between-sink", "Ready", "True", timeout=90)

    world.admin.fail_connector("between-sink", "org.apache.kafka.connect.errors.ConnectException: task 1 lost", task=1)
    degraded = world.wait_condition(MC, "between-sink", "Ready", "False", reason="Degraded", timeout=30)
    assert degraded["status"]["tasksReady"] == "1/2" and "task 1 lost" in condition(degraded, "Ready")["message"]

    world.admin.patch_connector_config("between-sink", {"tasks.max": "2"})  # a restart in Confluent heals it
    world.wait_condition(MC, "between-sink", "Ready", "True", timeout=60)
    world.patch(MC, "between-sink", {"spec": {"state": "Paused"}})
    world.wait_condition(MC, "between-sink", "Ready", "False", reason="Pausing", timeout=30)
    world.wait_condition(MC, "between-sink", "Ready", "True", reason="Paused", timeout=60)
    world.patch(MC, "between-sink", {"spec": {"state": "Running"}})
    world.wait_condition(MC, "between-sink", "Ready", "False", reason="Resuming", timeout=30)
    world.wait_condition(MC, "between-sink", "Ready", "True", reason="Available", timeout=60)
    assert [r["status"] for r in requests(world, "PUT", "/between-sink/pause")] == [202]
    assert [r["status"] for r in requests(world, "PUT", "/between-sink/resume")] == [202]
