"""The Helm chart as rendered by `helm template` and checked by `helm lint`: no cluster needed."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from chart_support import (
    CHART,
    KUBE_VERSION,
    NAMESPACED_VALUES,
    REPO,
    container_env,
    helm,
    objects_of,
    one,
    render,
    repository_crds,
    values_file,
)


def rules_of(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """A role's rules flattened to (apiGroup, resource, verb) triples."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


AGGREGATE_LABEL = "rbac.authorization.k8s.io/aggregate-to-"


def tenant_roles(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ClusterRoles that aggregate into a built-in role, by that role's name (edit, admin, view)."""
    return {
        key.removeprefix(AGGREGATE_LABEL): role
        for role in objects_of(rendered, "ClusterRole")
        for key, value in role["metadata"].get("labels", {}).items()
        if key.startswith(AGGREGATE_LABEL) and value == "true"
    }


def operator_cluster_role(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator's own ClusterRole (the one its ClusterRoleBinding names, not a tenant role)."""
    tenants = [role["metadata"]["name"] for role in tenant_roles(rendered).values()]
    (role,) = [r for r in objects_of(rendered, "ClusterRole") if r["metadata"]["name"] not in tenants]
    return role


# -- one source of truth ---------------------------------------------------------------------------------------


def test_chart_crd_files_are_byte_for_byte_copies_of_crds_dir() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "hack" / "sync-chart.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    copies = sorted(path.name for path in (CHART / "files" / "crds").glob("*.yaml"))
    assert copies == sorted(path.name for path in (REPO / "crds").glob("*.yaml"))


def test_rendered_crds_equal_crds_dir_except_for_release_labels_and_keep_annotation() -> None:
    rendered = {crd["metadata"]["name"]: crd for crd in objects_of(render(), "CustomResourceDefinition")}
    expected = repository_crds()
    assert rendered.keys() == expected.keys()
    for name, crd in rendered.items():
        metadata = crd.pop("metadata")
        assert metadata["annotations"] == {"helm.sh/resource-policy": "keep"}
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        expected_crd = dict(expected[name])
        expected_crd.pop("metadata")
        assert crd == expected_crd, f"{name} differs from crds/"


def test_install_manifest_equals_a_fresh_render_of_the_chart() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "hack" / "render-install.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_install_manifest_creates_its_namespace_first_and_puts_everything_in_it() -> None:
    documents = [doc for doc in yaml.safe_load_all((REPO / "deploy" / "install.yaml").read_text()) if doc]
    assert documents[0]["kind"] == "Namespace"
    assert documents[0]["metadata"]["name"] == "ccloud-operator"
    assert documents[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    namespaced = [doc for doc in documents if "namespace" in doc["metadata"]]
    assert {doc["metadata"]["namespace"] for doc in namespaced} == {"ccloud-operator"}
    assert {doc["kind"] for doc in documents} >= {"CustomResourceDefinition", "ClusterRole", "Deployment"}


def test_chart_version_and_app_version_are_the_package_version() -> None:
    package_version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == package_version
    assert chart["version"] == package_version


def test_helm_show_readme_prints_the_chart_readme_which_names_every_top_level_value() -> None:
    readme = helm("show", "readme", str(CHART)).stdout
    assert readme.strip() == (CHART / "README.md").read_text().strip()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert [key for key in defaults if f"`{key}`" not in readme] == []


def test_chart_yaml_names_its_sources_and_lists_exactly_the_crds_it_installs() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["sources"] and all(url.startswith("https://") for url in chart["sources"])
    listed = {
        (crd["kind"], crd["version"], crd["name"])
        for crd in yaml.safe_load(chart["annotations"]["artifacthub.io/crds"])
    }
    shipped = {
        (crd["spec"]["names"]["kind"], version["name"], crd["metadata"]["name"])
        for crd in repository_crds().values()
        for version in crd["spec"]["versions"]
    }
    assert listed == shipped


def test_every_value_in_values_yaml_carries_a_comment() -> None:
    # A value is a key the schema defines and does not break down further (groups such as `image:` only
    # hold values); pass-through Kubernetes objects such as `resources` count as one value.
    schema = json.loads((CHART / "values.schema.json").read_text())
    text = (CHART / "values.yaml").read_text()
    lines = text.splitlines()
    undocumented: list[str] = []

    def visit(node: yaml.MappingNode, properties: dict[str, Any], path: str) -> None:
        for key_node, value_node in node.value:
            key = key_node.value
            child = properties.get(key, {})
            if "properties" in child and isinstance(value_node, yaml.MappingNode):
                visit(value_node, child["properties"], f"{path}{key}.")
            elif not comment_above(key_node.start_mark.line).startswith("# --"):
                undocumented.append(f"{path}{key}")

    def comment_above(line: int) -> str:
        """The first line of the comment block that ends right above `line` ("" when there is none)."""
        first = line
        while first > 0 and lines[first - 1].strip().startswith("#"):
            first -= 1
        return lines[first].strip() if first < line else ""

    document = yaml.compose(text)
    assert isinstance(document, yaml.MappingNode)
    visit(document, schema["properties"], "")
    assert not undocumented, f"values without a `# --` comment right above them: {undocumented}"


def test_values_yaml_defaults_satisfy_the_schema_and_every_default_is_in_it() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(defaults, schema)
    assert set(defaults) == set(schema["properties"]) - {"global"}


# -- lint and schema ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("values_files", [[], [NAMESPACED_VALUES]], ids=["cluster-wide", "namespaced"])
def test_helm_lint_passes(values_files: list[str]) -> None:
    flags = [flag for path in values_files for flag in ("--values", str(path))]
    result = helm("lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION, *flags)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"operator": {"logFormat": "xml"}}, "/operator/logFormat"),
        ({"operator": {"resyncInterval": 0}}, "/operator/resyncInterval"),
        ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
        ({"health": {"port": 0}}, "/health/port"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"cloudCredentials": {"secretReference": "no-namespace"}}, "/cloudCredentials/secretReference"),
        ({"cloudCredentials": {"existingSecret": "a", "secretReference": "ns/b"}}, "/cloudCredentials"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"shards": {"count": 0}}, "/shards/count"),
        # The operator's IAM and STS calls use each ProviderIntegration's spec.aws.region: a chart-wide
        # region would have no effect, so the chart does not take one.
        ({"aws": {"region": "eu-west-1"}}, "/aws"),
        ({"extraVolumeMounts": [{"name": "ca"}]}, "/extraVolumeMounts/0"),
        ({"networkPolicy": {"enabled": True, "apiServerPorts": []}}, "/networkPolicy/apiServerPorts"),
    ],
    ids=lambda case: next(iter(case)) if isinstance(case, dict) else None,
)
def test_values_schema_rejects_a_bad_value(values: dict[str, Any], complaint: str) -> None:
    with values_file(values) as flags:
        result = helm("template", "x", str(CHART), "--kube-version", KUBE_VERSION, *flags, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert complaint in result.stderr


# -- what the Deployment runs -------------------------------------------------------------------------------------


def test_two_replicas_elect_a_leader_hardened_with_a_writable_tmp_and_probes_on_healthz() -> None:
    deployment = one(render(), "Deployment")
    assert deployment["spec"]["replicas"] == 2
    # The new pod starts (as a standby) before an old one stops and hands over its Lease.
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    env = container_env(render())
    assert env["CCLOUD_OPERATOR_LEADER_ELECTION"] == "true"
    assert env["CCLOUD_OPERATOR_LEADER_ELECTION_LEASE"] == "ccloud-operator"
    assert env["CCLOUD_OPERATOR_LEADER_ELECTION_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert "CCLOUD_OPERATOR_SHARD_COUNT" not in env
    budget = one(render(), "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    pod = deployment["spec"]["template"]["spec"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/ccloud-operator/ccloud-operator:0.1.0"
    assert container["command"] == ["ccloud-operator", "run"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert container_env(render())["CCLOUD_OPERATOR_NAMESPACES"] == ""


def test_existing_secret_becomes_the_default_api_key_through_secret_key_refs() -> None:
    env = container_env(render({"cloudCredentials": {"existingSecret": "confluent-cloud"}}))
    assert env["CCLOUD_OPERATOR_CLOUD_API_KEY"] == {"secretKeyRef": {"name": "confluent-cloud", "key": "api-key"}}
    assert env["CCLOUD_OPERATOR_CLOUD_API_SECRET"] == {"secretKeyRef": {"name": "confluent-cloud", "key": "api-secret"}}
    assert "CCLOUD_OPERATOR_CLOUD_CREDENTIALS_SECRET" not in env


def test_secret_reference_is_passed_for_the_operator_to_read() -> None:
    env = container_env(render({"cloudCredentials": {"secretReference": "ccloud-system/confluent-cloud"}}))
    assert env["CCLOUD_OPERATOR_CLOUD_CREDENTIALS_SECRET"] == "ccloud-system/confluent-cloud"
    assert "CCLOUD_OPERATOR_CLOUD_API_KEY" not in env


def test_development_aws_credentials_come_from_a_secret_and_irsa_from_service_account_annotations() -> None:
    rendered = render(
        {
            "aws": {"credentialsSecret": "aws-dev-keys", "endpointUrl": "http://moto:5000"},
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/op"}},
        }
    )
    container = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "aws-dev-keys"}}]
    env = container_env(rendered)
    assert env["CCLOUD_OPERATOR_AWS_ENDPOINT_URL"] == "http://moto:5000"
    service_account = one(rendered, "ServiceAccount")
    assert service_account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/op"
    }


