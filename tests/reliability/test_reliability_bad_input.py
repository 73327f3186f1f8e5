"""Bad input: invalid manifests stop at admission; valid-looking but wrong specs get a precise condition.

Invalid manifests are generated (hypothesis, derandomized, a bounded number of examples): a valid spec
with one field broken. The real API server must answer 422 naming that field, and nothing may reach
Confluent or AWS although an operator is running.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client.exceptions import ApiException
from reliability_support import pi_spec

from ccloud_operator.constants import GROUP, VERSION
from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from operator_world import World, condition

EXAMPLES = 40
PRINTABLE = st.text(alphabet=string.printable.strip() + " ", max_size=70)


@dataclass(frozen=True)
class Breakage:
    """One field set to a value the CRD must refuse, and the field path its message must name."""

    plural: str
    path: tuple[str, ...]
    value: Any
    names: str

    def apply(self, spec: dict[str, Any]) -> dict[str, Any]:
        broken = json.loads(json.dumps(spec))
        node = broken
        for key in self.path[:-1]:
            node = node.setdefault(key, {})
        node[self.path[-1]] = self.value
        return broken


def _not_matching(pattern: str, values: st.SearchStrategy[str] = PRINTABLE) -> st.SearchStrategy[str]:
    return values.filter(lambda v: re.fullmatch(pattern, v) is None)


def _breakage(plural: str, path: tuple[str, ...], values: st.SearchStrategy[Any], names: str | None = None) -> Any:
    return values.map(lambda v: Breakage(plural, path, v, names or "spec." + ".".join(path)))


BREAKAGES = st.one_of(
    _breakage(PI, ("environment",), _not_matching(r"env-[a-z0-9]+")),
    _breakage(PI, ("displayName",), st.text(alphabet=string.ascii_letters, min_size=61, max_size=90)),
    _breakage(PI, ("aws", "createRole", "roleName"), _not_matching(r"[\w+=,.@-]{1,64}")),
    _breakage(PI, ("aws", "region"), _not_matching(r"[a-z]{2}(-[a-z]+)+-[0-9]+")),
    _breakage(PI, ("aws", "trustPolicy"), PRINTABLE.filter(lambda v: v not in ("Manage", "Report"))),
    _breakage(PI, ("deletionPolicy",), PRINTABLE.filter(lambda v: v not in ("Delete", "Orphan"))),
    _breakage(MC, ("kafkaCluster",), _not_matching(r"lkc-[a-z0-9]+")),
    _breakage(MC, ("connectorName",), _not_matching(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*").filter(lambda v: len(v) <= 128)),
    _breakage(MC, ("state",), PRINTABLE.filter(lambda v: v not in ("Running", "Paused"))),
    _breakage(
        MC,
        ("restartPolicy", "maxBackoffSeconds"),
        st.one_of(st.integers(max_value=9), st.integers(min_value=86401, max_value=2**40)),
    ),
    _breakage(MC, ("kafkaAuth", "serviceAccountId"), _not_matching(r"sa-[a-z0-9]+")),
    _breakage(MC, ("config", "flush.size"), st.one_of(st.integers(), st.booleans()), "spec.config.flush.size"),
    _breakage(
        MC,
        ("config",),
        st.sampled_from(["db.password", "kafka.api.secret", "aws.secret.access.key", "client.secret.value"]).map(
            lambda key: {key: "hunter2-in-plain-sight"}
        ),
        "must come from a Secret",
    ),
)


def valid_spec(world: World, plural: str) -> dict[str, Any]:
    if plural == PI:
        return pi_spec(world, "valid")
    return {
        "environment": world.info.environment_id,
        "kafkaCluster": world.info.kafka_cluster_id,
        "connectorClass": "S3_SINK",
        "kafkaAuth": {"serviceAccountId": world.info.service_account_id},
        "config": {"topics": "orders"},
    }


def external_writes(world: World) -> list[str]:
    """POST/PUT/PATCH/DELETE calls the emulator saw, except validate (a PUT that changes nothing)."""
    return [
        f"{r['method']} {r['path']}"
        for r in world.admin.requests()
        if r["method"] in ("POST", "PUT", "PATCH", "DELETE") and not r["path"].endswith("/config/validate")
    ]


def test_generated_invalid_manifests_are_rejected_at_admission_naming_the_field(world: World) -> None:
    world.start_operator()
    world.admin.clear_requests()
    seen: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    )
    @given(breakage=BREAKAGES)
    def rejected(breakage: Breakage) -> None:
        spec = breakage.apply(valid_spec(world, breakage.plural))
        try:
            world.create(breakage.plural, "invalid", spec)
        except ApiException as error:
            assert error.status == 422, (error.status, error.body, spec)
            message = json.loads(error.body)["message"]
            assert breakage.names in message, (breakage, message)
            seen.append(breakage.names)
            return
        world.delete(breakage.plural, "invalid")
        raise AssertionError(f"the API server admitted {breakage}")

    rejected()
    assert len(seen) == EXAMPLES, f"{len(seen)} examples ran, {EXAMPLES} were asked for"
    assert len(set(seen)) >= 8, sorted(set(seen))  # and they covered many fields
    for plural in (PI, MC):
        listed = world.custom.list_namespaced_custom_object(GROUP, VERSION, world.namespace, plural)["items"]
        assert listed == []
    assert world.admin.requests() == []
    assert world.moto.client("iam").list_roles()["Roles"] == []


def test_an_unknown_connector_class_is_reported_by_name_and_nothing_is_written(world: World) -> None:
    world.start_operator()
    world.admin.clear_requests()
    spec = {**valid_spec(world, MC), "connectorClass": "NO_SUCH_CONNECTOR"}
    world.create(MC, "unknown-class", spec)
    obj = world.wait_condition(MC, "unknown-class", "Ready", "False", timeout=30)
    ready = condition(obj, "Ready")
    assert "NO_SUCH_CONNECTOR" in ready["message"], ready
    assert ready["reason"] == "ConnectorClassNotFound", ready
    assert external_writes(world) == []
    assert world.admin.state()["connectors"] == {}


def test_a_missing_sensitive_config_secret_is_named_and_nothing_is_written(world: World) -> None:
    world.start_operator()
    world.admin.clear_requests()
    spec = {
        **valid_spec(world, MC),
        "sensitiveConfig": [{"key": "s3.sse.customer.key", "secretKeyRef": {"name": "absent-sse", "key": "key"}}],
    }
    world.create(MC, "no-secret", spec)
    obj = world.wait_condition(MC, "no-secret", "Ready", "False", reason="CredentialsNotFound", timeout=30)
    assert "absent-sse" in condition(obj, "Ready")["message"]
    assert external_writes(world) == []
    assert world.admin.requests() == []  # it stops before asking Confluent anything


def test_an_environment_that_does_not_exist_is_named_and_nothing_is_written(world: World) -> None:
    world.start_operator()
    world.admin.clear_requests()
    missing = "env-doesnotexist1"
    world.create(PI, "elsewhere", {**pi_spec(world, "elsewhere"), "environment": missing})
    world.create(MC, "elsewhere-sink", {**valid_spec(world, MC), "environment": missing})

    integration = condition(world.wait_condition(PI, "elsewhere", "Ready", "False", timeout=30), "Ready")
    connector = condition(world.wait_condition(MC, "elsewhere-sink", "Ready", "False", timeout=30), "Ready")
    assert external_writes(world) == []
    assert world.admin.state()["integrations"] == {} and world.admin.state()["connectors"] == {}
    assert world.moto.client("iam").list_roles()["Roles"] == []  # no role made for an integration that cannot exist
    assert missing in integration["message"], integration
    assert missing in connector["message"], connector
    assert connector["reason"] == "ClusterNotFound", connector
