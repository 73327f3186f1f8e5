"""A second control plane: `up()` is idempotent, `down()` leaves nothing behind, the CLI reports it.

It runs beside the session's cluster, in its own state directory, so stopping
it cannot disturb any other test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccloud_sandbox.controlplane.cluster import COMPONENTS, ETCD, ControlPlane

from harness_support import wait_until

#: Starts real binaries, like the tests that use the session's cluster.
pytestmark = pytest.mark.controlplane


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _sandbox_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `ccloud-sandbox ARGS` in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "ccloud_sandbox.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A second control plane, up for this module; stopped at its end whatever happened."""
    control_plane = ControlPlane(tmp_path_factory.mktemp("second-controlplane"))
    try:
        control_plane.up()
        yield control_plane
    finally:
        control_plane.down()


def test_up_twice_reuses_the_running_control_plane(second: ControlPlane) -> None:
    pids = second.pids()

    kubeconfig = second.up()

    assert second.pids() == pids
    assert kubeconfig == second.kubeconfig
    assert set(pids) == set(COMPONENTS)


def test_cli_status_names_every_running_component(second: ControlPlane) -> None:
    result = _sandbox_cli("controlplane", "status", "--state-dir", str(second.state_dir))

    assert result.returncode == 0, result.stderr
    for component, pid in second.pids().items():
        assert f"{component}" in result.stdout
        assert f"pid {pid}" in result.stdout
    assert f"kubeconfig: {second.kubeconfig}" in result.stdout


def test_up_after_a_component_died_starts_a_fresh_control_plane(second: ControlPlane) -> None:
    before = second.pids()
    os.kill(before[ETCD], signal.SIGKILL)
    wait_until(lambda: ETCD not in second.pids(), "etcd to be seen as stopped")

    second.up()

    after = second.pids()
    assert set(after) == set(COMPONENTS)
    assert not set(after.values()) & set(before.values())
    assert [pid for pid in before.values() if _process_exists(pid)] == []
    assert second.status().ready


def test_down_leaves_no_process_behind(second: ControlPlane) -> None:
    pids = second.pids()
    assert len(pids) == len(COMPONENTS)

    second.down()

    assert [pid for pid in pids.values() if _process_exists(pid)] == []
    assert [path.name for path in second.state_dir.glob("*.pid")] == []
    assert second.status().stopped
    second.down()  # safe when nothing runs


def test_cli_status_after_down_says_stopped(second: ControlPlane) -> None:
    second.down()

    result = _sandbox_cli("controlplane", "status", "--state-dir", str(second.state_dir))

    assert result.returncode == 3
    for component in COMPONENTS:
        assert re.search(rf"^{component}\s+stopped$", result.stdout, flags=re.MULTILINE), result.stdout
    assert "running" not in result.stdout


def test_cli_build_without_go_fails_with_the_reason(tmp_path: Path) -> None:
    env = {**os.environ, "CCLOUD_OPERATOR_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}

    result = _sandbox_cli("controlplane", "build", env=env)

    assert result.returncode == 1
    assert "the Go toolchain is not on PATH" in result.stderr
    assert "Traceback" not in result.stderr
