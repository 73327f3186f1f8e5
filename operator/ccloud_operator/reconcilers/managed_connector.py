"""ManagedConnector: a fully-managed connector, its config, secrets, desired state, and status.

A pass observes the connector (from the shared per-cluster list), then does at most what differs:
create (after plugin validation), a full-config PUT when the desired config changed or a
non-sensitive key drifted, pause/resume, restart. An idle connector costs reads only.

Confluent is eventually consistent and slow, and the pass is built for it [CONTRACT 4]:

* reads trail writes: a new connector is missing from the list for seconds, an update shows late.
  A create-pending annotation is written before the create and kept until the connector has been
  seen with its name in the status, so a connector that is not listed yet is waited for, never
  created twice; right after this process wrote a config, a stale config in the list is not drift;
* an object owns the connector it created (``status.connectorName``, or the create-pending marker
  while the create is unrecorded). A connector of that name that it did not create is reported
  (``AlreadyExists``) and left alone, and deleting the object never deletes it;
* provisioning takes minutes and pause/resume are asynchronous: polls back off from 5 s to a minute,
  share the cluster's list, and a pause or resume is sent once, only from RUNNING or PAUSED;
* a deleted connector lingers in state DELETED: deletion sends one DELETE and waits it out;
* IAM changes take time to reach every AWS endpoint: a connector that fails on an AWS access error
  while its integration's checks pass is restarted with backoff, whatever its restart policy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from ccloud_operator.clients import ClientPool, CredentialsNotFound
from ccloud_operator.conditions import READY, SYNCED, Condition, condition_of, is_ready, now_rfc3339, seconds_since
from ccloud_operator.confluent.client import ConfluentClient
from ccloud_operator.confluent.errors import Conflict, ConfluentError, NotFound, means_gone
from ccloud_operator.confluent.models import ConnectorSnapshot
from ccloud_operator.constants import (
    CREATE_PENDING_ANNOTATION,
    MANAGED_CONNECTORS,
    MASK_PREFIX,
    RESTART_ANNOTATION,
)
from ccloud_operator.kube import KubeGateway
from ccloud_operator.models.common import DeletionPolicy
from ccloud_operator.models.managed_connector import DesiredState, ManagedConnectorSpec, RestartPolicyType
from ccloud_operator.reconcilers.connector_cache import ConnectorListCache
from ccloud_operator.reconcilers.connector_claims import ConnectorClaims
from ccloud_operator.reconcilers.iam_propagation import PropagationBoard
from ccloud_operator.reconcilers.integration_directory import IntegrationDirectory
from ccloud_operator.reconcilers.outcome import Event, Outcome, SpecProblem
from ccloud_operator.reconcilers.pending import Creates

logger = logging.getLogger(__name__)

CONNECTOR_ROLES_HINT = (
    "connectors need CloudClusterAdmin, EnvironmentAdmin or OrganizationAdmin, and using a provider "
    "integration needs ResourceOwner or Assigner on it"
)
#: Polls while Confluent works (provisioning, pause, resume) start here and double per poll up to the
#: cap: provisioning takes minutes (Terraform waits minutes before its first poll, then polls every
#: minute [CONTRACT 4]), and a quick first look keeps fast transitions fast.
POLL_FIRST_SECONDS = 5.0
POLL_MAX_SECONDS = 60.0
#: The oldest shared list a poll accepts.
POLL_LIST_MAX_AGE_SECONDS = 10.0
#: The same while deletion waits for Confluent to stop listing a connector (it lingers as DELETED).
DELETE_POLL_FIRST_SECONDS = 3.0
DELETE_POLL_MAX_SECONDS = 30.0
#: A DELETE, pause or resume this process sent is not sent again while Confluent's reads still show the
#: old state, for this long: reads trail writes, and the transitions themselves take time.
DELETE_RESEND_SECONDS = 300.0
STATE_REQUEST_PATIENCE_SECONDS = 120.0
#: After this process wrote a config, the list may show the previous one for a while: not drift.
READ_AFTER_WRITE_GRACE_SECONDS = 30.0
#: Wait before the second automatic restart; doubles per restart up to the cap (the first is at once).
RESTART_BASE_BACKOFF_SECONDS = 10.0
#: Restarts of a connector that failed on an AWS access error while its integration checks out (IAM
#: propagation, which takes seconds to minutes [CONTRACT 2]), whatever its restart policy: how many,
#: and the longest wait between two (at once, 10 s, 20 s, ... 300 s: about 15 minutes in all).
IAM_PROPAGATION_RESTARTS = 8
IAM_PROPAGATION_MAX_BACKOFF_SECONDS = 300.0
#: Traces of an AWS access denial as the fully-managed connectors report it (AWS SDK exception text).
AWS_ACCESS_ERROR = re.compile(r"AssumeRole|AccessDenied|not authorized to perform", re.IGNORECASE)

IAM_ROLES_AUTH = "IAM Roles"

Trigger = Literal["change", "poll", "resync"]


@dataclass(frozen=True)
class ConnectorRef:
    """The Kubernetes object being reconciled."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    status: dict[str, Any]
    annotations: dict[str, str]
    #: metadata.creationTimestamp: between two objects naming one connector, the older claims it first.
    created: str = ""


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


