"""The chart's Deployment on a real node: the operator runs in a pod and reconciles both kinds to Ready.

A control plane of its own in node mode, with `ccloud_sandbox.node` beside it (containerd, kubelet,
kube-scheduler, kube-proxy), the operator's image loaded into containerd, and the emulator and moto
listening on the node's bridge address, where pods reach them. The chart is installed as a user would,
CRDs included, into a namespace that enforces the restricted Pod Security Standard.

Needs root (the bridge), a Docker engine (the image) and Debian's containerd, runc,
containernetworking-plugins, iptables and gcc: without them the test skips in one line (and fails where
`CCLOUD_REQUIRE_DOCKER` is set, as in CI).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from ccloud_operator.constants import MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS
from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorProcess
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import ControlPlane
from ccloud_sandbox.node import NODE_ADDRESS, Node, missing_host_packages

from chart_release_support import CHART, helm, s3_sink
from harness_support import api_client, wait_until
from operator_world import AWS_KEYS, RESYNC_SECONDS, TIME_SCALE, VALIDATION_SECONDS, World, s3_sink_spec

pytestmark = pytest.mark.controlplane

RELEASE = "ccloud-operator"


@dataclass
class NodeCluster:
    control_plane: ControlPlane
    node: Node
    api: client.ApiClient
    start_seconds: float


def _unmet_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "needs root (it makes a bridge and runs kubelet)"
    missing = missing_host_packages()
    if missing:
        return f"missing Debian packages: apt-get install {' '.join(missing)}"
    return None


@pytest.fixture(scope="module")
def node_cluster(operator_image: str) -> Iterator[NodeCluster]:
    """A node-mode control plane and its node, with the operator's image loaded; stopped afterwards."""
    reason = _unmet_prerequisite()
    if reason is not None:
        if os.environ.get("CCLOUD_REQUIRE_DOCKER"):
            pytest.fail(f"CCLOUD_REQUIRE_DOCKER is set but the node test {reason}")
        pytest.skip(f"node test skipped: {reason}")
    # Beside the session's control planes, with the owner's pid: a later session stops this control plane
    # if this one dies without teardown (conftest's reaper), and the next node stops this node.
    state_root = repo_root() / ".state" / "test-controlplanes"
    state_root.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-node-", dir=state_root))
    (state / "owner.pid").write_text(f"{os.getpid()}\n")
    Node.prepare_network()
    control_plane = ControlPlane(state, node_address=NODE_ADDRESS)
    node = Node(state / "node", control_plane)
    try:
        started = time.monotonic()
        control_plane.up()
        node.up(images=[operator_image])
        start_seconds = time.monotonic() - started
        print(f"node cluster up in {start_seconds:.1f}s")
        with contextlib.closing(api_client(control_plane.kubeconfig)) as api:
            yield NodeCluster(control_plane, node, api, start_seconds)
    finally:
        node.down()
        control_plane.down()
        shutil.rmtree(state, ignore_errors=True)


def _operator_pods(core: client.CoreV1Api, namespace: str) -> list[client.V1Pod]:
    selector = f"app.kubernetes.io/instance={RELEASE}"
    return list(core.list_namespaced_pod(namespace, label_selector=selector).items)


def _ready_pod(core: client.CoreV1Api, namespace: str, not_named: str = "") -> client.V1Pod | None:
    for pod in _operator_pods(core, namespace):
        conditions = pod.status.conditions or []
        ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
        if ready and pod.metadata.name != not_named and pod.metadata.deletion_timestamp is None:
            return pod
    return None


