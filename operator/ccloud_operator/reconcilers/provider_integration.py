"""ProviderIntegration: the IAM role, the Confluent integration, the trust policy, validation, deletion.

One pass of ``reconcile`` serves create, update, resume and the periodic validation alike: it observes
Confluent and AWS, writes only what differs, and reports what it saw. Every step is safe to repeat
after a crash at any line:

* the integration is looked up by the customer role ARN (unique per environment) before any create,
  and a create-pending annotation is written *before* the create call, so a lost response or a crash
  between the call and the status write is adopted on the next pass instead of creating a duplicate;
* an object owns the integration it created: its id is in ``status.integrationId``, or (between the
  create and the status write) the create-pending marker covers it. The marker goes only once the
  status holds the id *and* the integration has been seen, because reads trail writes for seconds
  after a create. An integration for the role that this object did not create is reported
  (``AlreadyExists``), never taken over or deleted;
* the role is tagged as the operator's at creation, so a re-run recognises its own role;
* policy documents are compared semantically; AWS is written only when they differ.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any

from ccloud_operator import metrics
from ccloud_operator.aws import policy
from ccloud_operator.aws.iam import IamClient, Role, role_arn_for, role_name_from_arn
from ccloud_operator.aws.policy import PolicyDocument
from ccloud_operator.clients import ClientPool
from ccloud_operator.conditions import READY, SYNCED, Condition, now_rfc3339, seconds_since
from ccloud_operator.confluent.client import ConfluentClient
from ccloud_operator.confluent.errors import Conflict, ConfluentError, Forbidden, InUse
from ccloud_operator.confluent.models import Integration
from ccloud_operator.constants import (
    CREATE_PENDING_ANNOTATION,
    MANAGED_BY_TAG,
    OWNER_TAG,
    PERMISSION_POLICY_NAME,
    PROVIDER_INTEGRATIONS,
)
from ccloud_operator.kube import KubeGateway
from ccloud_operator.models.common import DeletionPolicy
from ccloud_operator.models.provider_integration import ProviderIntegrationSpec, TrustPolicyMode
from ccloud_operator.reconcilers.outcome import Event, Outcome, SpecProblem
from ccloud_operator.reconcilers.pending import Creates

logger = logging.getLogger(__name__)

CREATE_ROLES_HINT = "creating provider integrations needs OrganizationAdmin or EnvironmentAdmin"
#: How soon a pass that repaired AWS checks again, to report the repaired state.
REVALIDATE_AFTER_REPAIR_SECONDS = 3.0
#: How often deletion re-checks while something still uses the integration.
DELETE_WAIT_SECONDS = 10.0
#: How soon a pass that waits for a created integration to show up in Confluent's reads looks again.
CREATE_VISIBILITY_POLL_SECONDS = 3.0


@dataclass(frozen=True)
class ResourceRef:
    """The Kubernetes object being reconciled."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    status: dict[str, Any]
    annotations: dict[str, str]