@dataclass
class _Memory:
    """What this process remembers of one object between passes (lost on restart, harmlessly)."""

    #: The config hash it last wrote, and when (the status write that records it lands after the pass).
    applied: str | None = None
    written_at: float = float("-inf")
    #: The state it last asked for (PAUSED or RUNNING) and when.
    requested_state: str | None = None
    requested_at: float = float("-inf")
    #: When this process sent the DELETE of the connector (the status records it too, a pass later).
    delete_sent_at: float = float("-inf")
    #: Automatic restarts this process sent since the connector last ran, the last one's time, and the
    #: last restart annotation it honoured (the status records them a pass later).
    restarts: int = 0
    restarted_at: float = float("-inf")
    restart_request: str | None = None
    #: Polls since the observed state last changed, the state then, and the delay last scheduled.
    polls: int = 0
    polled_state: str | None = None
    poll_delay: float = POLL_FIRST_SECONDS


class WaitingForDependency(Exception):
    """The referenced ProviderIntegration is missing or not Ready yet."""


class ClusterNotFound(SpecProblem):
    """Confluent has no such environment or Kafka cluster, or the API key cannot see it."""

    reason = "ClusterNotFound"


class ConnectorClassNotFound(SpecProblem):
    """Confluent has no connector plugin of this class in the cluster."""

    reason = "ConnectorClassNotFound"


class AlreadyExists(SpecProblem):
    """A connector with this name exists in the cluster and this object did not create it."""

    reason = "AlreadyExists"


class NameConflict(SpecProblem):
    """Another ManagedConnector owns (or claimed first) the connector this one names."""

    reason = "NameConflict"


