"""ManagedConnector: a fully-managed connector, its config, secrets, desired state, and status.

A pass observes the connector (from the shared per-cluster list), then does at most what differs:
create (after plugin validation), a full-config PUT when the desired config changed or a
non-sensitive key drifted, pause/resume, restart. An idle connector costs reads only.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from ccloud_operator.clients import ClientPool, CredentialsNotFound
from ccloud_operator.conditions import READY, SYNCED, Condition, is_ready, now_rfc3339, seconds_since
from ccloud_operator.confluent.client import ConfluentClient
from ccloud_operator.confluent.errors import Conflict, NotFound
from ccloud_operator.confluent.models import ConnectorSnapshot
from ccloud_operator.constants import (
    MASK_PREFIX,
    RESTART_ANNOTATION,
)
from ccloud_operator.kube import KubeGateway
from ccloud_operator.models.common import DeletionPolicy
from ccloud_operator.models.managed_connector import DesiredState, ManagedConnectorSpec, RestartPolicyType
from ccloud_operator.reconcilers.connector_cache import ConnectorListCache
from ccloud_operator.reconcilers.integration_directory import IntegrationDirectory
from ccloud_operator.reconcilers.outcome import Event, Outcome, SpecProblem

logger = logging.getLogger(__name__)

CONNECTOR_ROLES_HINT = (
    "connectors need CloudClusterAdmin, EnvironmentAdmin or OrganizationAdmin, and using a provider "
    "integration needs ResourceOwner or Assigner on it"
)
#: Poll interval while Confluent moves the connector between states.
TRANSITION_POLL_SECONDS = 5.0
#: Poll interval while deletion waits for Confluent to stop listing the connector.
DELETE_POLL_SECONDS = 3.0
#: First automatic restart delay under restartPolicy OnFailure; doubles per restart up to the cap.
RESTART_BASE_BACKOFF_SECONDS = 10.0

IAM_ROLES_AUTH = "IAM Roles"


@dataclass(frozen=True)
class ConnectorRef:
    """The Kubernetes object being reconciled."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    status: dict[str, Any]
    annotations: dict[str, str]


@dataclass(frozen=True)
class DesiredConfig:
    """The full config to send, the keys that hold secrets, and a hash that reveals none of them."""

    config: dict[str, str]
    sensitive_keys: frozenset[str]
    integration_id: str | None

    def fingerprint(self, salt: str) -> str:
        # Salted with the object's uid so equal secrets in two objects do not give equal hashes.
        payload = json.dumps(self.config, sort_keys=True).encode()
        return hashlib.sha256(salt.encode() + b"\0" + payload).hexdigest()


class WaitingForDependency(Exception):
    """The referenced ProviderIntegration is missing or not Ready yet."""


class ClusterNotFound(SpecProblem):
    """Confluent has no such environment or Kafka cluster, or the API key cannot see it."""

    reason = "ClusterNotFound"


class ConnectorClassNotFound(SpecProblem):
    """Confluent has no connector plugin of this class in the cluster."""

    reason = "ConnectorClassNotFound"


