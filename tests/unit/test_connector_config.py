"""Drift detection never mistakes masked secrets or Confluent's own keys for a change."""

from ccloud_operator.reconcilers.managed_connector import DesiredConfig, _drifted_keys


def _desired() -> DesiredConfig:
    return DesiredConfig(
        config={"name": "c", "topics": "orders", "kafka.api.key": "K", "kafka.api.secret": "S"},
        sensitive_keys=frozenset({"kafka.api.key", "kafka.api.secret"}),
        integration_id=None,
    )


def test_masked_and_server_added_keys_are_not_drift() -> None:
    observed = {
        "name": "c",
        "topics": "orders",
        "kafka.api.key": "****************",
        "kafka.api.secret": "****************",
        "cloud.environment": "prod",
        "connector.crn": "crn://x",
    }
    assert _drifted_keys(observed, _desired()) == set()


def test_an_edited_plain_key_is_drift() -> None:
    observed = {"name": "c", "topics": "payments", "kafka.api.key": "****", "kafka.api.secret": "****"}
    assert _drifted_keys(observed, _desired()) == {"topics"}


def test_a_removed_plain_key_is_drift() -> None:
    observed = {"name": "c", "kafka.api.key": "****", "kafka.api.secret": "****"}
    assert _drifted_keys(observed, _desired()) == {"topics"}


def test_fingerprint_changes_with_a_secret_and_hides_it() -> None:
    first = _desired()
    rotated = DesiredConfig({**first.config, "kafka.api.secret": "S2"}, first.sensitive_keys, None)
    assert first.fingerprint("uid") != rotated.fingerprint("uid")
    assert "S2" not in rotated.fingerprint("uid")
    assert first.fingerprint("uid-a") != first.fingerprint("uid-b")
