"""Crash consistency: SIGKILL the operator at random moments during create, update and delete.

Each test runs a seeded kill loop (the seed is in every failure message; set
CCLOUD_RELIABILITY_SEED to replay one), restarts the operator a last time and checks the end state in
the real components: everything Ready (or gone), one integration per role ARN and one connector per
name in the emulator, no integration, connector or operator-made IAM role left after deletes.
"""

from __future__ import annotations

import json
import os
import random

from reliability_support import (
    CrashLog,
    bucket_for,
    create_pair,
    duplicates,
    is_ready,
    kill_loop,
    operator_roles,
    pi_spec,
    sink_spec,
    wait_all,
)

from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PERMISSION_POLICY_NAME
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from harness_support import wait_until
from operator_world import TIME_SCALE, World, marker_cleared

#: 20 + 16 + 16 = 52 kill/restart cycles per run of the suite.
CREATE_CYCLES = 20
UPDATE_CYCLES = 16
DELETE_CYCLES = 16
#: At least this many kills of each loop land while the emulator holds a write of the operator's
#: (seeded: about a third of the cycles hold every write's answer for 1.5 s).
KILLS_WITH_A_WRITE_IN_FLIGHT = 3


def seed_for(test: str) -> int:
    """A fixed seed per test, or the one to replay from the environment."""
    configured = os.environ.get("CCLOUD_RELIABILITY_SEED")
    return int(configured) if configured else sum(map(ord, test)) * 7919


def test_random_kills_during_creates_make_no_duplicates(world: World) -> None:
    log = CrashLog(seed_for("create"))
    rng = random.Random(log.seed)
    names = [f"c{i}" for i in range(4)]
    created: list[str] = []

    def create_some(cycle: int) -> None:
        # Two pairs before the first kill, the rest while earlier ones are mid-flight.
        if cycle in (0, 3, 7) and len(created) < len(names):
            for name in names[len(created) : len(created) + (2 if cycle == 0 else 1)]:
                create_pair(world, name)
                created.append(name)

    # The creates start in cycles 0, 3 and 7; aim those kills (and one more) at a held write.
    kill_loop(world, rng, log, CREATE_CYCLES, before_cycle=create_some, aim_at_writes=(0, 1, 3, 7))
    assert log.writes_in_flight >= KILLS_WITH_A_WRITE_IN_FLIGHT, log
    assert created == names, log
    world.start_operator()
    expected = {PI: names, MC: [f"{n}-sink" for n in names]}
    wait_all(world, expected, lambda o: o is not None and is_ready(o), "Ready", log)

    assert duplicates(world) == [], log
    state = world.admin.state()
    assert len(state["integrations"]) == len(names), (state["integrations"], log)
    assert sorted(c["name"] for c in state["connectors"].values()) == sorted(expected[MC]), log
    for name in names:
        status = world.get(PI, name)["status"]
        assert state["integrations"][status["integrationId"]]["customer_iam_role_arn"] == status["roleArn"], log
        sink = world.get(MC, f"{name}-sink")["status"]
        assert sink["providerIntegrationId"] == status["integrationId"], log
    assert operator_roles(world) == sorted(f"{n}-role" for n in names), log


def test_random_kills_during_updates_converge_to_the_last_spec(world: World) -> None:
    log = CrashLog(seed_for("update"))
    rng = random.Random(log.seed)
    names = ["u0", "u1"]
    world.start_operator()
    for name in names:
        create_pair(world, name)
    for name in names:
        world.wait_condition(MC, f"{name}-sink", "Ready", "True", timeout=90)
    world.operator.kill()  # type: ignore[union-attr]
    extra_buckets = [f"u-extra-{i}" for i in range(UPDATE_CYCLES)]
    for bucket in extra_buckets:
        world.moto.client("s3").create_bucket(Bucket=bucket)
    last: dict[str, tuple[str, list[str]]] = {}

    def change_some(cycle: int) -> None:
        # A config change on a connector and a permission change on an integration, every cycle.
        name = names[cycle % len(names)]
        flush_size = str(1000 + cycle)
        buckets = [bucket_for(name), extra_buckets[cycle]]
        world.patch(MC, f"{name}-sink", {"spec": {"config": {"flush.size": flush_size}}})
        world.patch(PI, name, {"spec": {"aws": {"permissions": {"s3Buckets": buckets}}}})
        last[name] = (flush_size, buckets)

    # Every cycle changes something; aim four kills at a held write, the rest land at random.
    kill_loop(world, rng, log, UPDATE_CYCLES, before_cycle=change_some, aim_at_writes=(1, 5, 9, 13))
    assert log.writes_in_flight >= KILLS_WITH_A_WRITE_IN_FLIGHT, log
    world.start_operator()
    expected = {PI: names, MC: [f"{n}-sink" for n in names]}

    def applied(obj: dict | None) -> bool:  # type: ignore[type-arg]
        return (
            obj is not None
            and is_ready(obj)
            and obj["status"].get("observedGeneration") == obj["metadata"]["generation"]
        )

    wait_all(world, expected, applied, "Ready at their last generation", log)

    assert duplicates(world) == [], log
    state = world.admin.state()
    configs = {c["name"]: c["config"] for c in state["connectors"].values()}
    iam = world.moto.client("iam")
    for name in names:
        flush_size, buckets = last[name]
        assert configs[f"{name}-sink"]["flush.size"] == flush_size, (name, log)
        policy = json.dumps(
            iam.get_role_policy(RoleName=f"{name}-role", PolicyName=PERMISSION_POLICY_NAME)["PolicyDocument"]
        )
        for bucket in buckets:
            assert f"arn:aws:s3:::{bucket}" in policy, (name, bucket, log)
        stale = [b for b in extra_buckets if b not in buckets and f"arn:aws:s3:::{b}/" in policy]
        assert stale == [], (name, log)
    assert len(state["integrations"]) == len(names), log


