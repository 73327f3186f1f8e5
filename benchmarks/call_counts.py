"""How many Confluent and AWS calls one create and one idle interval cost.

    python -m benchmarks.call_counts [--json call_counts.json] [--connectors 100]

Brings up the local control plane, moto, the Confluent emulator and the operator, then counts:
the calls one ProviderIntegration create makes (until Ready), the calls one idle validation makes,
the calls one ManagedConnector create makes (until Ready), and the calls per idle resync interval
with 1 and with N connectors in one cluster, including writes (which must be zero when idle).
Confluent calls come from the emulator's request log, AWS calls from the operator's own metrics.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo, EmulatorProcess
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import ControlPlane
from ccloud_sandbox.operator_process import OperatorProcess

GROUP, VERSION, NAMESPACE = "ccloud.operator.dev", "v1alpha1", "bench"
INTERVAL = 5.0
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def aws_calls(operator: OperatorProcess) -> Counter[str]:
    """AWS calls so far, by service:operation, from the operator's metrics."""
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(operator.metrics()):
        for sample in family.samples:
            if sample.name == "ccloud_operator_external_calls_total" and sample.labels["service"] in ("iam", "sts"):
                counts[f"{sample.labels['service']}:{sample.labels['endpoint']}"] += int(sample.value)
    return counts


def confluent_calls(admin: SandboxAdmin) -> Counter[str]:
    return Counter(f"{r['method']} {r.get('operation_id') or r['path']}" for r in admin.requests())


def _ready(item: dict[str, Any]) -> bool:
    conditions = (item.get("status") or {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_ready(api: client.CustomObjectsApi, plural: str, names: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        items = api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural)["items"]
        ready = {
            i["metadata"]["name"]
            for i in items
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in (i.get("status") or {}).get("conditions", [])
            )
        }
        pending -= ready
        time.sleep(0.2)
    if pending:
        raise TimeoutError(f"not Ready: {sorted(pending)[:5]}")


def measure(
    admin: SandboxAdmin, operator: OperatorProcess, action: Callable[[], None]
) -> tuple[Counter[str], Counter[str]]:
    """Confluent and AWS calls made while `action` runs."""
    admin.clear_requests()
    aws_before = aws_calls(operator)
    action()
    return confluent_calls(admin), aws_calls(operator) - aws_before


def connector(info: EmulatorInfo, name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ManagedConnector",
        "metadata": {"name": name},
        "spec": {
            "environment": info.environment_id,
            "kafkaCluster": info.kafka_cluster_id,
            "connectorClass": "S3_SINK",
            "providerIntegrationRef": {"name": "s3"},
            "kafkaAuth": {"serviceAccountId": info.service_account_id},
            "config": {
                "topics": "orders",
                "input.data.format": "JSON",
                "output.data.format": "JSON",
                "s3.bucket.name": "bench-bucket",
                "time.interval": "HOURLY",
                "flush.size": "1000",
            },
        },
    }


def run(connectors: int) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="call-counts-", dir=repo_root() / ".state"))
    plane = ControlPlane(state / "controlplane")
    moto = MotoServer().start()
    emulator = EmulatorProcess(aws_endpoint=moto.endpoint, provisioning_seconds=0.2)
    operator: OperatorProcess | None = None
    results: dict[str, Any] = {}
    try:
        kubeconfig = plane.up()
        api_client = config.new_client_from_config(str(kubeconfig))
        extensions = client.ApiextensionsV1Api(api_client)
        for path in sorted((repo_root() / "crds").glob("*.yaml")):
            extensions.create_custom_resource_definition(yaml.safe_load(path.read_text()))
        time.sleep(2)
        client.CoreV1Api(api_client).create_namespace({"metadata": {"name": NAMESPACE}})
        moto.client("s3").create_bucket(Bucket="bench-bucket")
        info = emulator.start()
        admin = emulator.admin()
        operator = OperatorProcess(
            kubeconfig=kubeconfig,
            log_path=state / "operator.log",
            args=["--namespace", NAMESPACE],
            env={
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": "us-east-1",
                "CCLOUD_OPERATOR_CONFLUENT_URL": info.url,
                "CCLOUD_OPERATOR_CLOUD_API_KEY": info.api_key,
                "CCLOUD_OPERATOR_CLOUD_API_SECRET": info.api_secret,
                "CCLOUD_OPERATOR_AWS_ENDPOINT_URL": moto.endpoint,
                "CCLOUD_OPERATOR_RESYNC_INTERVAL": str(INTERVAL),
                "CCLOUD_OPERATOR_VALIDATION_INTERVAL": str(INTERVAL),
            },
        ).start()
        custom = client.CustomObjectsApi(api_client)

        def create_integration() -> None:
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "ProviderIntegration",
                "metadata": {"name": "s3"},
                "spec": {
                    "environment": info.environment_id,
                    "aws": {"createRole": {"roleName": "bench-role"}, "permissions": {"s3Buckets": ["bench-bucket"]}},
                },
            }
            custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "providerintegrations", body)
            wait_ready(custom, "providerintegrations", ["s3"])

        def idle(intervals: int) -> Callable[[], None]:
            return lambda: time.sleep(INTERVAL * intervals)

        def create_connectors(names: list[str]) -> Callable[[], None]:
            def action() -> None:
                for name in names:
                    custom.create_namespaced_custom_object(
                        GROUP, VERSION, NAMESPACE, "managedconnectors", connector(info, name)
                    )
                wait_ready(custom, "managedconnectors", names)

            return action

        rows: list[tuple[str, Counter[str], Counter[str], float]] = []
        rows.append(("ProviderIntegration create", *measure(admin, operator, create_integration), 1))
        time.sleep(INTERVAL)  # let the first periodic validation run once before measuring idle
        rows.append(("idle validation (per interval)", *measure(admin, operator, idle(4)), 4))
        rows.append(("ManagedConnector create", *measure(admin, operator, create_connectors(["c-0"])), 1))
        time.sleep(INTERVAL)
        rows.append(("idle, 1 connector (per interval)", *measure(admin, operator, idle(4)), 4))
        more = [f"c-{i}" for i in range(1, connectors)]
        create_connectors(more)()
        time.sleep(INTERVAL)
        rows.append((f"idle, {connectors} connectors (per interval)", *measure(admin, operator, idle(4)), 4))

        print(f"{'what':44} {'Confluent':>10} {'writes':>7} {'AWS':>6}  Confluent calls")
        for what, confluent, aws, per in rows:
            total = sum(confluent.values()) / per
            writes = sum(v for k, v in confluent.items() if k.split()[0] in WRITE_METHODS) / per
            aws_total = sum(aws.values()) / per
            detail = ", ".join(f"{k} x{v / per:g}" for k, v in sorted(confluent.items()))
            print(f"{what:44} {total:10.2f} {writes:7.2f} {aws_total:6.2f}  {detail}")
            results[what] = {
                "confluent": {k: v / per for k, v in confluent.items()},
                "aws": {k: v / per for k, v in aws.items()},
                "confluent_total": total,
                "confluent_writes": writes,
                "aws_total": aws_total,
            }
        print(f"(interval = {INTERVAL:g}s for both the resync and the validation; idle rows averaged over 4)")
    finally:
        if operator is not None:
            operator.stop()
        emulator.close()
        moto.stop()
        plane.down()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = run(args.connectors)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
