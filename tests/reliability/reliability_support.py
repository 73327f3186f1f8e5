"""Specs, kill loops and end-state checks shared by the reliability tests (and benchmarks/crash_soak.py).

Every check reads the real components: the emulator's state over its admin API, moto over boto3, the
objects through the API server.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ccloud_operator.constants import MANAGED_BY_TAG
from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from operator_world import World, condition, s3_sink_spec

#: Where a kill lands after the operator is healthy: early in a pass, or well into one.
KILL_DELAY_RANGE = (0.05, 1.5)
#: How long the emulator holds its answer to a create in a "lost response" cycle: long enough that
#: most kills land between the create and its answer.
LOST_RESPONSE_DELAY_MS = 1500
#: Settling after the last restart can include the create-pending grace period (5 s in the test
#: world, CCLOUD_OPERATOR_CREATE_PENDING_GRACE) when a kill landed between the marker and the create
#: call, plus kopf's retry delays.
CONVERGE_TIMEOUT = 150.0


def bucket_for(name: str) -> str:
    return f"{name}-bucket"


def pi_spec(world: World, name: str, buckets: Iterable[str] | None = None) -> dict[str, Any]:
    """A ProviderIntegration whose role the operator creates (the path with the most AWS writes)."""
    return {
        "environment": world.info.environment_id,
        "aws": {
            "createRole": {"roleName": f"{name}-role"},
            "permissions": {"s3Buckets": list(buckets if buckets is not None else [bucket_for(name)])},
        },
    }


def sink_spec(world: World, integration: str, bucket: str, *, flush_size: str = "1000", **extra: Any) -> dict[str, Any]:
    """An S3 sink through a ProviderIntegration, as in the operator tests, with its flush size."""
    spec = s3_sink_spec(world, integration, bucket, **extra)
    spec["config"]["flush.size"] = flush_size
    return spec


def create_pair(world: World, name: str) -> None:
    """A bucket, a ProviderIntegration `name` and a connector `name`-sink writing to the bucket."""
    world.moto.client("s3").create_bucket(Bucket=bucket_for(name))
    world.create(PI, name, pi_spec(world, name))
    world.create(MC, f"{name}-sink", sink_spec(world, name, bucket_for(name)))


def is_ready(obj: dict[str, Any]) -> bool:
    found = condition(obj, "Ready")
    return bool(found and found["status"] == "True")


def operator_roles(world: World) -> list[str]:
    """Names of the IAM roles in moto that carry the operator's managed-by tag."""
    iam = world.moto.client("iam")
    names = []
    for role in iam.list_roles()["Roles"]:
        tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
        if any(tag["Key"] == MANAGED_BY_TAG for tag in tags):
            names.append(role["RoleName"])
    return sorted(names)


def duplicates(world: World) -> list[str]:
    """Role ARNs registered more than once, and connector names held more than once, in the emulator."""
    state = world.admin.state()
    by_role = Counter(i["customer_iam_role_arn"] for i in state["integrations"].values())
    by_name = Counter(c["name"] for c in state["connectors"].values())
    return [f"integration for {arn} x{n}" for arn, n in by_role.items() if n > 1] + [
        f"connector {name} x{n}" for name, n in by_name.items() if n > 1
    ]


@dataclass
class CrashLog:
    """What a kill loop did, for failure messages and the soak report."""

    seed: int
    cycles: int = 0
    lost_response_cycles: int = 0
    delays: list[float] = field(default_factory=list)
    #: When each kill landed (the emulator's clock and format: RFC 3339 UTC, milliseconds).
    kills: list[str] = field(default_factory=list)
    #: Kills that landed while the emulator was working on a write of the operator's (or holding its answer).
    writes_in_flight: int = 0

    def __str__(self) -> str:
        return (
            f"seed={self.seed} cycles={self.cycles} lost-response cycles={self.lost_response_cycles} "
            f"kills with a write in flight={self.writes_in_flight} kill delays={[round(d, 2) for d in self.delays]}"
        )


