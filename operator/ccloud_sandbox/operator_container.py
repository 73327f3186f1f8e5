"""Run the operator's image as a container with the local Docker engine, locked down as the chart runs it.

The container shares the host's network namespace (`--network host`): the local control plane, the
emulator and moto listen on loopback, which a container on a bridge network cannot reach. Everything
else is the chart's pod security: a read-only root filesystem with a small tmpfs on /tmp (the chart's
emptyDir), UID and GID 65532, every capability dropped, no privilege escalation. The kubeconfig is
mounted read-only; settings (secrets among them) go through an env file, never the command line.

Its interface is `OperatorProcess`'s, so a test world can hold either.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ccloud_sandbox.operator_process import wait_for_healthz
from ccloud_sandbox.ports import free_port

#: Where the kubeconfig is mounted inside the container.
KUBECONFIG_IN_CONTAINER = "/etc/ccloud-operator/kubeconfig"
#: The chart's pod UID and GID, and the image's USER.
RUN_AS = "65532:65532"
#: A label naming the process that started the container, so a later run can remove what a killed one left.
OWNER_LABEL = "dev.ccloud-operator.sandbox.owner-pid"


class ContainerError(RuntimeError):
    """A docker command about the operator's container failed."""


def _docker(*args: str, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise ContainerError(f"docker {args[0]} failed: {proc.stderr.strip()[-2000:]}")
    return proc


@dataclass
class OperatorContainer:
    """`docker run IMAGE` with the operator's settings; the log is the container's, kept in a file at the end."""

    image: str
    kubeconfig: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    metrics_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    name: str = field(default_factory=lambda: f"ccloud-operator-{secrets.token_hex(4)}")
    exit_code: int | None = None
    _started: bool = False

    def run_command(self, env_file: Path) -> list[str]:
        """The `docker run` command line (no setting values on it: they are in `env_file`)."""
        return [
            "docker",
            "run",
            "--detach",
            "--name",
            self.name,
            "--label",
            f"{OWNER_LABEL}={os.getpid()}",
            "--network",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp:rw,noexec,nosuid,size=64m",
            "--user",
            RUN_AS,
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--volume",
            f"{self.kubeconfig}:{KUBECONFIG_IN_CONTAINER}:ro",
            "--env-file",
            str(env_file),
            self.image,
            *self.args,
        ]

    def start(self, *, wait_healthy: float = 60.0) -> OperatorContainer:
        env = {
            "KUBECONFIG": KUBECONFIG_IN_CONTAINER,
            "CCLOUD_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "CCLOUD_OPERATOR_HEALTH_PORT": str(self.health_port),
            # The host's network namespace: listen on loopback only, not on every address of the host.
            "CCLOUD_OPERATOR_BIND_ADDRESS": "127.0.0.1",
            **self.env,
        }
        env_file = self.log_path.with_name(f"{self.name}.env")
        env_file.touch(mode=0o600)
        env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
        # The container's user must read the kubeconfig through the bind mount.
        self.kubeconfig.chmod(0o644)
        try:
            _docker(*self.run_command(env_file)[1:])
        finally:
            env_file.unlink()
        self._started = True
        if wait_healthy:
            self.wait_healthy(wait_healthy)
        return self

    def inspect(self) -> dict[str, Any]:
        """`docker inspect` of the container."""
        found: list[dict[str, Any]] = json.loads(_docker("inspect", self.name).stdout)
        return found[0]

    @property
    def pid(self) -> int | None:
        """The operator's pid on the host (the container's init), while it runs."""
        if not self.running():
            return None
        return int(self.inspect()["State"]["Pid"])

    def running(self) -> bool:
        if not self._started or self.exit_code is not None:
            return False
        proc = _docker("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return proc.stdout.strip() == "true"

    def wait_healthy(self, timeout: float) -> None:
        """Wait for /healthz, the path of the chart's startup, liveness and readiness probes."""
        wait_for_healthz(self.health_port, self.running, self.log, "the operator's container", timeout)

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def log(self) -> str:
        """The container's output so far (or, once removed, as kept in `log_path`)."""
        if self._started and self.exit_code is None:
            proc = subprocess.run(
                ["docker", "logs", self.name],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                timeout=30,
                check=False,
            )
            return proc.stdout
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, name: str) -> None:
        """Send a signal to the operator (the container's main process)."""
        _docker("kill", "--signal", name, self.name)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the container to exit; keep its log and remove it; return its exit code."""
        if self.exit_code is not None:
            return self.exit_code
        code = int(_docker("wait", self.name, timeout=timeout).stdout.strip())
        self.log_path.write_text(self.log())
        _docker("rm", "--force", self.name, check=False)
        self.exit_code = code
        return code

    def kill(self) -> None:
        """SIGKILL, as a node would after the grace period."""
        if not self.running():
            raise RuntimeError(f"the operator's container is not running; log:\n{self.log()[-3000:]}")
        self.signal("KILL")
        self.wait_exit(30)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait for a graceful exit; SIGKILL after the timeout. Removes the container."""
        if not self._started:
            return None
        if self.exit_code is None:
            _docker("stop", "--time", str(int(timeout)), self.name, timeout=timeout + 30, check=False)
            self.wait_exit(30)
        return self.exit_code


def remove_abandoned_containers() -> list[str]:
    """Remove operator containers whose starting process is gone (a session killed before its teardown).

    Such a container would otherwise go on reconciling in the host's network namespace. Returns their names.
    """
    listed = _docker(
        "ps", "--all", "--filter", f"label={OWNER_LABEL}", "--format", f'{{{{.Names}}}} {{{{.Label "{OWNER_LABEL}"}}}}'
    )
    removed = []
    for line in listed.stdout.splitlines():
        name, _, owner = line.partition(" ")
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _docker("rm", "--force", name, check=False)
            removed.append(name)
    return removed