class ManagedConnectorReconciler:
    """Reconciles ManagedConnectors against Confluent Cloud's Connect API."""

    def __init__(
        self,
        clients: ClientPool,
        kube: KubeGateway,
        cache: ConnectorListCache,
        resync_interval: float,
        integrations: IntegrationDirectory | None = None,
        *,
        create_pending_grace: float = 30.0,
        claims: ConnectorClaims | None = None,
        propagation: PropagationBoard | None = None,
    ) -> None:
        self._clients = clients
        self._kube = kube
        self._cache = cache
        self._resync_interval = resync_interval
        self._integrations = integrations or IntegrationDirectory()
        self._create_pending_grace = create_pending_grace
        self._memory: dict[str, _Memory] = {}
        self._creates = Creates()
        self._claims = claims or ConnectorClaims()
        #: What the connectors of one integration learn from each other about IAM propagation.
        self.propagation = propagation or PropagationBoard()

    def _remember(self, uid: str) -> _Memory:
        return self._memory.setdefault(uid, _Memory())

    def forget(self, uid: str) -> None:
        """Drop what this process remembers of a deleted object."""
        self._memory.pop(uid, None)
        self._creates.settled(uid)
        self.propagation.done(uid)

    # -- reconcile ---------------------------------------------------------------------------------

    async def reconcile(self, resource: ConnectorRef, spec: ManagedConnectorSpec, *, trigger: Trigger) -> Outcome:
        """One pass. A change reads the cluster's list fresh; a poll accepts one up to a quarter of its own
        poll delay old (at most 10 s: a poll that reads a list half a minute old, of a service whose reads
        already trail its writes, sees nothing new) and the periodic resync one up to an interval old, so N
        connectors of a cluster polling or resyncing together cost one read, not N."""
        outcome = Outcome()
        name = spec.effective_connector_name(resource.name)
        memory = self._remember(resource.uid)
        poll_age = min(POLL_LIST_MAX_AGE_SECONDS, max(2.0, memory.poll_delay / 4))
        max_age = {"change": 0.0, "poll": poll_age, "resync": self._resync_interval}[trigger]
        try:
            desired = await self._desired_config(resource, spec, name)
            client = await self._clients.confluent(self._kube, resource.namespace, spec.cloud_credentials_secret_ref)
            await self._reconcile(resource, spec, name, desired, client, outcome, max_age=max_age)
        except WaitingForDependency as waiting:
            outcome.conditions = [
                Condition(READY, False, "WaitingForProviderIntegration", str(waiting)),
                Condition(SYNCED, True, "ReconcileSuccess", "waiting for a dependency"),
            ]
            # Not a retry: the integration's handler wakes this object when it becomes Ready,
            # which starts a new pass at once (and the periodic resync is the fallback).
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
            ready = condition_of(status.get("conditions"), READY) or {}
            why = f" ({ready['reason']}: {ready.get('message', '')})" if ready.get("reason") else ""
            raise WaitingForDependency(f"ProviderIntegration {namespace}/{name} is not Ready yet{why}")
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
        memory = self._remember(resource.uid)
        recorded = resource.status.get("connectorName") == name
        if not recorded:
            # Before any call for it: another object may own this connector, or have claimed it first.
            rival = self._claims.rival((env, cluster, name), resource.uid, resource.created, _owner(resource))
            if rival is not None:
                how = "owns" if rival.recorded else "claimed first (it is older)"
                raise NameConflict(
                    f"ManagedConnector {rival.owner} {how} connector {name} in {env}/{cluster}; this object leaves it "
                    "alone. Set spec.connectorName to another name."
                )
        observed = (await self._cluster_connectors(client, env, cluster, max_age=max_age)).get(name)
        marker = resource.annotations.get(CREATE_PENDING_ANNOTATION)
        pending_age = self._creates.pending_age(resource.uid, marker)
        if observed is None and pending_age is not None and max_age > 0:
            # A shared list may predate this connector's create (reads trail writes, and polls reuse a
            # list for up to half their delay): whether it is there yet is asked afresh.
            observed = (await self._cluster_connectors(client, env, cluster, max_age=0)).get(name)
        owned = recorded or self._creates.created(resource.uid) == name
        fingerprint = desired.fingerprint(resource.uid)
        wrote = False
        if observed is not None and observed.state == "DELETED":
            # Deleted outside (or by an earlier life of this object) and still listed for a while.
            self._wait_for(
                outcome,
                memory,
                observed.state,
                "Creating",
                f"connector {name} is being deleted in Confluent Cloud; it is created again once it is gone",
            )
            return
        if observed is None:
            confirmed = self._creates.confirmed(resource.uid)
            if confirmed or (pending_age is not None and pending_age < self._create_pending_grace):
                # Created moments ago (confirmed, or by a predecessor whose answer may have been lost):
                # Confluent's list does not show it yet. Creating again could only collide with it.
                self._wait_for(outcome, memory, None, "Creating", f"waiting for Confluent to list connector {name}")
                return
            if not await self._validate(client, spec, desired, outcome):
                return
            if owned:
                outcome.events.append(
                    Event(
                        "Warning",
                        "ConnectorMissing",
                        f"connector {name} is no longer in Confluent Cloud; creating it again",
                    )
                )
            await self._create(resource, spec, name, desired, client, outcome, had_pending=pending_age is not None)
            wrote = True
        else:
            if not (owned or pending_age is not None):
                self._adopt_or_refuse(spec, name, observed.connector_id, outcome)
            if recorded:
                # The create is recorded and Confluent lists it: nothing is pending any more.
                self._creates.settled(resource.uid)
                if marker:
                    outcome.annotations[CREATE_PENDING_ANNOTATION] = None
            outcome.status["connectorName"] = name
            fresh_write = time.monotonic() - memory.written_at < READ_AFTER_WRITE_GRACE_SECONDS
            drift = set() if fresh_write else _drifted_keys(observed.config, desired)
            if fingerprint not in {resource.status.get("appliedConfigHash"), memory.applied} or drift:
                if not await self._validate(client, spec, desired, outcome):
                    return
                await client.put_connector_config(env, cluster, name, desired.config)
                reason = (
                    f"keys changed in Confluent: {', '.join(sorted(drift))}" if drift else "the desired config changed"
                )
                outcome.events.append(Event("Normal", "ConfigUpdated", f"updated connector {name}: {reason}"))
                self._record_write(resource, desired, outcome)
                wrote = True
            wrote = (
                await self._converge_state(resource, spec, name, observed, client, outcome, desired.integration_id)
                or wrote
            )
        outcome.status["validation"] = {"errorCount": 0, "errors": []}
        if wrote:
            # One list serves this read and every other connector of the cluster polling now.
            self._cache.forget(client, env, cluster)
            observed = (await self._cache.connectors(client, env, cluster, max_age=0)).get(name)
            if observed is not None and observed.state == "DELETED":
                observed = None
        if desired.integration_id is not None and observed is not None:
            self._note_start(resource.uid, desired.integration_id, observed.state)
        self._report(resource, spec, observed, outcome)

    def _note_start(self, uid: str, integration_id: str, state: str) -> None:
        """Tell the connector's siblings when a start this process caused (a create, a config write, a
        restart) ended RUNNING: their integration's role is assumable (``PropagationBoard``)."""
        if state != "RUNNING":
            return
        memory = self._remember(uid)
        self.propagation.done(uid)
        attempted_at = max(memory.written_at, memory.restarted_at)
        # Seen RUNNING before already: this start is old news, and maybe older than a trust change.
        if memory.polled_state != "RUNNING" and attempted_at > float("-inf"):
            self.propagation.started(integration_id, attempted_at)

    async def _create(
        self,
        resource: ConnectorRef,
        spec: ManagedConnectorSpec,
        name: str,
        desired: DesiredConfig,
        client: ConfluentClient,
        outcome: Outcome,
        *,
        had_pending: bool,
    ) -> None:
        env, cluster = spec.environment, spec.kafka_cluster
        # The marker goes to the API server before the create call: a crash after the call leaves a
        # trace the next pass sees, and the marker stays until the connector has been seen.
        await self._kube.annotate(
            MANAGED_CONNECTORS, resource.namespace, resource.name, {CREATE_PENDING_ANNOTATION: now_rfc3339()}
        )
        self._creates.sent(resource.uid, name)
        try:
            await client.create_connector(env, cluster, name, desired.config)
        except Conflict as conflict:
            if not had_pending:
                # Not listed, yet taken: created by someone else moments ago (reads trail writes) or
                # lingering after a delete. Not this object's (its own create did nothing) unless adopted.
                if not spec.adopt_existing:
                    outcome.annotations[CREATE_PENDING_ANNOTATION] = None
                    self._creates.settled(resource.uid)
                self._adopt_or_refuse(spec, name, None, outcome, detail=f" ({conflict})")
            # An earlier create of this object (its answer lost, its marker expired) made it, or the spec
            # adopts the one that is there: either way the spec's config goes in.
            await client.put_connector_config(env, cluster, name, desired.config)
            self._creates.confirm(resource.uid)
        except ConfluentError as error:
            # A 4xx answer means nothing was created; a 5xx or no answer may have, so the marker stays.
            if error.status is not None and 400 <= error.status < 500:
                outcome.annotations[CREATE_PENDING_ANNOTATION] = None
                self._creates.settled(resource.uid)
            raise
        else:
            self._creates.confirm(resource.uid)
            outcome.events.append(Event("Normal", "ConnectorCreated", f"created connector {name}"))
            logger.info("Created connector %s in %s/%s", name, env, cluster)
        outcome.status["connectorName"] = name
        self._record_write(resource, desired, outcome)

    @staticmethod
    def _adopt_or_refuse(
        spec: ManagedConnectorSpec, name: str, connector_id: str | None, outcome: Outcome, detail: str = ""
    ) -> None:
        """A connector of this name that no object created: take it when the spec asks to, else refuse."""
        env, cluster = spec.environment, spec.kafka_cluster
        if not spec.adopt_existing:
            raise AlreadyExists(
                f"a connector named {name} already exists in {env}/{cluster} ({connector_id or 'id unknown'}) "
                f"and this ManagedConnector did not create it{detail}; it is left alone. Set spec.adoptExisting to "
                "take it over, spec.connectorName to use another name, or delete that connector first."
            )
        outcome.status["connectorName"] = name
        outcome.events.append(
            Event("Normal", "ConnectorAdopted", f"took over connector {name} ({connector_id or 'id unknown'})")
        )

    def _record_write(self, resource: ConnectorRef, desired: DesiredConfig, outcome: Outcome) -> None:
        memory = self._remember(resource.uid)
        memory.applied = outcome.status["appliedConfigHash"] = desired.fingerprint(resource.uid)
        memory.written_at = time.monotonic()
        memory.polls = 0
        outcome.status["providerIntegrationId"] = desired.integration_id

    async def _cluster_connectors(
        self, client: ConfluentClient, environment: str, cluster: str, *, max_age: float
    ) -> dict[str, ConnectorSnapshot]:
        try:
            return await self._cache.connectors(client, environment, cluster, max_age=max_age)
        except ConfluentError as error:
            if not means_gone(error):
                raise
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
        integration_id: str | None,
    ) -> bool:
        """Pause, resume or restart as the spec and annotations ask; True when something was sent."""
        env, cluster = spec.environment, spec.kafka_cluster
        memory = self._remember(resource.uid)
        now = time.monotonic()
        # Only RUNNING -> PAUSED and PAUSED -> RUNNING are meaningful [CONTRACT 4]; each request is sent
        # once and given time, because the transition is asynchronous and reads trail it.
        target = {DesiredState.PAUSED: "PAUSED", DesiredState.RUNNING: "RUNNING"}[spec.state]
        source = "RUNNING" if target == "PAUSED" else "PAUSED"
        if observed.state == source:
            patient = memory.requested_state == target and now - memory.requested_at < STATE_REQUEST_PATIENCE_SECONDS
            if patient:
                return False
            if target == "PAUSED":
                await client.pause_connector(env, cluster, name)
                outcome.events.append(Event("Normal", "ConnectorPaused", f"paused connector {name}"))
            else:
                await client.resume_connector(env, cluster, name)
                outcome.events.append(Event("Normal", "ConnectorResumed", f"resumed connector {name}"))
            memory.requested_state, memory.requested_at = target, now
            return True
        requested = resource.annotations.get(RESTART_ANNOTATION)
        if requested and requested not in (resource.status.get("lastRestartRequest"), memory.restart_request):
            await client.restart_connector(env, cluster, name)
            memory.restart_request = requested
            outcome.status["lastRestartRequest"] = requested
            outcome.status["lastRestartTime"] = now_rfc3339()
            outcome.events.append(Event("Normal", "ConnectorRestarted", f"restarted connector {name} on request"))
            return True
        if observed.state == "RUNNING":
            outcome.status["restartCount"] = memory.restarts = 0
        if observed.state == "FAILED" and spec.state is DesiredState.RUNNING:
            return await self._restart_failed(resource, spec, name, observed, client, outcome, integration_id)
        return False

    async def _restart_failed(
        self,
        resource: ConnectorRef,
        spec: ManagedConnectorSpec,
        name: str,
        observed: ConnectorSnapshot,
        client: ConfluentClient,
        outcome: Outcome,
        integration_id: str | None,
    ) -> bool:
        """Restart a FAILED connector with capped exponential backoff when the policy, or IAM propagation,
        calls for it; True when a restart was sent."""
        memory = self._remember(resource.uid)
        # Off the board until this pass decides to wait again (a restart or a backoff, below).
        self.propagation.done(resource.uid)
        # The status, or this process's memory when a pass queued behind the last restart holds an
        # older body: whichever saw more.
        count = max(int(resource.status.get("restartCount") or 0), memory.restarts)
        on_failure = spec.restart_policy.type is RestartPolicyType.ON_FAILURE
        # The connector reached this point with its integration Ready: the operator's own checks say the
        # trust and permissions are right, so an AWS access error is most likely a change that has not
        # reached every AWS endpoint yet. It is ridden out, up to a bound, without the user's help.
        propagating = spec.provider_integration_ref is not None and bool(AWS_ACCESS_ERROR.search(observed.trace))
        if on_failure:
            cap = float(spec.restart_policy.max_backoff_seconds)
        elif propagating and count < IAM_PROPAGATION_RESTARTS:
            cap = IAM_PROPAGATION_MAX_BACKOFF_SECONDS
        else:
            return False
        # The first restart goes at once; then 10 s, 20 s, 40 s ... up to the cap between restarts.
        backoff = 0.0 if count == 0 else min(cap, RESTART_BASE_BACKOFF_SECONDS * 2 ** (count - 1))
        since = min(seconds_since(resource.status.get("lastRestartTime")), time.monotonic() - memory.restarted_at)
        riding_out = propagating and integration_id is not None
        last_try = max(memory.written_at, memory.restarted_at)
        if riding_out and self.propagation.started_since(str(integration_id), last_try):
            # A sibling on the same role started fine after this connector's last try: AWS has caught
            # up. (Not within moments of the last restart, whose FAILED may be a read trailing it.)
            backoff = min(backoff, POLL_FIRST_SECONDS)
        if since < backoff:
            if riding_out:
                self.propagation.wait(str(integration_id), resource.uid)
            # Within moments of the last restart a FAILED may be a read trailing it (a pass woken then):
            # looked at again when the restart's own poll would have, not only once the backoff is over.
            outcome.retry_after = POLL_FIRST_SECONDS - since if since < POLL_FIRST_SECONDS else backoff - since
            return False
        await client.restart_connector(spec.environment, spec.kafka_cluster, name)
        memory.restarts, memory.restarted_at = count + 1, time.monotonic()
        # A new attempt: its polls start again from the first delay, whatever the last attempt's were.
        memory.polls, memory.polled_state = 0, None
        if riding_out:
            # Woken when a sibling starts fine after this try: if this try fails, the next goes at once.
            self.propagation.wait(str(integration_id), resource.uid)
        outcome.status["restartCount"] = count + 1
        outcome.status["lastRestartTime"] = now_rfc3339()
        # Looked at again soon rather than at the next resync: the read right after still shows FAILED
        # (reads trail writes), and a connector that failed on IAM propagation runs once AWS caught up.
        outcome.retry_after = POLL_FIRST_SECONDS
        if propagating and not on_failure:
            message = (
                f"restarted connector {name}, which failed on an AWS access error although its ProviderIntegration's "
                "trust and permission checks pass: AWS takes seconds to minutes to apply IAM changes everywhere "
                f"(restart {count + 1} of at most {IAM_PROPAGATION_RESTARTS})"
            )
        else:
            message = f"restarted failed connector {name} (restart {count + 1})"
        outcome.events.append(Event("Warning", "ConnectorRestarted", message))
        return True

    def _report(
        self, resource: ConnectorRef, spec: ManagedConnectorSpec, observed: ConnectorSnapshot | None, outcome: Outcome
    ) -> None:
        memory = self._remember(resource.uid)
        synced = Condition(SYNCED, True, "ReconcileSuccess", "the connector matches the spec")
        if observed is None:
            self._wait_for(outcome, memory, None, "Creating", "waiting for Confluent to list the connector")
            outcome.conditions.append(synced)
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
        poll: tuple[str, str] | None = None
        if state == "PAUSED" and paused_wanted:
            ready = Condition(READY, True, "Paused", "the connector is paused as spec.state asks")
        elif state == "FAILED":
            # Failed is where polling ends: the periodic resync keeps watching, and a restart the policy
            # scheduled has already set retry_after.
            ready = Condition(READY, False, "Failed", observed.trace or "the connector failed")
        elif state == "DEGRADED":
            poll = ("Degraded", observed.trace or "some tasks are not running")
        elif paused_wanted:
            poll = ("Pausing", f"the connector is {state}; it is paused once it is RUNNING")
        elif state == "RUNNING":
            ready = Condition(READY, True, "Available", f"the connector is running ({observed.tasks_ready} tasks)")
        elif state == "PAUSED":
            poll = ("Resuming", "the connector is paused; resuming it")
        else:
            poll = ("Creating", f"the connector is {state}")
        if poll is not None:
            self._wait_for(outcome, memory, state, *poll)
            outcome.conditions.append(synced)
            return
        memory.polls, memory.polled_state = 0, state
        outcome.conditions = [ready, synced]
        if outcome.retry_after is not None and ready.status is not True:
            outcome.finished = False

    @staticmethod
    def _wait_for(outcome: Outcome, memory: _Memory, state: str | None, reason: str, message: str) -> None:
        """Ready=False with a reason, and a poll that backs off while the observed state stays the same.

        Not listed yet and PROVISIONING are one phase: Confluent is still bringing the connector up.
        """
        phase = "PROVISIONING" if state in (None, "NONE") else state
        if phase != memory.polled_state:
            memory.polls, memory.polled_state = 0, phase
        memory.poll_delay = min(POLL_MAX_SECONDS, POLL_FIRST_SECONDS * 2**memory.polls)
        memory.polls += 1
        outcome.conditions = [Condition(READY, False, reason, message)]
        outcome.retry_after = memory.poll_delay
        outcome.finished = False

    # -- delete ------------------------------------------------------------------------------------

    async def finalize(self, resource: ConnectorRef, spec: ManagedConnectorSpec) -> Outcome:
        """Delete the connector this object created, once, and wait until Confluent stops listing it."""
        outcome = Outcome()
        name = spec.effective_connector_name(resource.name)
        if spec.deletion_policy is DeletionPolicy.ORPHAN:
            outcome.events.append(Event("Normal", "Orphaned", f"left connector {name} in Confluent Cloud"))
            return outcome
        try:
            await self._finalize(resource, spec, name, outcome)
        except Exception as error:
            outcome.record_failure(error, roles_hint=CONNECTOR_ROLES_HINT, deleting=True)
        return outcome

    async def _finalize(self, resource: ConnectorRef, spec: ManagedConnectorSpec, name: str, outcome: Outcome) -> None:
        client = await self._clients.confluent(self._kube, resource.namespace, spec.cloud_credentials_secret_ref)
        env, cluster = spec.environment, spec.kafka_cluster
        memory = self._remember(resource.uid)
        try:
            observed = (await self._cache.connectors(client, env, cluster, max_age=0)).get(name)
        except ConfluentError as error:
            if not means_gone(error):
                raise
            outcome.events.append(
                Event(
                    "Warning",
                    "ClusterGone",
                    f"Confluent Cloud answers {error.status} for cluster {cluster} in {env}: it is gone (or the API "
                    f"key lost its role on it), so connector {name} counts as deleted ({error})",
                )
            )
            return
        pending_age = self._creates.pending_age(resource.uid, resource.annotations.get(CREATE_PENDING_ANNOTATION))
        if observed is None:
            if pending_age is not None and pending_age < self._create_pending_grace:
                # Created moments ago and not listed yet: deleting now would leave it behind.
                self._wait_for_delete(outcome, memory, None, f"waiting for Confluent to list {name} to delete it")
            return
        owned = resource.status.get("connectorName") == name or self._creates.created(resource.uid) == name
        if not (owned or pending_age is not None):
            outcome.events.append(
                Event(
                    "Normal",
                    "ConnectorLeft",
                    f"left connector {name} in Confluent Cloud: this object did not create it",
                )
            )
            return
        if observed.state == "DELETED":
            self._wait_for_delete(outcome, memory, observed.state, f"waiting for Confluent to finish deleting {name}")
            return
        since_delete = min(
            seconds_since(resource.status.get("deleteRequestedAt")), time.monotonic() - memory.delete_sent_at
        )
        if since_delete < DELETE_RESEND_SECONDS:
            self._wait_for_delete(outcome, memory, observed.state, f"waiting for Confluent to delete {name}")
            return
        await client.delete_connector(env, cluster, name)
        memory.delete_sent_at = time.monotonic()
        outcome.status["deleteRequestedAt"] = now_rfc3339()
        outcome.events.append(Event("Normal", "ConnectorDeleted", f"deleted connector {name}"))
        self._cache.forget(client, env, cluster)
        if name in await self._cache.connectors(client, env, cluster, max_age=0):
            self._wait_for_delete(outcome, memory, "DELETED", f"waiting for Confluent to finish deleting {name}")

    @staticmethod
    def _wait_for_delete(outcome: Outcome, memory: _Memory, state: str | None, message: str) -> None:
        if state != memory.polled_state:
            memory.polls, memory.polled_state = 0, state
        delay = min(DELETE_POLL_MAX_SECONDS, DELETE_POLL_FIRST_SECONDS * 2**memory.polls)
        memory.polls += 1
        outcome.conditions = [Condition(READY, False, "Deleting", message)]
        outcome.retry_after = delay
        outcome.finished = False


def _owner(resource: ConnectorRef) -> str:
    return f"{resource.namespace}/{resource.name}"


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
