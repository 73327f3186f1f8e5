"""More than one operator process on the real API server: replicas that hand over a Lease, and shards.

Two replicas: one holds the Lease and reconciles, the other stands by (alive, not reconciling);
SIGKILL the leader in the middle of an apply and the standby finishes the work once the Lease
expires, without a second create of anything. Shards: every object is reconciled by exactly one
shard, and when the shard count changes, a namespace that moves to another shard is picked up by
its new owner, again without a duplicate.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import Counter
from typing import Any

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI
from ccloud_operator.sharding import shard_of
from ccloud_sandbox.operator_process import OperatorProcess

from harness_support import wait_until
from operator_world import World, s3_role_integration, s3_sink_spec

LEASE_SECONDS = 6
RENEW_SECONDS = 2
#: The standby finishes the dead leader's work (every create) within this long after its Lease expires.
TAKEOVER_BUDGET_SECONDS = 20


def metric(process: OperatorProcess, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(process.metrics()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def election_env(world: World, **extra: str) -> dict[str, str]:
    return {
        "CCLOUD_OPERATOR_LEADER_ELECTION": "true",
        "CCLOUD_OPERATOR_LEADER_ELECTION_NAMESPACE": world.namespace,
        "CCLOUD_OPERATOR_LEASE_DURATION": str(LEASE_SECONDS),
        "CCLOUD_OPERATOR_LEASE_RENEW_INTERVAL": str(RENEW_SECONDS),
        **extra,
    }


def another_operator(world: World, label: str, args: list[str], env: dict[str, str]) -> OperatorProcess:
    """One more operator process against the same world (world.start_operator keeps only one)."""
    return OperatorProcess(
        kubeconfig=world.kubeconfig,
        log_path=world.log_dir / f"operator-{label}.log",
        args=args,
        env=world.operator_env(**env),
    ).start()


def lease(world: World, name: str) -> client.V1Lease:
    found: client.V1Lease = client.CoordinationV1Api(world.api).read_namespaced_lease(name, world.namespace)
    return found


def successful_creates(world: World) -> Counter[str]:
    """Creates the emulator answered 201, by collection, and the connectors it holds, by name.

    No duplicate means: one 201 per connector that exists, each name held once, one per integration.
    """
    created: Counter[str] = Counter()
    for request in world.admin.requests():
        if request["method"] == "POST" and request["status"] == 201:
            created["connector creates" if request["path"].endswith("/connectors") else "integration creates"] += 1
    for connector in world.admin.state()["connectors"].values():
        created[f"connector:{connector['name']}"] += 1
    return created


def test_the_standby_takes_over_when_the_leader_is_killed_mid_apply(world: World) -> None:
    leader = world.start_operator(**election_env(world))
    wait_until(lambda: metric(leader, "ccloud_operator_leader") == 1, "the first replica to lead")
    standby = another_operator(world, "standby", ["--namespace", world.namespace], election_env(world))
    # Alive (its /healthz answered, or start() would have failed) and not leading.
    time.sleep(RENEW_SECONDS * 2)
    assert metric(standby, "ccloud_operator_leader") == 0
    holder = lease(world, "ccloud-operator").spec.holder_identity
    assert holder and lease(world, "ccloud-operator").spec.holder_identity == holder

    world.moto.client("s3").create_bucket(Bucket="handover")
    s3_role_integration(world, "handover", "handover")
    connectors = [f"handover-{i}" for i in range(6)]
    for name in connectors:
        world.create(MC, name, s3_sink_spec(world, "handover", "handover"))
    # Mid-apply: the integration exists and the connectors are being created.
    wait_until(
        lambda: successful_creates(world)["connector creates"] > 0,
        "the leader to create a first connector",
        timeout=90,
    )
    leader.kill()
    killed_at = time.monotonic()
    world.operator = standby  # teardown deletes through the survivor and scans its log

    expiry = killed_at + LEASE_SECONDS
    # The standby's own work: every connector the dead leader had not created yet is created.
    wait_until(
        lambda: successful_creates(world)["connector creates"] == len(connectors),
        "the standby to create the remaining connectors",
        timeout=LEASE_SECONDS + TAKEOVER_BUDGET_SECONDS + 10,
    )
    created_after_expiry = time.monotonic() - expiry
    assert created_after_expiry <= TAKEOVER_BUDGET_SECONDS, f"created {created_after_expiry:.1f}s after expiry"
    # Then Confluent provisions (2.4 s at this time scale) and the standby's polls see them RUNNING;
    # the polls back off (5 s, 10 s, ...), so Ready is bounded looser than the standby's own work.
    for name in connectors:
        world.wait_condition(MC, name, "Ready", "True", timeout=60)
    world.wait_condition(PI, "handover", "Ready", "True", timeout=5)
    ready_after_expiry = time.monotonic() - expiry

    taken = lease(world, "ccloud-operator").spec
    assert taken.holder_identity != holder and taken.lease_transitions == 1
    assert metric(standby, "ccloud_operator_leader") == 1
    created = successful_creates(world)
    assert created == Counter(
        {"integration creates": 1, "connector creates": 6, **{f"connector:{name}": 1 for name in connectors}}
    ), created
    print(
        f"after the dead leader's Lease expired: all created in {created_after_expiry:.1f}s,"
        f" all Ready in {ready_after_expiry:.1f}s"
    )


def test_a_stopped_leader_hands_its_lease_over_at_once(world: World) -> None:
    leader = world.start_operator(**election_env(world, CCLOUD_OPERATOR_LEASE_DURATION="60"))
    wait_until(lambda: metric(leader, "ccloud_operator_leader") == 1, "the first replica to lead")
    standby = another_operator(
        world, "standby", ["--namespace", world.namespace], election_env(world, CCLOUD_OPERATOR_LEASE_DURATION="60")
    )
    assert leader.stop() == 0
    stopped_at = time.monotonic()
    world.operator = standby
    # Far sooner than the 60 s Lease: the leader released it on SIGTERM.
    wait_until(lambda: metric(standby, "ccloud_operator_leader") == 1, "the standby to lead", timeout=15)
    assert time.monotonic() - stopped_at < 15
    world.moto.client("s3").create_bucket(Bucket="released")
    s3_role_integration(world, "released", "released")
    world.wait_condition(PI, "released", "Ready", "True", timeout=60)
    assert "Released the Lease" in world.log_dir.joinpath("operator.log").read_text()


# -- shards --------------------------------------------------------------------------------------


def namespaces_for_resharding(prefix: str) -> tuple[str, str]:
    """Two namespace names: one that stays on shard 0 when 2 shards become 3, one that moves from
    shard 1 of 2 to shard 2 of 3 (a shard that did not exist before)."""
    staying = moving = None
    for i in range(1000):
        name = f"{prefix}-{i}"
        if staying is None and shard_of(name, 2) == 0 and shard_of(name, 3) == 0:
            staying = name
        if moving is None and shard_of(name, 2) == 1 and shard_of(name, 3) == 2:
            moving = name
        if staying and moving:
            return staying, moving
    raise AssertionError("no namespace names with the wanted shards")


def start_shards(world: World, count: int, namespaces: list[str], label: str) -> list[OperatorProcess]:
    args = [arg for namespace in namespaces for arg in ("--namespace", namespace)]
    return [
        another_operator(
            world,
            f"{label}-{index}-of-{count}",
            args,
            election_env(world, CCLOUD_OPERATOR_SHARD_INDEX=str(index), CCLOUD_OPERATOR_SHARD_COUNT=str(count)),
        )
        for index in range(count)
    ]


def ready_objects(process: OperatorProcess) -> float:
    return metric(process, "ccloud_operator_resources", ready="true")


def test_every_object_has_one_shard_and_a_moved_namespace_is_picked_up_without_a_duplicate(world: World) -> None:
    core = client.CoreV1Api(world.api)
    staying, moving = namespaces_for_resharding(f"shard-{uuid.uuid4().hex[:6]}")
    worlds: dict[str, World] = {}
    for namespace in (staying, moving):
        core.create_namespace(
            client.V1Namespace(
                metadata=client.V1ObjectMeta(name=namespace, labels={"ccloud-operator.test/harness": "true"})
            )
        )
        worlds[namespace] = dataclasses.replace(world, namespace=namespace)
    shards: list[OperatorProcess] = []
    try:
        shards = start_shards(world, 2, [staying, moving], "before")
        for namespace, there in worlds.items():
            world.moto.client("s3").create_bucket(Bucket=namespace)
            # Roles live in one AWS account: one name per namespace.
            s3_role_integration(there, f"archive-{namespace}", namespace)
            there.create(MC, f"sink-{namespace}", s3_sink_spec(there, f"archive-{namespace}", namespace))
        for namespace, there in worlds.items():
            there.operator = shards[shard_of(namespace, 2)]
            there.wait_condition(MC, f"sink-{namespace}", "Ready", "True", timeout=120)
            there.wait_condition(PI, f"archive-{namespace}", "Ready", "True", timeout=30)
        # Each shard holds what its namespace's hash gives it, and nothing else: 2 objects each.
        assert [ready_objects(shard) for shard in shards] == [2, 2]
        holders = {lease(world, f"ccloud-operator-shard-{i}").spec.holder_identity for i in range(2)}
        assert len(holders) == 2 and None not in holders, holders

        for shard in shards:
            assert shard.stop() == 0
        shards = start_shards(world, 3, [staying, moving], "after")
        there = worlds[moving]
        there.operator = shards[2]
        there.patch(MC, f"sink-{moving}", {"spec": {"config": {"flush.size": "2000"}}})

        def applied() -> bool:
            found: list[dict[str, Any]] = [
                c for c in world.admin.state()["connectors"].values() if c["name"] == f"sink-{moving}"
            ]
            return bool(found) and found[0]["config"].get("flush.size") == "2000"

        wait_until(applied, "the moved namespace's new shard to apply the change", timeout=60)
        wait_until(lambda: [ready_objects(shard) for shard in shards] == [2, 0, 2], "each object on one shard")
        created = successful_creates(world)
        assert created == Counter(
            {
                "integration creates": 2,
                "connector creates": 2,
                f"connector:sink-{staying}": 1,
                f"connector:sink-{moving}": 1,
            }
        ), created
    finally:
        for there in worlds.values():
            owner = [s for s in shards if s.running()]
            there.operator = owner[0] if owner else None
            there.delete_everything(timeout=60 if owner else 0)
        for shard in shards:
            shard.stop()
        for namespace in worlds:
            core.delete_namespace(namespace, propagation_policy="Background")
        world.operator = None