@dataclass
class InClusterOperator:
    """The operator as the world sees it when it runs in a pod: its log is the current pods' logs."""

    core: client.CoreV1Api
    namespace: str

    def log(self) -> str:
        return "".join(
            f"--- {pod.metadata.name}\n{self.core.read_namespaced_pod_log(pod.metadata.name, self.namespace)}"
            for pod in _operator_pods(self.core, self.namespace)
            if pod.status.phase in ("Running", "Succeeded", "Failed")
        )

    def running(self) -> bool:
        return _ready_pod(self.core, self.namespace) is not None

    def metrics(self) -> str:
        """Every Ready replica's /metrics, read from its pod (the no-leak check reads them).

        A pod can show Ready for a probe period after its container exited (a restart), and refuse
        meanwhile: the read is tried again until every Ready replica answers. Restarts are printed, so a
        failing run says whether one happened."""

        def every_replica() -> str | None:
            texts = []
            for pod in _operator_pods(self.core, self.namespace):
                ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
                if (
                    not (pod.status.pod_ip and pod.status.phase == "Running" and ready)
                    or pod.metadata.deletion_timestamp
                ):
                    continue
                port = next(p.container_port for c in pod.spec.containers for p in c.ports or [] if p.name == "metrics")
                try:
                    texts.append(httpx.get(f"http://{pod.status.pod_ip}:{port}/metrics", timeout=5).text)
                except httpx.ConnectError:
                    restarts = [s.restart_count for s in pod.status.container_statuses or []]
                    print(f"{pod.metadata.name} refused /metrics (container restarts: {restarts})")
                    return None
            return "\n".join(texts)

        return wait_until(every_replica, "every Ready replica to answer /metrics", timeout=60)

    def stop(self) -> None:
        """The Deployment owns the pod; helm uninstall (or the namespace) ends it."""