def test_random_kills_during_deletes_leave_no_orphans(world: World) -> None:
    log = CrashLog(seed_for("delete"))
    rng = random.Random(log.seed)
    names = ["d0", "d1", "d2"]
    world.start_operator()
    for name in names:
        create_pair(world, name)
    for name in names:
        world.wait_condition(MC, f"{name}-sink", "Ready", "True", timeout=90)
    world.operator.kill()  # type: ignore[union-attr]
    assert len(world.admin.state()["integrations"]) == len(names)

    def delete_some(cycle: int) -> None:
        # Connectors first, one per cycle, then their integrations: deletes overlap with kills.
        plan = [(MC, f"{n}-sink") for n in names] + [(PI, n) for n in names]
        if cycle < len(plan):
            world.delete(*plan[cycle])

    # The six deletes happen in the first six cycles; aim four of those kills at a held write.
    kill_loop(world, rng, log, DELETE_CYCLES, before_cycle=delete_some, aim_at_writes=(0, 1, 3, 4))
    assert log.writes_in_flight >= KILLS_WITH_A_WRITE_IN_FLIGHT, log
    world.start_operator()
    expected = {PI: names, MC: [f"{n}-sink" for n in names]}
    wait_all(world, expected, lambda o: o is None, "gone", log)

    state = world.admin.state()
    assert state["integrations"] == {}, (state["integrations"], log)
    assert state["connectors"] == {}, (state["connectors"], log)
    assert operator_roles(world) == [], log


def test_an_adopted_integration_clears_its_create_pending_marker(world: World) -> None:
    # The create's answer is lost (kill while the emulator holds it); the next operator adopts the
    # integration from the list. The marker says "a create may be in flight"; once adopted it is not.
    world.admin.set_faults(rules=[{"path": "/pim/v1/integrations", "methods": ["POST"], "response_delay_ms": 5000}])
    operator = world.start_operator()
    world.create(PI, "adopted", pi_spec(world, "adopted"))
    wait_until(lambda: world.admin.state()["integrations"], "Confluent to store the integration", timeout=30)
    operator.kill()
    world.admin.clear_faults()
    world.start_operator()
    world.wait_condition(PI, "adopted", "Ready", "True")
    world.wait_for(PI, "adopted", marker_cleared, "the create-pending marker cleared", timeout=20)


def test_a_kill_right_after_a_connector_create_is_followed_by_a_conflict_and_an_adoption(world: World) -> None:
    # The connector's create answer is lost (the operator is killed while the emulator holds it), and
    # Confluent's list does not show the connector for a while after: the restarted operator, past its
    # grace, sends the create again, meets the taken name (409 here), and takes the name as its own,
    # because its create-pending marker says an earlier create of its own may have made it.
    world.moto.client("s3").create_bucket(Bucket=bucket_for("named"))
    world.start_operator()
    world.create(PI, "named", pi_spec(world, "named"))
    world.wait_condition(PI, "named", "Ready", "True", timeout=60)
    world.admin.set_realism(read_lag_seconds=25 / TIME_SCALE, duplicate_connector_status="409")
    world.admin.set_faults(rules=[{"path": "*/connectors", "methods": ["POST"], "response_delay_ms": 5000}])
    world.create(MC, "named-sink", sink_spec(world, "named", bucket_for("named")))
    wait_until(lambda: world.admin.state()["connectors"], "Confluent to store the connector", timeout=30)
    assert world.operator is not None and world.operator.running()
    world.operator.kill()
    world.admin.clear_faults()
    world.admin.clear_requests()
    world.start_operator()
    # Reads trail by 25 s here and the adoption re-provisions the connector; polls back off to 60 s.
    world.wait_condition(MC, "named-sink", "Ready", "True", timeout=150)

    requests = world.admin.requests()
    creates = [r for r in requests if r["method"] == "POST" and r["path"].endswith("/connectors")]
    assert [r["status"] for r in creates] == [409], creates
    adoption = [r for r in requests if r["method"] == "PUT" and r["path"].endswith("/named-sink/config")]
    assert adoption and adoption[0]["status"] == 200 and adoption[0]["arrived"] >= creates[0]["time"], adoption
    assert duplicates(world) == []
    assert [c["name"] for c in world.admin.state()["connectors"].values()] == ["named-sink"]
    assert world.get(MC, "named-sink")["status"]["connectorName"] == "named-sink"
