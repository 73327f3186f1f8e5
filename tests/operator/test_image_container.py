"""The operator's image, run: a container of it reconciles both kinds as the chart's ServiceAccount.

The container runs as the chart runs the pod (read-only root filesystem with a tmpfs on /tmp, UID 65532,
every capability dropped, no privilege escalation) in the host's network namespace, where the local
control plane, the emulator and moto listen. Its kubeconfig holds a token of the chart's ServiceAccount.

Needs a Docker engine: without one the `operator_image` fixture (conftest.py) skips the test in one line.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
from kubernetes import client

from ccloud_operator.constants import MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS
from ccloud_sandbox.operator_container import RUN_AS, OperatorContainer

from chart_release_support import RBAC_USER_PREFIX, s3_sink, service_account_kubeconfig
from harness_support import wait_until
from operator_world import World

#: errno EROFS: the write was refused by the read-only mount, not by file permissions.
READ_ONLY_FILE_SYSTEM = 30


def proc_status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status on the host: what the kernel, not Docker, says about the process."""
    fields = (line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: value.strip() for key, value in fields}


def exec_python(container: OperatorContainer, code: str, user: str) -> str:
    """Run Python inside the running container as `user`; its stdout."""
    proc = subprocess.run(
        ["docker", "exec", "--user", user, container.name, "python3", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_image_runs_locked_down_as_the_charts_service_account_reconciles_both_kinds_and_exits_0_on_sigterm(
    operator_image: str,
    world: World,
    chart_release: Callable[[list[str]], str],
    k8s_api: client.ApiClient,
    kubeconfig: Path,
    tmp_path: Path,
) -> None:
    service_account = chart_release([world.namespace])
    token_kubeconfig = service_account_kubeconfig(
        k8s_api, kubeconfig, world.namespace, service_account, tmp_path / "operator.kubeconfig"
    )
    container = world.start_operator_container(
        operator_image, kubeconfig=token_kubeconfig, args=["--namespace", world.namespace]
    )

    # Locked down, as the kernel sees the process: UID/GID 65532, no capabilities at all.
    host_config = container.inspect()["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["CapDrop"] == ["ALL"]
    assert container.pid is not None
    status = proc_status(container.pid)
    uid, gid = RUN_AS.split(":")
    assert status["Uid"].split() == [uid] * 4
    assert status["Gid"].split() == [gid] * 4
    assert {status[key] for key in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")} == {"0000000000000000"}
    assert status["NoNewPrivs"] == "1"
    # Even root inside the container cannot write to the root filesystem: the mount is read-only.
    write_attempt = "try:\n    open('/opt/ccloud-operator/planted', 'w')\nexcept OSError as e:\n    print(e.errno)"
    assert exec_python(container, write_attempt, "0") == str(READ_ONLY_FILE_SYSTEM)
    assert exec_python(container, "import tempfile; print(bool(tempfile.mkstemp()))", RUN_AS) == "True"

    # The chart's startup, liveness and readiness probes all ask /healthz on the health port.
    assert httpx.get(f"http://127.0.0.1:{container.health_port}/healthz", timeout=5).status_code == 200

    s3_sink(world, "image-run")
    world.wait_condition(PROVIDER_INTEGRATIONS, "s3", "Ready", "True", timeout=90)
    connector = world.wait_condition(MANAGED_CONNECTORS, "orders-sink", "Ready", "True", timeout=90)
    assert connector["status"]["state"] == "RUNNING"
    assert world.moto.client("iam").get_role(RoleName="image-run-role")["Role"]["Arn"]

    # Scraped from the container's metrics port: both kinds reconciled, and counted Ready.
    for kind in ("ProviderIntegration", "ManagedConnector"):
        assert world.metric("ccloud_operator_reconciles_total", kind=kind, result="success") >= 1, kind
        wait_until(lambda kind=kind: world.metric("ccloud_operator_resources", kind=kind, ready="true") == 1, kind)

    # Deletion goes through the operator's finalizers: the connector, the integration, then the role.
    world.delete(MANAGED_CONNECTORS, "orders-sink")
    world.wait_gone(MANAGED_CONNECTORS, "orders-sink")
    world.delete(PROVIDER_INTEGRATIONS, "s3")
    world.wait_gone(PROVIDER_INTEGRATIONS, "s3")
    assert world.moto.client("iam").list_roles()["Roles"] == []

    # SIGTERM, as the kubelet sends it: a graceful stop with exit code 0, well within the chart's grace period.
    container.signal("TERM")
    assert container.wait_exit(timeout=60) == 0, container.log()[-3000:]
    log = container.log()
    assert "Operator stopped" in log
    denials = [line for line in log.splitlines() if f'forbidden: User "{RBAC_USER_PREFIX}' in line]
    assert not denials, denials[:3]
    assert not re.search(r"Traceback \(most recent call last\)", log), log[-3000:]
