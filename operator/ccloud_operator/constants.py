"""Names shared by the CRDs, the handlers and the chart: one place for each."""

GROUP = "ccloud.operator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

PROVIDER_INTEGRATIONS = "providerintegrations"
MANAGED_CONNECTORS = "managedconnectors"
PROVIDER_INTEGRATION_KIND = "ProviderIntegration"
MANAGED_CONNECTOR_KIND = "ManagedConnector"

#: The name Events are posted under (`kubectl get events` column SOURCE, reportingComponent).
EVENT_COMPONENT = "ccloud-operator"

#: The finalizer that keeps a resource until its external objects are gone.
FINALIZER = f"{GROUP}/finalizer"
#: kopf's own bookkeeping annotations get this prefix instead of kopf.zalando.org. It must differ
#: from GROUP: the resync loop's slim copy, and so its change detection, leaves every annotation under
#: this prefix out, which would make the restart and dependency annotations below invisible to it.
KOPF_PREFIX = f"kopf.{GROUP}"

#: Written before a Confluent create call whose id the server assigns, so a crash
#: between the call and the status write is recognised after a restart.
CREATE_PENDING_ANNOTATION = f"{GROUP}/create-pending"
#: Changing this annotation's value asks the operator to restart a connector once.
RESTART_ANNOTATION = f"{GROUP}/restart"

#: Sid of the one trust-policy statement the operator owns inside a role's trust policy.
TRUST_STATEMENT_SID = "ConfluentProviderIntegration"
#: Name of the inline permission policy on a role the operator created.
PERMISSION_POLICY_NAME = "ccloud-operator-permissions"
#: Tag on roles the operator created; deletion only touches roles carrying it.
MANAGED_BY_TAG = "ccloud.operator.dev/managed-by"
OWNER_TAG = "ccloud.operator.dev/owner"

#: Confluent returns secret config values masked with this (any run of two or more asterisks).
MASK_PREFIX = "**"

#: `"true"` stops every external call for the object (Crossplane's and Strimzi's convention); removing
#: it resumes at once.
PAUSED_ANNOTATION = f"{GROUP}/paused"