def test_image_tag_defaults_to_app_version_and_a_digest_pins_it() -> None:
    digest = "sha256:" + "ab" * 32
    tagged = one(render({"image": {"tag": "0.2.0-rc1"}}), "Deployment")
    pinned = one(render({"image": {"digest": digest}}), "Deployment")
    assert tagged["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.2.0-rc1")
    assert pinned["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f"@{digest}")


def test_crds_can_be_left_out_and_kept_or_not_on_uninstall() -> None:
    assert not objects_of(render({"crds": {"install": False}}), "CustomResourceDefinition")
    unkept = objects_of(
        render({"crds": {"keep": False, "annotations": {"argocd.argoproj.io/sync-wave": "-2"}}}),
        "CustomResourceDefinition",
    )
    assert [crd["metadata"]["annotations"] for crd in unkept] == [{"argocd.argoproj.io/sync-wave": "-2"}] * 2


def test_metrics_service_is_on_by_default_and_service_monitor_behind_a_flag() -> None:
    service = one(render(), "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}]
    assert not objects_of(render(), "ServiceMonitor")
    monitor = one(render({"metrics": {"serviceMonitor": {"enabled": True}}}), "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    assert not objects_of(render({"metrics": {"port": 0}}), "Service")


# -- RBAC in both modes -------------------------------------------------------------------------------------------

APPLICATION_RULES = {
    ("ccloud.operator.dev", resource, verb)
    for resource in ("providerintegrations", "managedconnectors")
    for verb in ("get", "list", "watch", "patch")
} | {
    ("ccloud.operator.dev", "providerintegrations/status", "patch"),
    ("ccloud.operator.dev", "managedconnectors/status", "patch"),
    ("", "secrets", "get"),
    ("", "secrets", "list"),
    ("", "secrets", "watch"),
    ("", "events", "create"),
}
CRD_RULES = {("apiextensions.k8s.io", "customresourcedefinitions", verb) for verb in ("list", "watch")}


def test_cluster_wide_mode_grants_one_cluster_role_and_no_namespaced_roles() -> None:
    rendered = render()
    cluster_role = operator_cluster_role(rendered)
    assert rules_of(cluster_role) == APPLICATION_RULES | CRD_RULES
    binding = one(rendered, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == cluster_role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ccloud-operator", "namespace": "ccloud-operator"}
    ]
    # The only Role: the Lease of leader election, in the release's namespace, named Leases only.
    (lease_role,) = objects_of(rendered, "Role")
    assert lease_role["metadata"]["namespace"] == "ccloud-operator"
    assert rules_of(lease_role) == {
        ("coordination.k8s.io", "leases", "create"),
        ("coordination.k8s.io", "leases", "get"),
        ("coordination.k8s.io", "leases", "update"),
    }
    assert [rule.get("resourceNames") for rule in lease_role["rules"]] == [None, ["ccloud-operator"]]


def test_one_replica_without_leader_election_and_shards_with_a_lease_each() -> None:
    single = one(render({"replicaCount": 1, "leaderElection": {"enabled": False}}), "Deployment")
    assert single["spec"]["replicas"] == 1 and single["spec"]["strategy"] == {"type": "Recreate"}
    assert "CCLOUD_OPERATOR_LEADER_ELECTION" not in container_env(
        render({"replicaCount": 1, "leaderElection": {"enabled": False}})
    )
    with values_file({"replicaCount": 2, "leaderElection": {"enabled": False}}) as flags:
        refused = helm("template", "x", str(CHART), "--kube-version", KUBE_VERSION, *flags, check=False)
    assert refused.returncode != 0 and "needs leaderElection.enabled" in refused.stderr

    rendered = render({"shards": {"count": 3}})
    deployments = objects_of(rendered, "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == [f"ccloud-operator-shard-{i}" for i in range(3)]
    for index, deployment in enumerate(deployments):
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert labels["ccloud.operator.dev/shard"] == str(index)
        env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert (env["CCLOUD_OPERATOR_SHARD_INDEX"], env["CCLOUD_OPERATOR_SHARD_COUNT"]) == (str(index), "3")
    assert len(objects_of(rendered, "PodDisruptionBudget")) == 3
    (lease_role,) = objects_of(rendered, "Role")
    assert lease_role["rules"][1]["resourceNames"] == [f"ccloud-operator-shard-{i}" for i in range(3)]


def test_namespaced_mode_grants_a_role_per_namespace_and_only_crd_and_namespace_reads_cluster_wide() -> None:
    rendered = render({"watchNamespaces": ["team-a", "team-b"]}, release="ops", namespace="ops-system")
    assert rules_of(operator_cluster_role(rendered)) == CRD_RULES | {
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }
    roles = [r for r in objects_of(rendered, "Role") if not r["metadata"]["name"].endswith("-leader-election")]
    assert sorted(role["metadata"]["namespace"] for role in roles) == ["team-a", "team-b"]
    assert all(rules_of(role) == APPLICATION_RULES for role in roles)
    bindings = [
        b for b in objects_of(rendered, "RoleBinding") if not b["metadata"]["name"].endswith("-leader-election")
    ]
    assert sorted(binding["metadata"]["namespace"] for binding in bindings) == ["team-a", "team-b"]
    assert all(
        binding["subjects"] == [{"kind": "ServiceAccount", "name": "ops-ccloud-operator", "namespace": "ops-system"}]
        for binding in bindings
    )
    assert container_env(rendered)["CCLOUD_OPERATOR_NAMESPACES"] == "team-a,team-b"


KIND_GROUP = "ccloud.operator.dev"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def test_tenants_get_connectors_through_edit_integrations_through_admin_and_reads_through_view() -> None:
    roles = tenant_roles(render())
    assert set(roles) == {"edit", "admin", "view"}
    writes = {
        kind: {resource for (group, resource, verb) in rules_of(role) if group == KIND_GROUP and verb in WRITE_VERBS}
        for kind, role in roles.items()
    }
    assert writes == {"edit": {"managedconnectors"}, "admin": {"providerintegrations"}, "view": set()}
    assert {(resource, verb) for (_, resource, verb) in rules_of(roles["view"])} == {
        (resource, verb)
        for resource in (
            "managedconnectors",
            "managedconnectors/status",
            "providerintegrations",
            "providerintegrations/status",
        )
        for verb in ("get", "list", "watch")
    }


def test_editors_may_get_integrations_too_when_the_values_say_so() -> None:
    edit = tenant_roles(render({"tenantRbac": {"providerIntegrationsForEditors": True}}))["edit"]
    assert (KIND_GROUP, "providerintegrations", "create") in rules_of(edit)


def test_no_tenant_roles_when_aggregation_is_off() -> None:
    rendered = render({"tenantRbac": {"aggregate": False}})
    assert tenant_roles(rendered) == {}
    assert len(objects_of(rendered, "ClusterRole")) == 1


def test_namespaced_mode_may_read_exactly_the_named_credentials_secret_outside_its_namespaces() -> None:
    rendered = render(values_files=[NAMESPACED_VALUES])
    credentials = [role for role in objects_of(rendered, "Role") if role["metadata"]["namespace"] == "ccloud-system"]
    assert [role["rules"] for role in credentials] == [
        [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["confluent-cloud-api-key"], "verbs": ["get"]}]
    ]


# -- options users ask for ----------------------------------------------------------------------------------------


def test_metrics_and_health_on_one_port_are_refused_with_a_clear_message() -> None:
    with values_file({"metrics": {"port": 9000}, "health": {"port": 9000}}) as flags:
        result = helm("template", "x", str(CHART), "--kube-version", KUBE_VERSION, *flags, check=False)
    assert result.returncode != 0
    assert "metrics.port and health.port must differ (both are 9000)" in result.stderr
    # Metrics off (port 0) leaves nothing to collide with.
    with values_file({"metrics": {"port": 0}, "health": {"port": 8081}}) as flags:
        helm("template", "x", str(CHART), "--kube-version", KUBE_VERSION, *flags)


def test_a_custom_ca_is_mounted_from_extra_volumes_with_extra_env_and_args() -> None:
    rendered = render(
        {
            "extraVolumes": [{"name": "proxy-ca", "configMap": {"name": "corporate-ca"}}],
            "extraVolumeMounts": [{"name": "proxy-ca", "mountPath": "/etc/proxy-ca", "readOnly": True}],
            "extraEnv": [{"name": "SSL_CERT_FILE", "value": "/etc/proxy-ca/ca.crt"}],
            "extraArgs": ["--log-level", "DEBUG"],
        }
    )
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {"name": "proxy-ca", "configMap": {"name": "corporate-ca"}} in pod["volumes"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # the chart's own stays
    assert {"name": "proxy-ca", "mountPath": "/etc/proxy-ca", "readOnly": True} in container["volumeMounts"]
    assert container_env(rendered)["SSL_CERT_FILE"] == "/etc/proxy-ca/ca.crt"
    assert container["command"] == ["ccloud-operator", "run"] and container["args"] == ["--log-level", "DEBUG"]
    assert "args" not in one(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_common_labels_go_on_every_object_and_pod_labels_on_the_pod_only() -> None:
    rendered = render(
        {"commonLabels": {"team": "data-platform"}, "podLabels": {"sidecar.istio.io/inject": "false"}},
    )
    assert rendered and all(obj["metadata"]["labels"]["team"] == "data-platform" for obj in rendered)
    deployment = one(rendered, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["team"] == "data-platform" and pod_labels["sidecar.istio.io/inject"] == "false"
    assert "sidecar.istio.io/inject" not in deployment["metadata"]["labels"]
    # Selectors never change with labels (a Deployment's selector is immutable).
    assert "team" not in deployment["spec"]["selector"]["matchLabels"]


def test_network_policy_is_opt_in_and_opens_only_dns_https_the_api_server_and_the_two_endpoints() -> None:
    assert objects_of(render(), "NetworkPolicy") == []
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    policy = one(render({"networkPolicy": {"enabled": True, "metricsFrom": [monitoring]}}), "NetworkPolicy")
    spec = policy["spec"]
    deployment = one(render(), "Deployment")
    assert spec["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    health, metrics = spec["ingress"]
    assert health == {"ports": [{"port": "health", "protocol": "TCP"}]}  # the kubelet's probes
    assert metrics == {"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [monitoring]}
    dns, https = spec["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert [p["port"] for p in https["ports"]] == [443, 6443] and "to" not in https
    # Narrowed to a proxy: HTTPS and the API server only there, plus the proxy's own port.
    proxy = {"ipBlock": {"cidr": "10.0.0.10/32"}}
    narrowed = one(
        render(
            {
                "networkPolicy": {
                    "enabled": True,
                    "egressTo": [proxy],
                    "extraEgress": [{"to": [proxy], "ports": [{"port": 3128, "protocol": "TCP"}]}],
                },
                "metrics": {"port": 0},
            }
        ),
        "NetworkPolicy",
    )["spec"]
    assert narrowed["ingress"] == [{"ports": [{"port": "health", "protocol": "TCP"}]}]  # no metrics port
    assert narrowed["egress"][1]["to"] == [proxy]
    assert narrowed["egress"][2] == {"to": [proxy], "ports": [{"port": 3128, "protocol": "TCP"}]}


# -- alerts and dashboard -----------------------------------------------------------------------------------------

RULES_FILE = CHART / "files" / "prometheus-rules.yaml"
DASHBOARD_FILE = CHART / "files" / "grafana-dashboard.json"


def operator_series() -> set[str]:
    """Every series name the operator can expose: its families with their sample suffixes."""
    from prometheus_client import REGISTRY

    from ccloud_operator import metrics

    assert metrics.PER_OBJECT is not None  # registered on import
    families = [family for family in REGISTRY.collect() if family.name.startswith("ccloud_operator_")]
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
    }
    return {f"{family.name}{suffix}" for family in families for suffix in suffixes[family.type]}


def test_alerts_and_dashboard_are_opt_in_and_rendered_from_their_files() -> None:
    assert objects_of(render(), "PrometheusRule") == []
    assert [c for c in objects_of(render(), "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")] == []
    rendered = render(
        {
            "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
            "grafanaDashboard": {
                "enabled": True,
                "namespace": "monitoring",
                "annotations": {"grafana_folder": "Kafka"},
            },
        }
    )
    rule = one(rendered, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["spec"] == yaml.safe_load(RULES_FILE.read_text())  # verbatim, {{ $labels }} included
    assert "{{ $labels.namespace }}" in rule["spec"]["groups"][0]["rules"][0]["annotations"]["summary"]
    (dashboard,) = [c for c in objects_of(rendered, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Kafka"}
    assert json.loads(dashboard["data"]["ccloud-operator.json"]) == json.loads(DASHBOARD_FILE.read_text())


def test_every_alert_parses_reads_only_series_the_operator_exposes_and_says_which_object() -> None:
    from promql_support import metric_names, parse_duration, rules_of

    rules = rules_of(yaml.safe_load(RULES_FILE.read_text())["groups"])
    assert {rule["alert"] for rule in rules} >= {
        "CCloudConnectorNotRunning",
        "CCloudIntegrationValidationFailing",
        "CCloudReconcileErrors",
        "CCloudConfluentRateLimited",
    }
    exposed = operator_series()
    for rule in rules:
        assert metric_names(rule["expr"]) <= exposed, rule["alert"]
        assert parse_duration(rule["for"]) >= 300, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= rule["annotations"].keys(), rule["alert"]
        # A per-object alert names the object in its summary.
        if "name" in rule["expr"]:
            assert "$labels.name" in rule["annotations"]["summary"], rule["alert"]


def test_every_dashboard_query_reads_only_series_the_operator_exposes() -> None:
    from promql_support import metric_names

    dashboard = json.loads(DASHBOARD_FILE.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(queries) >= 10
    exposed = operator_series()
    read = set().union(*(metric_names(query) for query in queries))
    assert read <= exposed, read - exposed
    # Each per-object family has a panel.
    assert {
        "ccloud_operator_resource_ready",
        "ccloud_operator_connector_state",
        "ccloud_operator_integration_check",
        "ccloud_operator_last_reconcile_timestamp_seconds",
        "ccloud_operator_external_call_duration_seconds_bucket",
    } <= read