def _write_in_flight(requests: list[dict[str, Any]], at: str) -> bool:
    """Whether a write had arrived at the emulator and was not answered yet at `at`."""
    return any(
        r["method"] in ("POST", "PUT", "DELETE") and r["arrived"] <= at and (r["time"] is None or r["time"] > at)
        for r in requests
    )


def _wait_for_unanswered_write(world: World, timeout: float) -> None:
    """Return once a write is at the emulator and unanswered (or at the timeout: the kill lands anyway)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["method"] in ("POST", "PUT", "DELETE") and r["time"] is None for r in world.admin.requests()):
            return
        time.sleep(0.05)


def kill_loop(
    world: World,
    rng: random.Random,
    log: CrashLog,
    cycles: int,
    *,
    before_cycle: Callable[[int], None] | None = None,
    lost_response_share: float = 0.3,
    aim_at_writes: Collection[int] = (),
    **env: str,
) -> None:
    """Start the operator, let it work a random while, SIGKILL it; `cycles` times.

    `before_cycle(i)` runs with the operator up, right after it is healthy, so changes made there are
    in flight when the kill lands. In a share of the cycles the emulator answers writes late (creates,
    config updates, deletes: the change is made at once), so a kill falls between a write and its
    answer. In the cycles listed in `aim_at_writes` the answers are held and the kill waits for a write
    the emulator has not answered yet (random moments alone may miss the few writes a delete makes).
    Before each kill the emulator's state is checked (never a duplicate, at any moment);
    `kill()` raises if the operator is not running; the log counts kills with a write in flight.
    """
    for cycle in range(cycles):
        aimed = cycle in aim_at_writes
        lost_response = rng.random() < lost_response_share or aimed
        if lost_response:
            held = {"response_delay_ms": LOST_RESPONSE_DELAY_MS}
            world.admin.set_faults(
                rules=[
                    {"path": "*/integrations", "methods": ["POST"], **held},
                    {"path": "*/connectors", "methods": ["POST"], **held},
                    {"path": "*/connectors/*/config", "methods": ["PUT"], **held},
                    {"path": "*/connectors/*", "methods": ["DELETE"], **held},
                    {"path": "/pim/v1/integrations/*", "methods": ["DELETE"], **held},
                ]
            )
            log.lost_response_cycles += 1
        operator = world.start_operator(**env)
        if before_cycle is not None:
            before_cycle(cycle)
        delay = rng.uniform(*KILL_DELAY_RANGE)
        log.delays.append(delay)
        if aimed:
            _wait_for_unanswered_write(world, timeout=max(delay, 20.0))
        else:
            time.sleep(delay)  # the random kill moment itself, not a wait for an outcome
        assert duplicates(world) == [], f"a duplicate before kill {cycle + 1}; {log}"
        operator.kill()
        log.kills.append(datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        if lost_response:
            world.admin.clear_faults()
        log.cycles += 1
    requests = world.admin.requests()
    log.writes_in_flight = sum(1 for at in log.kills if _write_in_flight(requests, at))


def wait_all(
    world: World, names: dict[str, list[str]], check: Callable[[dict[str, Any] | None], bool], what: str, log: Any
) -> None:
    """Poll until `check` holds for every named object; fail with the ones that do not, and the seed."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    pending: list[str] = []
    while time.monotonic() < deadline:
        pending = [
            f"{plural}/{name}"
            for plural, items in names.items()
            for name in items
            if not check(world.get(plural, name))
        ]
        if not pending:
            return
        time.sleep(0.5)
    statuses = {item: (world.get(*item.split("/")) or {}).get("status") for item in pending[:4]}
    log_tail = world.operator.log()[-3000:] if world.operator else ""
    raise AssertionError(
        f"not {what} after {CONVERGE_TIMEOUT:.0f}s: {pending}; {log}\nstatuses: {statuses}\n{log_tail}"
    )