class ManagedConnectorReconciler:
    """Reconciles ManagedConnectors against Confluent Cloud's Connect API."""

    def __init__(
        self,
        clients: ClientPool,
        kube: KubeGateway,
        cache: ConnectorListCache,
        resync_interval: float,
        integrations: IntegrationDirectory | None = None,
    ) -> None:
        self._clients = clients
        self._kube = kube
        self._cache = cache
        self._resync_interval = resync_interval
        self._integrations = integrations or IntegrationDirectory()
        # What this process last wrote, by object uid. The status write that records it lands after
        # the pass (kopf patches then), so a timer pass right behind could read the old hash and PUT
        # the same config again; this closes that window.
        self._applied: dict[str, str] = {}

    # -- reconcile ---------------------------------------------------------------------------------

    async def reconcile(self, resource: ConnectorRef, spec: ManagedConnectorSpec, *, max_age: float) -> Outcome:
        """One pass, reading the connector from a cluster list at most ``max_age`` seconds old.

        A change to the spec passes 0; polls and the resync timer accept the list another
        connector's pass fetched, so N connectors in a cluster cost one read, not N.
        """
        outcome = Outcome()
        name = spec.effective_connector_name(resource.name)
        outcome.status["connectorName"] = name
        try:
            desired = await self._desired_config(resource, spec, name)
            client = await self._clients.confluent(self._kube, resource.namespace, spec.cloud_credentials_secret_ref)
            await self._reconcile(resource, spec, name, desired, client, outcome, max_age=max_age)
        except WaitingForDependency as waiting:
            outcome.conditions = [
                Condition(READY, False, "WaitingForProviderIntegration", str(waiting)),
                Condition(SYNCED, True, "ReconcileSuccess", "waiting for a dependency"),
            ]
            # Not a retry: the integration's handler annotates this object when it becomes Ready,
            # which starts a new pass at once (and the resync timer is the fallback).
            outcome.finished = True
        except Exception as error:  # classified once, in outcome.classify; unknown errors propagate
            outcome.record_failure(error, roles_hint=CONNECTOR_ROLES_HINT)
        outcome.status["observedGeneration"] = resource.generation
        return outcome

    async def _desired_config(self, resource: ConnectorRef, spec: ManagedConnectorSpec, name: str) -> DesiredConfig:
        config = dict(spec.config)
        config["name"] = name
        config["connector.class"] = spec.connector_class
        sensitive: set[str] = set()
        integration_id = None
        if spec.provider_integration_ref is not None:
            integration_id = await self._integration_id(resource.namespace, spec.provider_integration_ref.name)
            config["authentication.method"] = IAM_ROLES_AUTH
            config["provider.integration.id"] = integration_id
        secrets: dict[str, dict[str, str]] = {}

        async def secret_value(secret_name: str, key: str) -> str:
            if secret_name not in secrets:
                data = await self._kube.read_secret(resource.namespace, secret_name)
                if data is None:
                    raise CredentialsNotFound(f"Secret {resource.namespace}/{secret_name} was not found")
                secrets[secret_name] = data
            if key not in secrets[secret_name]:
                raise CredentialsNotFound(f"Secret {resource.namespace}/{secret_name} has no key {key}")
            return secrets[secret_name][key]

        if spec.kafka_auth is not None:
            if spec.kafka_auth.service_account_id:
                config["kafka.auth.mode"] = "SERVICE_ACCOUNT"
                config["kafka.service.account.id"] = spec.kafka_auth.service_account_id
            elif spec.kafka_auth.api_key_secret_ref is not None:
                ref = spec.kafka_auth.api_key_secret_ref
                config["kafka.auth.mode"] = "KAFKA_API_KEY"
                config["kafka.api.key"] = await secret_value(ref.name, ref.api_key_key)
                config["kafka.api.secret"] = await secret_value(ref.name, ref.api_secret_key)
                sensitive |= {"kafka.api.key", "kafka.api.secret"}
        for entry in spec.sensitive_config:
            config[entry.key] = await secret_value(entry.secret_key_ref.name, entry.secret_key_ref.key)
            sensitive.add(entry.key)
        return DesiredConfig(config, frozenset(sensitive), integration_id)

    async def _integration_id(self, namespace: str, name: str) -> str:
        status = self._integrations.status(namespace, name)
        if status is None:
            # Not seen by the watch (yet): ask the API server once.
            integration = await self._kube.get_provider_integration(namespace, name)
            if integration is None:
                raise WaitingForDependency(f"ProviderIntegration {namespace}/{name} does not exist")
            status = integration.get("status") or {}
        integration_id = status.get("integrationId")
        if not integration_id or not is_ready(status):
            raise WaitingForDependency(f"ProviderIntegration {namespace}/{name} is not Ready yet")
        return str(integration_id)

    async def _reconcile(
        self,
        resource: ConnectorRef,
        spec: ManagedConnectorSpec,
        name: str,
        desired: DesiredConfig,
        client: ConfluentClient,
        outcome: Outcome,
        *,
        max_age: float,
    ) -> None:
        env, cluster = spec.environment, spec.kafka_cluster
        observed = (await self._cluster_connectors(client, env, cluster, max_age=max_age)).get(name)
        if observed is None and resource.uid in self._applied and max_age > 0:
            # This process created it: a shared list fetched just before that create must not
            # make it look missing (a second create would only end in a 409 and a PUT).
            observed = (await self._cluster_connectors(client, env, cluster, max_age=0)).get(name)
        fingerprint = desired.fingerprint(resource.uid)
        applied = {resource.status.get("appliedConfigHash"), self._applied.get(resource.uid)}
        wrote = False
        if observed is None:
            if not await self._validate(client, spec, desired, outcome):
                return
            try:
                await client.create_connector(env, cluster, name, desired.config)
                outcome.events.append(Event("Normal", "ConnectorCreated", f"created connector {name}"))
                logger.info("Created connector %s in %s/%s", name, env, cluster)
            except Conflict:
                # Created by an earlier pass whose response was lost; the name is the key, so it is ours.
                await client.put_connector_config(env, cluster, name, desired.config)
            outcome.status["appliedConfigHash"] = self._applied[resource.uid] = fingerprint
            outcome.status["providerIntegrationId"] = desired.integration_id
            wrote = True
            if spec.state is DesiredState.PAUSED:
                # The API has no "create paused"; pausing right away means no task ever runs long.
                await client.pause_connector(env, cluster, name)
        else:
            drift = _drifted_keys(observed.config, desired)
            if fingerprint not in applied or drift:
                if not await self._validate(client, spec, desired, outcome):
                    return
                await client.put_connector_config(env, cluster, name, desired.config)
                reason = (
                    f"keys changed in Confluent: {', '.join(sorted(drift))}" if drift else "the desired config changed"
                )
                outcome.events.append(Event("Normal", "ConfigUpdated", f"updated connector {name}: {reason}"))
                outcome.status["appliedConfigHash"] = self._applied[resource.uid] = fingerprint
                outcome.status["providerIntegrationId"] = desired.integration_id
                wrote = True
            wrote = await self._converge_state(resource, spec, name, observed, client, outcome) or wrote
        outcome.status["validation"] = {"errorCount": 0, "errors": []}
        if wrote:
            # One list serves this read and every other connector of the cluster polling now.
            self._cache.forget(client, env, cluster)
            observed = (await self._cache.connectors(client, env, cluster, max_age=0)).get(name)
        self._report(spec, observed, outcome)

    async def _cluster_connectors(
        self, client: ConfluentClient, environment: str, cluster: str, *, max_age: float
    ) -> dict[str, ConnectorSnapshot]:
        try:
            return await self._cache.connectors(client, environment, cluster, max_age=max_age)
        except NotFound as error:
            raise ClusterNotFound(
                f"Confluent Cloud has no Kafka cluster {cluster} in environment {environment}, or the API key "
                f"cannot see it ({error})"
            ) from error

    async def _validate(
        self, client: ConfluentClient, spec: ManagedConnectorSpec, desired: DesiredConfig, outcome: Outcome
    ) -> bool:
        try:
            result = await client.validate_config(
                spec.environment, spec.kafka_cluster, spec.connector_class, desired.config
            )
        except NotFound as error:
            raise ConnectorClassNotFound(
                f"Confluent Cloud has no connector plugin {spec.connector_class!r} in {spec.kafka_cluster} ({error})"
            ) from error
        outcome.status["validation"] = {
            "errorCount": result.error_count,
            "errors": [{"key": key, "messages": list(messages)} for key, messages in sorted(result.errors.items())],
        }
        if result.error_count == 0:
            return True
        summary = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in sorted(result.errors.items()))
        message = f"Confluent rejected the config ({result.error_count} errors): {summary}"
        outcome.conditions = [
            Condition(READY, False, "ConfigInvalid", message),
            Condition(SYNCED, False, "ConfigInvalid", message),
        ]
        outcome.events.append(Event("Warning", "ConfigInvalid", message))
        # Only a spec (or Secret) change can fix this; that change wakes the resource.
        outcome.finished = True
        return False

    async def _converge_state(
        self,
        resource: ConnectorRef,
        spec: ManagedConnectorSpec,
        name: str,
        observed: ConnectorSnapshot,
        client: ConfluentClient,
        outcome: Outcome,
    ) -> bool:
        """Pause, resume or restart as the spec and annotations ask; True when something was sent."""
        env, cluster = spec.environment, spec.kafka_cluster
        if spec.state is DesiredState.PAUSED and observed.state != "PAUSED":
            await client.pause_connector(env, cluster, name)
            outcome.events.append(Event("Normal", "ConnectorPaused", f"paused connector {name}"))
            return True
        if spec.state is DesiredState.RUNNING and observed.state == "PAUSED":
            await client.resume_connector(env, cluster, name)
            outcome.events.append(Event("Normal", "ConnectorResumed", f"resumed connector {name}"))
            return True
        requested = resource.annotations.get(RESTART_ANNOTATION)
        if requested and requested != resource.status.get("lastRestartRequest"):
            await client.restart_connector(env, cluster, name)
            outcome.status["lastRestartRequest"] = requested
            outcome.status["lastRestartTime"] = now_rfc3339()
            outcome.events.append(Event("Normal", "ConnectorRestarted", f"restarted connector {name} on request"))
            return True
        if observed.state == "RUNNING":
            outcome.status["restartCount"] = 0
        if observed.state == "FAILED" and spec.restart_policy.type is RestartPolicyType.ON_FAILURE:
            count = int(resource.status.get("restartCount") or 0)
            backoff = min(float(spec.restart_policy.max_backoff_seconds), RESTART_BASE_BACKOFF_SECONDS * 2**count)
            since = seconds_since(resource.status.get("lastRestartTime"))
            if since >= backoff:
                await client.restart_connector(env, cluster, name)
                outcome.status["restartCount"] = count + 1
                outcome.status["lastRestartTime"] = now_rfc3339()
                outcome.events.append(
                    Event(
                        "Warning",
                        "ConnectorRestarted",
                        f"restarted failed connector {name} (restart {count + 1})",
                    )
                )
                return True
            outcome.retry_after = backoff - since
        return False

    def _report(self, spec: ManagedConnectorSpec, observed: ConnectorSnapshot | None, outcome: Outcome) -> None:
        synced = Condition(SYNCED, True, "ReconcileSuccess", "the connector matches the spec")
        if observed is None:
            outcome.conditions = [
                Condition(READY, False, "Creating", "waiting for Confluent to list the connector"),
                synced,
            ]
            outcome.retry_after = TRANSITION_POLL_SECONDS
            return
        outcome.status.update(
            connectorId=observed.connector_id or outcome.status.get("connectorId"),
            state=observed.state,
            tasks=[{"id": t.id, "state": t.state, "message": t.message[:1024]} for t in observed.tasks],
            tasksReady=observed.tasks_ready,
            trace=observed.trace[:4096],
        )
        if observed.connector_id is None:
            outcome.status.pop("connectorId")
        state = observed.state
        paused_wanted = spec.state is DesiredState.PAUSED
        if state == "PAUSED" and paused_wanted:
            ready = Condition(READY, True, "Paused", "the connector is paused as spec.state asks")
        elif paused_wanted:
            ready = Condition(READY, False, "Pausing", f"the connector is {state}; pausing it")
            outcome.retry_after = TRANSITION_POLL_SECONDS
        elif state == "RUNNING":
            ready = Condition(READY, True, "Available", f"the connector is running ({observed.tasks_ready} tasks)")
        elif state == "PAUSED":
            ready = Condition(READY, False, "Resuming", "the connector is paused; resuming it")
            outcome.retry_after = TRANSITION_POLL_SECONDS
        elif state == "FAILED":
            # Failed is where this pass ends: the resync timer keeps watching, and a restart the
            # policy scheduled has already set retry_after.
            ready = Condition(READY, False, "Failed", observed.trace or "the connector failed")
        elif state == "DEGRADED":
            ready = Condition(READY, False, "Degraded", observed.trace or "some tasks are not running")
            outcome.retry_after = TRANSITION_POLL_SECONDS
        else:
            ready = Condition(READY, False, "Creating", f"the connector is {state}")
            outcome.retry_after = TRANSITION_POLL_SECONDS
        outcome.conditions = [ready, synced]
        if outcome.retry_after is not None and ready.status is not True:
            outcome.finished = False

    # -- delete ------------------------------------------------------------------------------------

    async def finalize(self, resource: ConnectorRef, spec: ManagedConnectorSpec) -> Outcome:
        """Delete the connector and wait until Confluent no longer lists it; Orphan leaves it."""
        outcome = Outcome()
        name = spec.effective_connector_name(resource.name)
        if spec.deletion_policy is DeletionPolicy.ORPHAN:
            self._applied.pop(resource.uid, None)
            outcome.events.append(Event("Normal", "Orphaned", f"left connector {name} in Confluent Cloud"))
            return outcome
        try:
            client = await self._clients.confluent(self._kube, resource.namespace, spec.cloud_credentials_secret_ref)
            env, cluster = spec.environment, spec.kafka_cluster
            try:
                listed = await self._cache.connectors(client, env, cluster, max_age=0)
            except NotFound:
                # No such cluster (any more): nothing of this connector is left to delete.
                listed = {}
            if name in listed:
                await client.delete_connector(env, cluster, name)
                self._cache.forget(client, env, cluster)
                outcome.events.append(Event("Normal", "ConnectorDeleted", f"deleted connector {name}"))
                if name in await self._cache.connectors(client, env, cluster, max_age=0):
                    outcome.conditions = [Condition(READY, False, "Deleting", f"waiting for {name} to go")]
                    outcome.retry_after = DELETE_POLL_SECONDS
                    outcome.finished = False
        except Exception as error:
            outcome.record_failure(error, roles_hint=CONNECTOR_ROLES_HINT, deleting=True)
        if outcome.finished:
            self._applied.pop(resource.uid, None)
        return outcome


def _drifted_keys(observed: dict[str, str], desired: DesiredConfig) -> set[str]:
    """Non-sensitive keys whose value in Confluent differs from the desired one.

    Masked values and server-added keys are never drift: Confluent masks every secret on read and
    adds keys and defaults of its own [CONTRACT §5]. Keys the spec does not set are not compared,
    because Confluent's defaults are indistinguishable from a console edit; the next PUT replaces
    the whole config anyway.
    """
    drifted = set()
    for key, value in desired.config.items():
        if key in desired.sensitive_keys:
            continue
        seen = observed.get(key)
        if seen is not None and seen.startswith(MASK_PREFIX):
            continue
        if seen != value:
            drifted.add(key)
    return drifted
