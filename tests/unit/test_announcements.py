"""Which Events a pass posts: each situation once per episode of unreadiness, not once per retry.

That an operator posts one Event for a failure that lasts is proven against the API server in
tests/operator/test_credentials_and_errors.py; these pin the rule through sequences of passes
that a real run meets only by chance (a timeout between two identical failures).
"""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from ccloud_operator.conditions import READY, SYNCED, Condition
from ccloud_operator.handlers import common
from ccloud_operator.reconcilers.outcome import Event, Outcome

INVALID = "Confluent rejected the config (1 errors): time.interval: must be one of HOURLY, DAILY"
TIMEOUT = "Confluent Cloud did not answer within 5 s"


class Object:
    """One object's body as the API server keeps it, with the status each pass's patch writes."""

    def __init__(self, uid: str) -> None:
        self.raw: dict[str, Any] = {
            "kind": "ManagedConnector",
            "metadata": {"uid": uid, "name": "sink", "namespace": "team", "generation": 1},
            "status": {},
        }

    def apply(self, outcome: Outcome) -> None:
        body = kopf.Body(self.raw)
        patch = kopf.Patch()
        common.apply_outcome(body, patch, outcome)
        self.raw["status"] = {**self.raw["status"], **patch.status}


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(kopf, "event", lambda body, *, type, reason, message: events.append((reason, message)))
    return events


def _failed(reason: str, message: str) -> Outcome:
    return Outcome(
        conditions=[Condition(READY, False, reason, message), Condition(SYNCED, False, reason, message)],
        events=[Event("Warning", reason, message)],
    )


def _ready() -> Outcome:
    return Outcome(conditions=[Condition(READY, True, "Running", "the connector is RUNNING")])


def test_a_failure_interrupted_by_another_is_announced_once(posted: list[tuple[str, str]]) -> None:
    connector = Object("a")
    for outcome in (
        _failed("ConfigInvalid", INVALID),
        _failed("ConfigInvalid", INVALID),
        _failed("ConfluentUnavailable", TIMEOUT),
        _failed("ConfigInvalid", INVALID),
        _failed("ConfluentUnavailable", TIMEOUT),
        _failed("ConfigInvalid", INVALID),
    ):
        connector.apply(outcome)
    assert posted == [("ConfigInvalid", INVALID), ("ConfluentUnavailable", TIMEOUT)]


def test_a_failure_that_returns_after_the_object_was_ready_is_news(posted: list[tuple[str, str]]) -> None:
    connector = Object("b")
    connector.apply(_failed("ConfigInvalid", INVALID))
    connector.apply(_ready())
    connector.apply(_failed("ConfigInvalid", INVALID))
    assert posted == [("ConfigInvalid", INVALID)] * 2


def test_a_new_spec_announces_again_what_only_an_older_spec_met(posted: list[tuple[str, str]]) -> None:
    connector = Object("c")
    connector.apply(_failed("ConfigInvalid", INVALID))
    connector.apply(_failed("ConfluentUnavailable", TIMEOUT))
    connector.raw["metadata"]["generation"] = 2
    connector.apply(_failed("ConfluentUnavailable", TIMEOUT))  # still on the condition: announced already
    connector.apply(_failed("ConfigInvalid", INVALID))  # the new spec meets it anew
    assert posted == [("ConfigInvalid", INVALID), ("ConfluentUnavailable", TIMEOUT), ("ConfigInvalid", INVALID)]


def test_a_restarted_process_does_not_announce_again_what_the_condition_shows(
    posted: list[tuple[str, str]],
) -> None:
    connector = Object("d")
    connector.apply(_failed("ConfigInvalid", INVALID))
    common._episodes.clear()  # what a new process remembers: nothing but the object's status
    connector.apply(_failed("ConfigInvalid", INVALID))
    assert posted == [("ConfigInvalid", INVALID)]