def _scrape(service: client.V1Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The operator's metrics, read through the chart's Service (ClusterIP, routed by kube-proxy)."""
    port = next(p.port for p in service.spec.ports if p.name == "metrics")
    text = httpx.get(f"http://{service.spec.cluster_ip}:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _metric(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


def _role_names(moto: MotoServer) -> set[str]:
    pages = moto.client("iam").get_paginator("list_roles").paginate()  # IAM may answer a list in pages
    return {role["RoleName"] for page in pages for role in page["Roles"]}


def test_the_charts_deployment_runs_the_operator_on_a_node_reconciles_both_kinds_and_its_replacement_carries_on(
    node_cluster: NodeCluster, operator_image: str, tmp_path: Path
) -> None:
    api = node_cluster.api
    core = client.CoreV1Api(api)
    namespace = f"ccloud-e2e-{secrets.token_hex(3)}"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(
                name=namespace,
                labels={
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            )
        )
    )
    moto = MotoServer(host=NODE_ADDRESS).start()
    # moto's state is its process's: this server shares it (and whether policies are enforced) with the
    # worker's other servers, where earlier tests left roles. Emptied, as the `moto` fixture does.
    httpx.post(f"{moto.endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()
    moto.reset()
    emulator = EmulatorProcess(aws_endpoint=moto.endpoint, time_scale=TIME_SCALE, host=NODE_ADDRESS)
    emulator.start()
    world = World(namespace, api, moto, emulator, node_cluster.control_plane.kubeconfig, tmp_path)
    try:
        world.secret("confluent-cloud-api-key", {"api-key": world.info.api_key, "api-secret": world.info.api_secret})
        # The keys only (each ProviderIntegration's spec names its region): every value given here joins the
        # no-leak check.
        world.secret("aws-credentials", {key: AWS_KEYS[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
        repository, _, tag = operator_image.rpartition(":")
        values = tmp_path / "values.yaml"
        values.write_text(
            yaml.safe_dump(
                {
                    "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
                    "watchNamespaces": [namespace],
                    "cloudCredentials": {"existingSecret": "confluent-cloud-api-key"},
                    "aws": {
                        "endpointUrl": moto.endpoint,
                        "credentialsSecret": "aws-credentials",
                    },
                    "operator": {
                        "confluentUrl": world.info.url,
                        "resyncInterval": RESYNC_SECONDS,
                        "validationInterval": VALIDATION_SECONDS,
                        "confluentTimeout": 5,
                    },
                }
            )
        )
        kubeconfig_flag = f"--kubeconfig={node_cluster.control_plane.kubeconfig}"
        helm("install", RELEASE, str(CHART), kubeconfig_flag, "--namespace", namespace, "--values", str(values))

        first = wait_until(lambda: _ready_pod(core, namespace), "the operator's pod to be Ready", timeout=120)
        world.operator = InClusterOperator(core, namespace)  # type: ignore[assignment]
        # Admitted under the restricted Pod Security Standard, and run as the chart says.
        container_security = first.spec.containers[0].security_context
        assert container_security.read_only_root_filesystem is True
        assert container_security.capabilities.drop == ["ALL"]
        assert first.spec.security_context.run_as_user == 65532

        s3_sink(world, "node-e2e")
        world.wait_condition(PROVIDER_INTEGRATIONS, "s3", "Ready", "True", timeout=120)
        connector = world.wait_condition(MANAGED_CONNECTORS, "orders-sink", "Ready", "True", timeout=120)
        assert connector["status"]["state"] == "RUNNING"

        # Two replicas: the Service answers from either; the leader's answer is the one that has reconciled.
        service = next(s for s in core.list_namespaced_service(namespace).items if s.metadata.name.startswith(RELEASE))

        def from_the_leader() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            try:
                found = _scrape(service)
            except httpx.ConnectError:
                return None  # kube-proxy's rules for a pod's endpoint may trail the pod's readiness briefly
            return found if _metric(found, "ccloud_operator_leader") == 1 else None

        leases = client.CoordinationV1Api(core.api_client)

        def reconciled_by_the_leader() -> bool:
            samples = from_the_leader()
            if samples is None:
                return False
            counts = [
                _metric(samples, "ccloud_operator_reconciles_total", kind=kind, result="success")
                for kind in ("ProviderIntegration", "ManagedConnector")
            ]
            if min(counts) >= 1:
                return True
            # Seen once in CI: the leader that reconciled both had lost the Lease; its successor had not run
            # its first passes yet. It then catches up here, and the pods' restarts and the Lease say why.
            lease = leases.read_namespaced_lease(RELEASE, namespace).spec
            restarts = {
                p.metadata.name: [c.restart_count for c in p.status.container_statuses or []]
                for p in _operator_pods(core, namespace)
            }
            print(
                f"leader's reconciles {counts}; Lease {lease.holder_identity} transitions {lease.lease_transitions}; "
                f"restarts {restarts}"
            )
            return False

        # The leader answering has reconciled both kinds (a leader that took over runs its first passes).
        wait_until(reconciled_by_the_leader, "the leader to have reconciled both kinds", timeout=60)

        # The leader's pod is deleted; the standby (or the Deployment's replacement) takes over and
        # reconciles what comes next.
        holder = (
            client.CoordinationV1Api(core.api_client).read_namespaced_lease(RELEASE, namespace).spec.holder_identity
        )
        first = next(p for p in _operator_pods(core, namespace) if holder.startswith(f"{p.metadata.name}_"))
        core.delete_namespaced_pod(first.metadata.name, namespace)
        second = wait_until(
            lambda: _ready_pod(core, namespace, not_named=first.metadata.name),
            "a replacement pod to be Ready",
            timeout=120,
        )
        assert second.metadata.name != first.metadata.name
        world.create(MANAGED_CONNECTORS, "orders-sink-2", s3_sink_spec(world, "s3", "node-e2e"))
        second_connector = world.wait_condition(MANAGED_CONNECTORS, "orders-sink-2", "Ready", "True", timeout=120)
        assert second_connector["status"]["connectorId"] != connector["status"]["connectorId"]
        # Read from the new leader; the deleted pod's endpoint may linger in kube-proxy's rules meanwhile.
        wait_until(
            lambda: (
                (found := from_the_leader()) is not None
                and _metric(found, "ccloud_operator_resources", kind="ManagedConnector", ready="true") == 2
            ),
            "the new leader to count both connectors Ready",
            timeout=60,
        )

        # Deleting goes through the replacement's finalizers, down to the IAM role.
        for plural, name in ((MANAGED_CONNECTORS, "orders-sink"), (MANAGED_CONNECTORS, "orders-sink-2")):
            world.delete(plural, name)
        for name in ("orders-sink", "orders-sink-2"):
            world.wait_gone(MANAGED_CONNECTORS, name, timeout=120)
        world.delete(PROVIDER_INTEGRATIONS, "s3")
        world.wait_gone(PROVIDER_INTEGRATIONS, "s3", timeout=120)
        assert _role_names(moto) == set()
        # No secret value in the operator's log, the Events or a status.
        leaks = world.leaked_secrets()
        assert not leaks, leaks
    finally:
        with contextlib.suppress(Exception):
            world.delete_everything(timeout=0)
        emulator.close()
        moto.stop()
