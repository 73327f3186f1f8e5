"""`kubectl ccloud`, run by the real kubectl as a plugin against the real API server and operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from harness_support import wait_until
from operator_world import World, s3_role_integration, s3_sink_spec

BIN = Path(sys.executable).parent


def kubectl(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """`kubectl ARGS` with the package's bin directory on PATH, as after `pip install ccloud-operator`."""
    return subprocess.run(
        [str(BIN / "kubectl"), *args],
        env={
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "KUBECONFIG": str(world.kubeconfig),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_trust_policy_and_restart_for_a_demo_world(world: World) -> None:
    world.moto.client("s3").create_bucket(Bucket="plugged")
    world.start_operator()
    s3_role_integration(world, "archive", "plugged")
    world.create(MC, "sink", s3_sink_spec(world, "archive", "plugged"))
    world.create(MC, "orphan", s3_sink_spec(world, "nowhere", "plugged"))
    sink = world.wait_condition(MC, "sink", "Ready", "True", timeout=90)
    world.wait_condition(MC, "orphan", "Ready", "False", reason="WaitingForProviderIntegration", timeout=30)
    integration = world.get(PI, "archive")
    assert integration is not None
    ns = world.namespace

    plugins = kubectl(world, "plugin", "list")
    assert "kubectl-ccloud" in plugins.stdout, plugins.stdout + plugins.stderr

    status = kubectl(world, "ccloud", "-n", ns, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    integration_id = integration["status"]["integrationId"]
    assert lines[0] == f"ProviderIntegration {ns}/archive  {integration_id}  Ready (Available)"
    assert lines[1] == f"  role {integration['status']['roleArn']}"
    connector_id = sink["status"]["connectorId"]
    assert lines[2] == f"  └─ ManagedConnector sink  {connector_id}  RUNNING tasks 1/1  Ready (Available)"
    assert lines[3] == f"ManagedConnectors in {ns} naming the missing ProviderIntegration nowhere"
    assert lines[4].startswith("  └─ ManagedConnector orphan  -  -  NotReady WaitingForProviderIntegration: ")
    assert len(lines) == 5, status.stdout

    trust = kubectl(world, "ccloud", "-n", ns, "trust-policy", "archive")
    assert trust.returncode == 0, trust.stderr
    statement = json.loads(trust.stdout)
    assert statement == json.loads(integration["status"]["requiredTrustPolicy"])
    assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == integration["status"]["externalId"]
    document = json.loads(kubectl(world, "ccloud", "-n", ns, "trust-policy", "archive", "--document").stdout)
    assert document == {"Version": "2012-10-17", "Statement": [statement]}

    def restarts() -> int:
        return len([r for r in world.admin.requests() if r["method"] == "POST" and r["path"].endswith("/restart")])

    before = restarts()
    restart = kubectl(world, "ccloud", "-n", ns, "restart", "sink")
    assert restart.returncode == 0, restart.stderr
    assert "restart requested" in restart.stdout
    wait_until(lambda: restarts() == before + 1, "the operator's restart of the connector", timeout=30)
    world.wait_event("sink", "ConnectorRestarted")

    missing = kubectl(world, "ccloud", "-n", ns, "restart", "no-such-connector")
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"kubectl ccloud: ManagedConnector {ns}/no-such-connector not found"
