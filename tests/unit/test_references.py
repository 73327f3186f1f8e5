"""Who references whom, kept from watch events: what an integration's or a Secret's change wakes."""

from __future__ import annotations

from typing import Any

from ccloud_operator.handlers.references import Directory


def connector(uid: str, integration: str | None, *secrets: str, namespace: str = "team") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "environment": "env-1",
        "kafkaCluster": "lkc-1",
        "connectorClass": "S3_SINK",
        "config": {"topics": "orders"},
        "sensitiveConfig": [{"key": f"key.{s}", "secretKeyRef": {"name": s, "key": "value"}} for s in secrets],
    }
    if integration:
        spec["providerIntegrationRef"] = {"name": integration}
    return {"metadata": {"uid": uid, "name": f"mc-{uid}", "namespace": namespace}, "spec": spec}


def test_a_connector_moves_between_integrations_and_is_forgotten_when_deleted() -> None:
    users = Directory().integration_users
    users.see(connector("a", "pi-1"))
    users.see(connector("b", "pi-1"))
    users.see(connector("c", "pi-1", namespace="other"))
    assert sorted(users.of("team", "pi-1")) == [("mc-a", "a"), ("mc-b", "b")]
    users.see(connector("a", "pi-2"))  # its spec now names another integration
    assert users.of("team", "pi-1") == [("mc-b", "b")]
    assert users.of("team", "pi-2") == [("mc-a", "a")]
    users.see(connector("b", "pi-1"), deleted=True)
    users.see(connector("a", None))  # no integration named any more
    assert users.of("team", "pi-1") == [] and users.of("team", "pi-2") == []
    assert len(users) == 1  # only the other namespace's connector is still kept


def test_secret_readers_come_from_the_parsed_spec_and_an_invalid_spec_references_nothing() -> None:
    readers = Directory().connector_secrets
    readers.see(connector("a", "pi-1", "db-password", "kafka-key"))
    assert readers.of("team", "db-password") == [("mc-a", "a")]
    assert readers.of("team", "kafka-key") == [("mc-a", "a")]
    invalid = connector("a", "pi-1", "db-password")
    del invalid["spec"]["kafkaCluster"]
    readers.see(invalid)
    assert readers.of("team", "db-password") == []
