"""What a reconcile pass hands back to its kopf handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccloud_operator.aws.iam import AwsAccessDenied, AwsCredentialsMissing, AwsError
from ccloud_operator.clients import CredentialsNotFound
from ccloud_operator.conditions import READY, SYNCED, Condition
from ccloud_operator.confluent.errors import (
    ConfluentError,
    Forbidden,
    QuotaExceeded,
    Unauthorized,
)
from ccloud_operator.kube import KubeApiError


@dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass
class Outcome:
    """Status to write, Events to emit, annotations to set, and whether to come back later.

    ``retry_after`` set means "not done, run again in this many seconds"; ``finished`` on a
    finalize means the finalizer may go.
    """

    status: dict[str, Any] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    annotations: dict[str, str | None] = field(default_factory=dict)
    retry_after: float | None = None
    finished: bool = True

    def record_failure(self, error: Exception, *, roles_hint: str, deleting: bool = False) -> None:
        """Classify an error and record it as conditions, an Event and a retry delay."""
        failure = classify(error, create_roles_hint=roles_hint)
        if deleting:
            # Deletion keeps saying it is deleting; the Event carries the reason it is stuck.
            self.conditions = [Condition(READY, False, "Deleting", failure.message)]
        else:
            self.conditions = [
                Condition(READY, False, failure.reason, failure.message),
                Condition(SYNCED, False, "ReconcileError", failure.message),
            ]
        if failure.warning or deleting:
            self.events.append(Event("Warning", failure.reason, failure.message))
        self.retry_after = failure.retry_after
        self.finished = False


class SpecProblem(Exception):
    """The world does not fit the spec in a way only a person can fix (a missing role, a name taken)."""

    reason = "InvalidSpec"


@dataclass(frozen=True)
class Failure:
    """A classified error: the condition reason, a message fit for status, and when to retry."""

    reason: str
    message: str
    retry_after: float
    warning: bool = True


def classify(error: Exception, *, create_roles_hint: str) -> Failure:
    """Turn any error a reconcile can meet into a condition reason and a retry delay. One place only.

    Messages come from our own wording or the API's error text; neither ever holds a secret value.
    """
    if isinstance(error, SpecProblem):
        return Failure(error.reason, str(error), 60)
    if isinstance(error, CredentialsNotFound):
        return Failure("CredentialsNotFound", str(error), 30)
    if isinstance(error, QuotaExceeded):
        return Failure(
            "QuotaExceeded",
            "Confluent Cloud refused the create: the organization's provider integration quota "
            "(100 per organization by default) is used up. Delete unused integrations or ask Confluent "
            f"Support to raise the quota. ({error})",
            300,
        )
    if isinstance(error, Unauthorized):
        return Failure("Unauthorized", f"Confluent Cloud rejected the API key: {error}", 60)
    if isinstance(error, Forbidden):
        return Failure("Unauthorized", f"the Confluent Cloud API key lacks a role: {create_roles_hint} ({error})", 60)
    if isinstance(error, ConfluentError):
        if error.retryable:
            delay = error.retry_after if error.retry_after is not None else 15
            return Failure(
                "ConfluentUnavailable",
                f"Confluent Cloud call failed, will retry: {error}",
                delay,
                warning=False,
            )
        return Failure("ConfluentError", str(error), 60)
    if isinstance(error, AwsCredentialsMissing):
        return Failure("AwsCredentialsNotFound", str(error), 60)
    if isinstance(error, AwsAccessDenied):
        return Failure("AwsAccessDenied", f"the operator's AWS identity was denied: {error}", 60)
    if isinstance(error, AwsError):
        return Failure("AwsError", str(error), 15 if error.retryable else 60, warning=not error.retryable)
    if isinstance(error, KubeApiError):
        if error.status == 403:
            return Failure("KubernetesForbidden", f"the operator's ServiceAccount may not do this: {error}", 60)
        return Failure("KubernetesUnavailable", f"a Kubernetes API call failed, will retry: {error}", 10, warning=False)
    raise error
