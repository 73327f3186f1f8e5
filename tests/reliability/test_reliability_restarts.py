"""Restarts of the world: the Confluent emulator and the Kubernetes API server go away and come back.

The API server test runs its own control plane in a temporary state directory, so the session's
cluster is never touched. `ControlPlane` can only start a whole plane fresh (its `up()` stops half a
plane and wipes etcd), so the test restarts the API server itself: it reads the process's command
line, stops it, and starts the same command again against the same etcd. It owns that process and
stops it by pid at the end; `down()` stops the rest.

The operator and the test reach that API server through a relay the test holds for its whole life.
Restarted on its old port, the API server sometimes found the port taken in the moment it was free
(CI saw "bind: address already in use"); restarted on a new port behind the same relay, it cannot,
and the operator still sees its connections drop and its address come back, as in a real restart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from reliability_support import create_pair, duplicates, pi_spec

from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI
from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorProcess
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import API_SERVER, ControlPlane
from ccloud_sandbox.ports import free_port

from harness_support import api_client, apply_crds, wait_until
from operator_world import TIME_SCALE, World, condition

RESTARTED_API_SERVER_TIMEOUT = 120.0


def _flush_size(world: World, connector: str) -> str | None:
    configs = {c["name"]: c["config"] for c in world.admin.state()["connectors"].values()}
    return (configs.get(connector) or {}).get("flush.size")


def test_the_operator_rides_out_an_emulator_restart_and_applies_changes_made_meanwhile(world: World) -> None:
    # One client retry, so the outage shows in the status quickly.
    world.start_operator(CCLOUD_OPERATOR_CONFLUENT_MAX_RETRIES="1")
    create_pair(world, "before")
    world.wait_condition(MC, "before-sink", "Ready", "True", timeout=90)

    world.emulator.stop()
    # Changed while Confluent is unreachable: the operator must report it and apply it later.
    world.patch(MC, "before-sink", {"spec": {"config": {"flush.size": "4242"}}})

    def reports_the_outage(obj: dict[str, Any]) -> bool:
        # The connector says so itself, or waits on its integration, whose validation met the outage first.
        ready = condition(obj, "Ready") or {}
        return ready.get("reason") == "ConfluentUnavailable" or (
            ready.get("reason") == "WaitingForProviderIntegration" and "ConfluentUnavailable" in ready["message"]
        )

    world.wait_for(MC, "before-sink", reports_the_outage, "Confluent's outage reported", timeout=60)
    world.emulator.start()  # same port, same state file, same API key

    world.wait_for(
        MC, "before-sink", lambda o: _flush_size(world, "before-sink") == "4242", "the change applied", timeout=90
    )
    world.wait_condition(MC, "before-sink", "Ready", "True", timeout=60)
    create_pair(world, "after")
    world.wait_condition(MC, "after-sink", "Ready", "True", timeout=90)
    world.wait_condition(PI, "before", "Ready", "True", timeout=30)
    assert duplicates(world) == []
    assert len(world.admin.state()["integrations"]) == 2


@pytest.fixture
def own_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A second control plane with the project's CRDs; the session's cluster is left alone."""
    plane = ControlPlane(tmp_path_factory.mktemp("restartable-controlplane"))
    try:
        kubeconfig = plane.up()
        with contextlib.closing(api_client(kubeconfig)) as api:
            apply_crds(api, repo_root() / "crds")
        yield plane
    finally:
        plane.down()


class Relay:
    """A TCP relay on a port of its own to a target port that can change: the API server's stable address."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="relay-accept", daemon=True).start()

    def retarget(self, port: int) -> None:
        """Send new connections to `port`; connections to the old target are cut, as its crash cut them."""
        with self._lock:
            self._target = port
            stale, self._open = self._open, set()
        for sock in stale:
            _close(sock)

    def close(self) -> None:
        _close(self._listener)
        self.retarget(0)

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._connect, args=(downstream,), name="relay-connect", daemon=True).start()

    def _connect(self, downstream: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self._target), timeout=5)
        except OSError:
            _close(downstream)  # nothing listens behind the relay: the client sees its connection end
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.update((downstream, upstream))
        for source, sink in ((downstream, upstream), (upstream, downstream)):
            threading.Thread(target=self._pump, args=(source, sink), name="relay-pump", daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            _close(sock)
            with self._lock:
                self._open.discard(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _relayed_kubeconfig(kubeconfig: Path, relay: Relay, path: Path) -> Path:
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config["clusters"]:
        # Same address, so the serving certificate (issued for 127.0.0.1) still matches.
        cluster["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    path.write_text(yaml.safe_dump(config))
    return path


def _restart_api_server(plane: ControlPlane, relay: Relay) -> subprocess.Popen[bytes]:
    """Kill the plane's kube-apiserver and start its command line again on a new port (same etcd, same certs)."""
    pid = plane.pids()[API_SERVER]
    argv = [os.fsdecode(arg) for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if arg]
    # SIGKILL: a crash, and no graceful shutdown that waits for the operator's watches to time out.
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), "the API server to exit", timeout=30)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    port = free_port()
    argv = [f"--secure-port={port}" if arg.startswith("--secure-port=") else arg for arg in argv]
    with (plane.state_dir / "kube-apiserver.restarted.log").open("wb") as log:
        restarted = subprocess.Popen(
            argv,
            cwd=plane.state_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    relay.retarget(port)
    return restarted


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_operator_recovers_its_watches_after_an_api_server_restart(
    own_control_plane: ControlPlane, moto: MotoServer, tmp_path: Path
) -> None:
    ports = own_control_plane.ports()
    assert ports is not None
    relay = Relay(ports.api_server)
    kubeconfig = _relayed_kubeconfig(own_control_plane.kubeconfig, relay, tmp_path / "relayed.kubeconfig")
    emulator = EmulatorProcess(aws_endpoint=moto.endpoint, time_scale=TIME_SCALE)
    emulator.start()
    restarted: subprocess.Popen[bytes] | None = None
    with contextlib.closing(api_client(kubeconfig)) as api:
        client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="restarts")))
        world = World("restarts", api, moto, emulator, kubeconfig, tmp_path)
        try:
            world.start_operator()
            world.create(PI, "first", pi_spec(world, "first"))
            world.wait_condition(PI, "first", "Ready", "True")

            restarted = _restart_api_server(own_control_plane, relay)

            def served() -> bool:
                try:
                    return world.get(PI, "first") is not None
                except Exception:
                    return False

            wait_until(served, "the restarted API server to serve", timeout=RESTARTED_API_SERVER_TIMEOUT)
            assert world.operator is not None and world.operator.running(), world.operator.log()[-3000:]
            # Created after the restart: only a live watch sees it.
            create_pair(world, "second")
            world.wait_condition(MC, "second-sink", "Ready", "True", timeout=120)
            world.patch(MC, "second-sink", {"spec": {"state": "Paused"}})
            world.wait_condition(MC, "second-sink", "Ready", "True", reason="Paused", timeout=60)
            assert duplicates(world) == []
            assert not world.leaked_secrets()
        finally:
            if world.operator is not None:
                world.operator.stop()
            emulator.close()
            if restarted is not None:
                restarted.terminate()
                try:
                    restarted.wait(20)
                except subprocess.TimeoutExpired:
                    restarted.kill()
                    restarted.wait(10)
            relay.close()