class ProviderIntegrationReconciler:
    """Reconciles ProviderIntegrations against Confluent Cloud and AWS IAM."""

    def __init__(self, clients: ClientPool, kube: KubeGateway, *, create_pending_grace: float = 30.0) -> None:
        """``create_pending_grace``: how long a create whose answer was lost is given to show up in the
        integration list before the operator concludes it never happened and creates again."""
        self._clients = clients
        self._kube = kube
        self._create_pending_grace = create_pending_grace
        self._creates = Creates()

    def forget(self, uid: str) -> None:
        """Drop what this process remembers of a deleted object."""
        self._creates.settled(uid)

    # -- reconcile ---------------------------------------------------------------------------------

    async def reconcile(self, resource: ResourceRef, spec: ProviderIntegrationSpec) -> Outcome:
        """Bring the integration, the role and its trust policy to the spec; report what is true."""
        outcome = Outcome()
        try:
            await self._reconcile(resource, spec, outcome)
        except Exception as error:  # classified once, in outcome.classify; unknown errors propagate
            outcome.record_failure(error, roles_hint=CREATE_ROLES_HINT)
        outcome.status["observedGeneration"] = resource.generation
        return outcome

    async def _reconcile(self, resource: ResourceRef, spec: ProviderIntegrationSpec, outcome: Outcome) -> None:
        confluent = await self._clients.confluent(self._kube, resource.namespace, spec.cloud_credentials_secret_ref)
        iam = await self._clients.iam(self._kube, resource.namespace, spec.aws.credentials_secret_ref, spec.aws.region)
        role_arn = await self._role_arn(resource, spec, iam)
        outcome.status["roleArn"] = role_arn
        outcome.status["roleManaged"] = spec.aws.create_role is not None

        integration = await self._observe_integration(resource, spec, confluent, role_arn, outcome)
        if integration is None:
            integration = await self._create_integration(resource, spec, confluent, role_arn, outcome)
            if integration is None:
                return  # waiting for a create to show up
        elif integration.id == resource.status.get("integrationId"):
            # The create is recorded and visible: nothing is pending any more.
            self._creates.settled(resource.uid)
            if CREATE_PENDING_ANNOTATION in resource.annotations:
                outcome.annotations[CREATE_PENDING_ANNOTATION] = None
        outcome.status.update(
            integrationId=integration.id,
            displayName=integration.display_name,
            confluentRoleArn=integration.confluent_role_arn,
            externalId=integration.external_id,
            usages=list(integration.usages),
        )
        statement = policy.trust_statement(integration.confluent_role_arn, integration.external_id)
        outcome.status["requiredTrustPolicy"] = json.dumps(statement, sort_keys=True)

        role, repaired, known = await self._converge_role(resource, spec, iam, role_arn, statement, outcome)
        # Validation reports the role as found, so a repaired drift shows as Ready=False with its
        # reason until the quick re-check that follows the repair.
        await self._validate(spec, iam, role, integration, role_arn, outcome, known)
        outcome.status["validation"] = _keep_unchanged_stamps(
            outcome.status["validation"], resource.status.get("validation") or {}
        )
        if repaired:
            outcome.retry_after = REVALIDATE_AFTER_REPAIR_SECONDS
        if CREATE_PENDING_ANNOTATION in resource.annotations and CREATE_PENDING_ANNOTATION not in outcome.annotations:
            # The marker is cleared by a pass that sees the recorded id; have one soon, not at the next
            # validation, so "a create may be in flight" does not outlive the create by minutes.
            outcome.retry_after = min(
                outcome.retry_after or CREATE_VISIBILITY_POLL_SECONDS, CREATE_VISIBILITY_POLL_SECONDS
            )
            outcome.finished = False

    async def _role_arn(self, resource: ResourceRef, spec: ProviderIntegrationSpec, iam: IamClient) -> str:
        if spec.aws.role_arn:
            return spec.aws.role_arn
        create = spec.aws.create_role
        assert create is not None  # the spec model guarantees one mode
        known = resource.status.get("roleArn")
        # The account never changes under a role, so after the first pass the STS call is saved.
        if isinstance(known, str) and known.endswith(f":role{create.path}{create.role_name}"):
            return known
        return role_arn_for(await iam.account_id(), create.path, create.role_name)

    async def _observe_integration(
        self,
        resource: ResourceRef,
        spec: ProviderIntegrationSpec,
        confluent: ConfluentClient,
        role_arn: str,
        outcome: Outcome,
    ) -> Integration | None:
        """This object's integration as Confluent shows it now, or None when there is none (yet)."""
        known_id = resource.status.get("integrationId")
        if known_id:
            integration = await confluent.get_integration(spec.environment, known_id)
            if integration is not None and integration.customer_role_arn == role_arn:
                return integration
            if integration is not None:
                # Never use an integration of another role, whatever the status says.
                outcome.events.append(
                    Event(
                        "Warning",
                        "IntegrationMismatch",
                        f"integration {known_id} registers {integration.customer_role_arn}, not {role_arn}; "
                        "looking for this role's own integration",
                    )
                )
                known_id = None
        # Not known, or not found by id: the role ARN is unique per environment, so it finds ours.
        found = await confluent.find_integration_by_role(spec.environment, role_arn)
        if found is None:
            return None
        pending = self._creates.pending_age(resource.uid, resource.annotations.get(CREATE_PENDING_ANNOTATION))
        if found.id == known_id or pending is not None:
            return found  # ours: recorded, or made by a create whose answer was lost (or not recorded yet)
        self._adopt_or_refuse(spec, found.id, role_arn, outcome, f" (display name {found.display_name!r})")
        return found

    @staticmethod
    def _adopt_or_refuse(
        spec: ProviderIntegrationSpec, integration_id: str, role_arn: str, outcome: Outcome, detail: str = ""
    ) -> None:
        """An integration for the role that this object did not create: take it when the spec asks to."""
        if not spec.adopt_existing:
            raise AlreadyExists(
                f"IAM role {role_arn} is already registered in Confluent Cloud as provider integration "
                f"{integration_id}{detail}, which this ProviderIntegration did not create; it is left alone. Set "
                "spec.adoptExisting to take it over, delete it, or name another role."
            )
        outcome.events.append(
            Event("Normal", "IntegrationAdopted", f"took over provider integration {integration_id} of {role_arn}")
        )

    async def _create_integration(
        self,
        resource: ResourceRef,
        spec: ProviderIntegrationSpec,
        confluent: ConfluentClient,
        role_arn: str,
        outcome: Outcome,
    ) -> Integration | None:
        pending = self._creates.pending_age(resource.uid, resource.annotations.get(CREATE_PENDING_ANNOTATION))
        if pending is not None and pending < self._create_pending_grace:
            # An earlier pass sent the create; Confluent's reads trail its writes, and a crash may have
            # lost the answer. Give the list a moment to show it rather than risk a second integration.
            _wait_to_show_up(outcome)
            return None
        known_id = resource.status.get("integrationId")
        if known_id:
            outcome.events.append(
                Event(
                    "Warning",
                    "IntegrationMissing",
                    f"integration {known_id} no longer exists in Confluent Cloud; registering {role_arn} again",
                )
            )
        display_name = spec.effective_display_name(resource.namespace, resource.name)
        # The marker goes to the API server before the create call: a crash after the call leaves
        # a trace that the next pass sees.
        await self._kube.annotate(
            PROVIDER_INTEGRATIONS,
            resource.namespace,
            resource.name,
            {CREATE_PENDING_ANNOTATION: now_rfc3339()},
        )
        self._creates.sent(resource.uid, role_arn)
        try:
            integration = await confluent.create_integration(spec.environment, display_name, role_arn)
        except Conflict as conflict:
            # The role was registered before this create. An earlier create of ours (its marker had
            # expired) may have made it; otherwise someone else did, and it is not ours to take.
            # The 409's Location names the existing integration [pim1]; reads may not show it yet.
            existing = (conflict.location or "").split("?", 1)[0].rsplit("/", 1)[-1] or "(id not given)"
            if pending is None and existing != resource.status.get("integrationId"):
                outcome.annotations[CREATE_PENDING_ANNOTATION] = None
                self._creates.settled(resource.uid)
                self._adopt_or_refuse(spec, existing, role_arn, outcome)
            found = await confluent.find_integration_by_role(spec.environment, role_arn)
            if found is None:
                _wait_to_show_up(outcome)  # ours (or adopted), and not listed yet
            return found
        except ConfluentError as error:
            # A 4xx answer (quota, validation, auth, 429) means nothing was created: no marker to
            # honour. A 5xx or no answer at all may have created it, so the marker stays.
            if error.status is not None and 400 <= error.status < 500:
                outcome.annotations[CREATE_PENDING_ANNOTATION] = None
                self._creates.settled(resource.uid)
            raise
        outcome.events.append(
            Event(
                "Normal",
                "IntegrationCreated",
                f"registered {role_arn} as provider integration {integration.id}",
            )
        )
        logger.info("Created provider integration %s for %s", integration.id, role_arn)
        return integration

    async def _converge_role(
        self,
        resource: ResourceRef,
        spec: ProviderIntegrationSpec,
        iam: IamClient,
        role_arn: str,
        statement: policy.Statement,
        outcome: Outcome,
    ) -> tuple[Role | None, bool, dict[str, PolicyDocument]]:
        """Create or repair the role; return it as observed before any repair, whether a repair happened,
        and the inline permission documents this pass already knows (by name), so they are not read twice."""
        role_name = role_name_from_arn(role_arn)
        role = await iam.get_role(role_name)
        create = spec.aws.create_role
        owner = f"{resource.namespace}/{resource.name}"
        if create is not None:
            tags = {**create.tags, MANAGED_BY_TAG: "ccloud-operator", OWNER_TAG: owner}
            if role is None:
                role = await iam.create_role(
                    role_name,
                    path=create.path,
                    trust_policy=policy.with_trust_statement({}, statement),
                    tags=tags,
                    max_session_duration=create.max_session_duration_seconds,
                    permissions_boundary=create.permissions_boundary,
                )
                outcome.events.append(Event("Normal", "RoleCreated", f"created IAM role {role_arn}"))
                inline = await self._converge_permissions(spec, iam, role_name, role_arn, outcome)
                return role, False, _known(inline)
            if role.tags.get(OWNER_TAG) != owner:
                raise RoleConflict(
                    f"IAM role {role_arn} exists and is not owned by {owner}; name another role or use aws.roleArn"
                )
            if role.max_session_duration != create.max_session_duration_seconds:
                await iam.update_max_session_duration(role_name, create.max_session_duration_seconds)
            if role.permissions_boundary != create.permissions_boundary:
                await iam.put_permissions_boundary(role_name, create.permissions_boundary)
            if any(role.tags.get(key) != value for key, value in tags.items()):
                await iam.tag_role(role_name, tags)
            known = _known(await self._converge_permissions(spec, iam, role_name, role_arn, outcome))
        elif role is None:
            raise RoleNotFound(f"IAM role {role_arn} does not exist")
        else:
            known = {}
        if create is None and spec.aws.trust_policy is TrustPolicyMode.REPORT:
            return role, False, known
        desired_trust = policy.with_trust_statement(role.trust_policy, statement)
        if policy.documents_equal(role.trust_policy, desired_trust):
            return role, False, known
        await iam.update_trust_policy(role_name, desired_trust)
        first_write = resource.status.get("confluentRoleArn") != statement["Principal"]["AWS"]
        if first_write:
            outcome.events.append(Event("Normal", "TrustPolicyUpdated", f"added Confluent's statement to {role_arn}"))
            return dataclasses.replace(role, trust_policy=desired_trust), False, known
        outcome.events.append(Event("Warning", "TrustPolicyRepaired", _drift_message(role, statement)))
        return role, True, known

    async def _converge_permissions(
        self, spec: ProviderIntegrationSpec, iam: IamClient, role_name: str, role_arn: str, outcome: Outcome
    ) -> PolicyDocument | None:
        """Write the operator's inline permission policy when it differs; return it as it now is."""
        permissions = spec.aws.permissions
        account_id = role_arn.split(":")[4]
        current = await iam.get_inline_policy(role_name, PERMISSION_POLICY_NAME)
        if permissions.empty:
            if current is not None:
                # Nothing is granted any more: the policy that granted the old permissions goes.
                await iam.delete_inline_policy(role_name, PERMISSION_POLICY_NAME)
                outcome.events.append(
                    Event("Normal", "PermissionsRemoved", f"removed the permission policy of {role_arn}")
                )
            return None
        desired = policy.permission_document(
            permissions.s3_buckets,
            permissions.dynamodb_tables,
            permissions.policy_document,
            account_id=account_id,
        )
        if current is None or not policy.documents_equal(current, desired):
            await iam.put_inline_policy(role_name, PERMISSION_POLICY_NAME, desired)
            outcome.events.append(Event("Normal", "PermissionsUpdated", f"wrote the permission policy of {role_arn}"))
        return desired

    async def _validate(
        self,
        spec: ProviderIntegrationSpec,
        iam: IamClient,
        role: Role | None,
        integration: Integration,
        role_arn: str,
        outcome: Outcome,
        known: dict[str, PolicyDocument],
    ) -> None:
        checked = now_rfc3339()
        integration_check = _check(True, f"integration {integration.id} registers {role_arn}", checked)
        if role is None:
            trust = _check(False, f"IAM role {role_arn} does not exist", checked)
            permissions = _check(False, f"IAM role {role_arn} does not exist", checked)
        else:
            admitted, reason = policy.trust_admits(
                role.trust_policy, integration.confluent_role_arn, integration.external_id
            )
            trust = _check(admitted, reason, checked)
            permissions = await self._check_permissions(spec, iam, role, role_arn, checked, known)
        outcome.status["validation"] = {
            "trustPolicy": trust,
            "permissions": permissions,
            "integration": integration_check,
        }
        synced = Condition(SYNCED, True, "ReconcileSuccess", "Confluent and AWS match the spec")
        if trust["result"] != "Passed":
            if spec.aws.trust_policy is TrustPolicyMode.REPORT and role is not None:
                ready = Condition(
                    READY,
                    False,
                    "TrustPolicyPending",
                    f"add status.requiredTrustPolicy to the trust policy of {role_arn}: {trust['message']}",
                )
            else:
                ready = Condition(READY, False, "TrustPolicyInvalid", f"{role_arn}: {trust['message']}")
        elif permissions["result"] == "Failed":
            ready = Condition(READY, False, "PermissionsMissing", f"{role_arn}: {permissions['message']}")
        else:
            ready = Condition(READY, True, "Available", f"integration {integration.id} is ready for connectors")
        outcome.conditions = [ready, synced]

    async def _check_permissions(
        self,
        spec: ProviderIntegrationSpec,
        iam: IamClient,
        role: Role,
        role_arn: str,
        checked: str,
        known: dict[str, PolicyDocument],
    ) -> dict[str, Any]:
        permissions = spec.aws.permissions
        if not (permissions.s3_buckets or permissions.dynamodb_tables):
            return _check(None, "no permission presets to check", checked)
        documents = await iam.permission_documents(role.name, known)
        account_id = role_arn.split(":")[4]
        missing = [
            f"{action} on {resource}"
            for action, resource in policy.required_permissions(
                permissions.s3_buckets,
                permissions.dynamodb_tables,
                account_id=account_id,
                region=spec.aws.region,
            )
            if not policy.is_allowed(documents, action, resource)
        ]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            return _check(False, f"the role's policies do not allow {shown}", checked)
        return _check(True, "the role's policies allow every action the presets need", checked)

    # -- delete ------------------------------------------------------------------------------------

    async def finalize(self, resource: ResourceRef, spec: ProviderIntegrationSpec) -> Outcome:
        """Undo the integration in order: wait for users, delete the integration, then the role's part."""
        outcome = Outcome()
        if spec.deletion_policy is DeletionPolicy.ORPHAN:
            outcome.events.append(Event("Normal", "Orphaned", "left the integration and the IAM role in place"))
            return outcome
        try:
            await self._finalize(resource, spec, outcome)
        except Exception as error:
            outcome.record_failure(error, roles_hint=CREATE_ROLES_HINT, deleting=True)
        return outcome

    async def _finalize(self, resource: ResourceRef, spec: ProviderIntegrationSpec, outcome: Outcome) -> None:
        users = [
            item["metadata"]["name"]
            for item in await self._kube.list_managed_connectors(resource.namespace)
            if (item.get("spec", {}).get("providerIntegrationRef") or {}).get("name") == resource.name
        ]
        if users:
            self._wait(outcome, f"ManagedConnectors still use this integration: {', '.join(sorted(users))}")
            return
        confluent = await self._clients.confluent(self._kube, resource.namespace, spec.cloud_credentials_secret_ref)
        iam = await self._clients.iam(self._kube, resource.namespace, spec.aws.credentials_secret_ref, spec.aws.region)
        # A crash before the first status write leaves no roleArn in the status: it is derived again.
        role_arn = await self._role_arn(resource, spec, iam)
        integration = await self._owned_integration(resource, spec, confluent, role_arn, outcome)
        if not outcome.finished:
            return
        if integration is not None:
            if integration.usages:
                self._wait(
                    outcome,
                    f"Confluent Cloud still lists users of {integration.id}: {', '.join(integration.usages)}",
                )
                return
            try:
                await confluent.delete_integration(spec.environment, integration.id)
            except InUse as error:
                self._wait(outcome, f"Confluent Cloud refuses to delete {integration.id} while it is in use: {error}")
                return
            outcome.events.append(
                Event("Normal", "IntegrationDeleted", f"deleted provider integration {integration.id}")
            )
        role_name = role_name_from_arn(role_arn)
        role = await iam.get_role(role_name)
        if role is None:
            return
        if spec.aws.create_role is not None:
            if role.tags.get(OWNER_TAG) == f"{resource.namespace}/{resource.name}":
                await iam.delete_role(role_name)
                outcome.events.append(Event("Normal", "RoleDeleted", f"deleted IAM role {role_arn}"))
        elif spec.aws.trust_policy is TrustPolicyMode.MANAGE and resource.status.get("confluentRoleArn"):
            # Only a statement this object wrote (it had an integration) is its to remove.
            trimmed = policy.without_trust_statement(role.trust_policy)
            if policy.documents_equal(trimmed, role.trust_policy):
                return
            if not trimmed["Statement"]:
                # IAM refuses a trust policy without statements. The integration is gone, so its
                # external ID admits nobody; the statement stays rather than leave a broken role.
                outcome.events.append(
                    Event(
                        "Normal",
                        "TrustStatementKept",
                        f"left Confluent's statement in the trust policy of {role_arn}: it is the only statement "
                        "and IAM refuses an empty trust policy; it admits nobody now that the integration is deleted",
                    )
                )
                return
            await iam.update_trust_policy(role_name, trimmed)
            outcome.events.append(
                Event("Normal", "TrustStatementRemoved", f"removed Confluent's statement from {role_arn}")
            )

    async def _owned_integration(
        self,
        resource: ResourceRef,
        spec: ProviderIntegrationSpec,
        confluent: ConfluentClient,
        role_arn: str,
        outcome: Outcome,
    ) -> Integration | None:
        """The integration this object created, for deletion; None when there is none (any more).

        A read that answers 404 or 403 is confirmed with the list (403 may stand for 404, or for a role
        the key lost). While a create of this object may still be invisible, deletion waits for it.
        """
        integration_id = resource.status.get("integrationId")
        pending = self._creates.pending_age(resource.uid, resource.annotations.get(CREATE_PENDING_ANNOTATION))
        if integration_id:
            integration = await confluent.get_integration(spec.environment, integration_id)
            if integration is not None:
                return integration
        if not (integration_id or pending is not None):
            return None  # this object never created one
        try:
            found = await confluent.find_integration_by_role(spec.environment, role_arn)
        except Forbidden as error:
            outcome.events.append(
                Event(
                    "Warning",
                    "IntegrationUnreachable",
                    f"Confluent Cloud refuses to show environment {spec.environment} ({error}); it answers so for "
                    f"an environment that is gone, so integration {integration_id or 'for ' + role_arn} counts as "
                    "deleted. If the API key only lost its role, delete the integration in Confluent Cloud by hand.",
                )
            )
            return None
        if found is not None and (found.id == integration_id or pending is not None):
            return found
        if found is None and pending is not None and pending < self._create_pending_grace:
            self._wait(outcome, "waiting for a create sent earlier to show up in Confluent Cloud before deleting")
        return None

    @staticmethod
    def _wait(outcome: Outcome, message: str) -> None:
        outcome.conditions = [Condition(READY, False, "DeletionBlocked", message)]
        outcome.events.append(Event("Normal", "DeletionBlocked", message))
        outcome.retry_after = DELETE_WAIT_SECONDS
        outcome.finished = False


