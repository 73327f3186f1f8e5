"""Confluent calls per connector from create to RUNNING, and per deletion, as provisioning gets slower.

    python -m benchmarks.connector_lifecycle [--provisioning 1,120] [--connectors 3] [--json out.json]

Brings up the local control plane, moto, the Confluent emulator in its realistic profile at real time
(time scale 1: reads trail writes by 5 s, a deleted connector lingers 30 s, IAM changes take 60 s) and
the operator. For each provisioning time (emulated seconds, the realism knob), it applies N connectors
at once to a Ready integration and counts the Confluent calls until all are Ready, then deletes them
and counts the calls until all are gone, DELETEs separately. Everything is read from the emulator's
request log. Prints one row per provisioning time; divide by N for per-connector figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from benchmarks.call_counts import GROUP, NAMESPACE, VERSION, confluent_calls, connector, wait_ready
from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorProcess
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import ControlPlane
from ccloud_sandbox.operator_process import OperatorProcess


def wait_gone(api: client.CustomObjectsApi, names: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "managedconnectors")["items"]
        if not {i["metadata"]["name"] for i in items} & set(names):
            return
        time.sleep(0.5)
    raise TimeoutError(f"not deleted within {timeout:.0f}s")


def run(provisioning: list[float], connectors: int) -> dict[str, Any]:
    state = Path(tempfile.mkdtemp(prefix="lifecycle-", dir=repo_root() / ".state"))
    plane = ControlPlane(state / "controlplane")
    moto = MotoServer().start()
    emulator = EmulatorProcess(aws_endpoint=moto.endpoint, time_scale=1.0)
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
            },
        ).start()
        custom = client.CustomObjectsApi(api_client)
        integration = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ProviderIntegration",
            "metadata": {"name": "s3"},
            "spec": {
                "environment": info.environment_id,
                "aws": {"createRole": {"roleName": "bench-role"}, "permissions": {"s3Buckets": ["bench-bucket"]}},
            },
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "providerintegrations", integration)
        wait_ready(custom, "providerintegrations", ["s3"])
        # Past IAM propagation (60 s), so the counts are about provisioning, not about a failed first start.
        time.sleep(65)
        print(f"{'provisioning':>12} {'to RUNNING':>10} {'calls':>6} {'per conn.':>9} {'deletion':>8} "
              f"{'calls':>6} {'DELETEs':>7}  calls to RUNNING by operation")  # fmt: skip
        for seconds in provisioning:
            admin.set_realism(provisioning_seconds=seconds)
            names = [f"p{int(seconds)}-{i}" for i in range(connectors)]
            admin.clear_requests()
            started = time.monotonic()
            for name in names:
                custom.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, "managedconnectors", connector(info, name)
                )
            wait_ready(custom, "managedconnectors", names, timeout=seconds * 4 + 300)
            create_time = time.monotonic() - started
            create_calls: Counter[str] = confluent_calls(admin)
            admin.clear_requests()
            started = time.monotonic()
            for name in names:
                custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "managedconnectors", name)
            wait_gone(custom, names)
            delete_time = time.monotonic() - started
            delete_calls = confluent_calls(admin)
            deletes = sum(v for k, v in delete_calls.items() if k.startswith("DELETE"))
            total = sum(create_calls.values())
            detail = ", ".join(f"{k} x{v}" for k, v in sorted(create_calls.items()))
            print(
                f"{seconds:11.0f}s {create_time:9.1f}s {total:6d} {total / connectors:9.2f} {delete_time:7.1f}s "
                f"{sum(delete_calls.values()):6d} {deletes:7d}  {detail}"
            )
            results[str(seconds)] = {
                "connectors": connectors,
                "seconds_to_ready": create_time,
                "calls_to_ready": dict(create_calls),
                "calls_to_ready_per_connector": total / connectors,
                "seconds_to_deleted": delete_time,
                "calls_to_deleted": dict(delete_calls),
                "deletes_per_connector": deletes / connectors,
            }
    finally:
        if operator is not None:
            operator.stop()
        emulator.close()
        moto.stop()
        plane.down()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provisioning", default="1,120", help="emulated provisioning seconds, comma separated")
    parser.add_argument("--connectors", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = run([float(p) for p in args.provisioning.split(",")], args.connectors)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
