"""Run the operator out of cluster as a real process, the way the tests and the demo do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ccloud_sandbox.ports import free_port


def wait_for_healthz(
    health_port: int, running: Callable[[], bool], log: Callable[[], str], what: str, timeout: float
) -> None:
    """Wait until /healthz on 127.0.0.1 answers 200; fail early, with the log's tail, if `what` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running():
            raise RuntimeError(f"{what} exited early; log:\n{log()[-4000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{health_port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} was not healthy within {timeout}s; log:\n{log()[-4000:]}")


@dataclass
class OperatorProcess:
    """`ccloud-operator run` in a subprocess, with its log in a file the caller can read."""

    kubeconfig: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    metrics_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    #: The module `python -m` runs; a benchmark may wrap the operator's (to trace its allocations).
    module: str = "ccloud_operator"
    _process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_healthy: float = 60.0) -> OperatorProcess:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "CCLOUD_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "CCLOUD_OPERATOR_HEALTH_PORT": str(self.health_port),
            "CCLOUD_OPERATOR_BIND_ADDRESS": "127.0.0.1",
            **self.env,
        }
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module, "run", *self.args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait_healthy:
            self.wait_healthy(wait_healthy)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait_healthy(self, timeout: float) -> None:
        """Wait for the liveness endpoint, which kopf serves once it watches the cluster."""
        wait_for_healthz(self.health_port, self.running, self.log, "the operator", timeout)

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the crash tests' way of stopping it at an arbitrary line.

        Raises when the process is not running: a kill that lands on nothing proves nothing.
        """
        if self._process is None or self._process.poll() is not None:
            code = None if self._process is None else self._process.returncode
            raise RuntimeError(f"the operator is not running (exit code {code}); log:\n{self.log()[-3000:]}")
        os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait for a graceful exit; SIGKILL after the timeout."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self._process.returncode