class RoleConflict(SpecProblem):
    """A role with the wanted name exists and belongs to someone else."""

    reason = "RoleConflict"


class RoleNotFound(SpecProblem):
    """The existing role named by aws.roleArn does not exist."""

    reason = "RoleNotFound"


class AlreadyExists(SpecProblem):
    """Confluent already has an integration for the role, which this object did not create."""

    reason = "AlreadyExists"


#: How long an unchanged check result keeps its lastChecked stamp before it is refreshed anyway.
CHECK_STAMP_REFRESH_SECONDS = 3600.0


def _keep_unchanged_stamps(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Checks whose result and message did not change keep their previous lastChecked (up to an hour).

    Otherwise every validation would rewrite the status of every healthy integration just to move a
    timestamp: an idle operator's only writes. The validation metric shows each check ran.
    """
    kept: dict[str, Any] = {}
    for name, check in current.items():
        metrics.VALIDATIONS.labels(check=name, result=check["result"]).inc()
        before = previous.get(name) or {}
        unchanged = (before.get("result"), before.get("message")) == (check["result"], check["message"])
        if unchanged and seconds_since(before.get("lastChecked")) < CHECK_STAMP_REFRESH_SECONDS:
            check = {**check, "lastChecked": before["lastChecked"]}
        kept[name] = check
    return kept


def _wait_to_show_up(outcome: Outcome) -> None:
    outcome.conditions = [
        Condition(READY, False, "Creating", "waiting for the integration to show up in Confluent Cloud"),
        Condition(SYNCED, True, "ReconcileSuccess", "create pending"),
    ]
    outcome.retry_after = CREATE_VISIBILITY_POLL_SECONDS
    outcome.finished = False


def _known(inline: PolicyDocument | None) -> dict[str, PolicyDocument]:
    return {PERMISSION_POLICY_NAME: inline} if inline is not None else {}


def _check(result: bool | None, message: str, checked: str) -> dict[str, Any]:
    return {
        "result": {True: "Passed", False: "Failed", None: "Unknown"}[result],
        "message": message,
        "lastChecked": checked,
    }


def _drift_message(role: Role, statement: policy.Statement) -> str:
    _, reason = policy.trust_admits(
        role.trust_policy,
        statement["Principal"]["AWS"],
        statement["Condition"]["StringEquals"]["sts:ExternalId"],
    )
    return f"the trust policy of {role.arn} was wrong ({reason}); wrote Confluent's statement back"
