"""etcd, kube-apiserver and kube-controller-manager as local processes on loopback.

Modelled on controller-runtime's envtest (pkg/internal/testing/controlplane),
plus a controller manager so that namespaces are really deleted and objects
with ownerReferences are garbage-collected. There is no kubelet: pods never
run, but every object is stored, validated and admitted by the real server.

Everything lives in one state directory:

    ports.json                 the ports the components listen on
    controlplane.lock          serialises up() and down() across processes
    <component>.pid / .log     one per component
    pki/                       CA, serving and client certificates, SA key pair
    etcd-data/                 etcd's data (wiped by every fresh `up()`)
    admin.kubeconfig           system:masters; what `up()` returns
    users/<user>.kubeconfig    minted by `mint_kubeconfig()` for RBAC tests

Each component runs in its own session (so a Ctrl-C in the terminal that
started it does not reach it) and is found again through its pid file, which
is why `status()` and `down()` work from another process, such as the CLI.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import yaml

from ccloud_sandbox.controlplane import certs
from ccloud_sandbox.controlplane.build import Toolchain, build, toolchain
from ccloud_sandbox.ports import free_port

ETCD = "etcd"
API_SERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
#: In start order; `down()` stops them in reverse.
COMPONENTS = (ETCD, API_SERVER, CONTROLLER_MANAGER)

#: The controllers a test or the sandbox relies on: namespace deletion,
#: ownerReference garbage collection, the `default` ServiceAccount of every
#: namespace and legacy ServiceAccount token Secrets. Nothing that needs a
#: kubelet or a cloud provider.
#: Names as `kube-controller-manager --help` lists them in v1.36.
CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    # Fills the built-in admin/edit/view ClusterRoles from roles labelled to aggregate into them, which
    # is how the chart grants tenants access to the custom resources.
    "clusterrole-aggregation-controller",
)

#: What a node's pods need on top: Deployments make ReplicaSets make Pods, Services get endpoints (which
#: kube-proxy programs), every namespace gets the `kube-root-ca.crt` ConfigMap that projected
#: ServiceAccount token volumes read, and the node becomes schedulable.
NODE_CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "root-ca-certificate-publisher-controller",
    "pod-garbage-collector-controller",
    # Lifts the not-ready taint a kubelet registers its node with, once the node reports Ready.
    "node-lifecycle-controller",
)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
CONTEXT_NAME = "ccloud-sandbox"

#: A fresh start is etcd (about a second), the API server (5-15 s on 2 cores)
#: and the controller manager; the margin is for a machine busy with builds.
DEFAULT_STARTUP_TIMEOUT = 180.0
DEFAULT_STOP_TIMEOUT = 15.0
_ORPHANED_API_SERVER_GRACE = 1.0
_POLL_INTERVAL = 0.1
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 40


class ControlPlaneError(RuntimeError):
    """The control plane could not be started, reached or stopped; the message says why."""


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one control plane."""

    etcd_client: int
    etcd_peer: int
    api_server: int

    @classmethod
    def pick(cls) -> Ports:
        """Three distinct ports nobody listens on right now."""
        chosen: set[int] = set()
        while len(chosen) < 3:
            chosen.add(free_port())
        etcd_client, etcd_peer, api_server = sorted(chosen)
        return cls(etcd_client, etcd_peer, api_server)

    def of(self, component: str) -> int | None:
        """The port a client uses to reach `component`, if it serves one."""
        return {ETCD: self.etcd_client, API_SERVER: self.api_server}.get(component)


@dataclass(frozen=True)
class ComponentStatus:
    """One component as seen through its pid file."""

    name: str
    pid: int | None
    running: bool
    port: int | None
    log: Path


@dataclass(frozen=True)
class ControlPlaneStatus:
    """What `ControlPlane.status()` observed."""

    state_dir: Path
    components: tuple[ComponentStatus, ...]
    server: str | None
    kubeconfig: Path | None
    #: The API server answered `/readyz` with 200.
    ready: bool

    @property
    def running(self) -> bool:
        """Every component runs."""
        return all(component.running for component in self.components)

    @property
    def stopped(self) -> bool:
        """No component runs."""
        return not any(component.running for component in self.components)

    def describe(self) -> str:
        """Human-readable lines, one per component, then the server and kubeconfig."""
        width = max(len(component.name) for component in self.components)
        lines = []
        for component in self.components:
            if component.running:
                port = f"  port {component.port}" if component.port is not None else ""
                lines.append(f"{component.name:<{width}}  running  pid {component.pid}{port}")
            else:
                lines.append(f"{component.name:<{width}}  stopped")
        if self.running:
            lines.append(f"ready: {'yes' if self.ready else 'no'}")
        if self.server is not None and not self.stopped:
            lines.append(f"server: {self.server}")
        lines.append(f"state: {self.state_dir}")
        if self.kubeconfig is not None and not self.stopped:
            lines.append(f"kubeconfig: {self.kubeconfig}")
        return "\n".join(lines)


class ControlPlane:
    """A local etcd + kube-apiserver + kube-controller-manager owned by one state directory.

    `up()` is idempotent: a healthy control plane already running from the same
    state directory (started by this or any other process) is reused.
    `down()` stops exactly the processes whose pid files are in the state
    directory, and is safe to call when nothing runs.
    """

    def __init__(
        self,
        state_dir: Path,
        chain: Toolchain | None = None,
        *,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        node_address: str | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        #: For a node (`ccloud_sandbox.node`): an address of this host that pods reach. The API server then
        #: listens on every address (loopback stays the host's way in), advertises this one as the
        #: `kubernetes` Service's endpoint, and mounts ServiceAccount tokens into pods.
        self.node_address = node_address
        self.toolchain = chain or toolchain()
        self.startup_timeout = startup_timeout
        # Popen objects of the processes this instance started, so that they are
        # reaped (and never left as zombies) when this same process stops them.
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # -- paths -----------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        """The admin (system:masters) kubeconfig; exists once `up()` has succeeded."""
        return self.state_dir / "admin.kubeconfig"

    @property
    def pki(self) -> certs.PkiPaths:
        """The certificates and keys of the current trust root."""
        return certs.PkiPaths.under(self.state_dir / "pki")

    def log_path(self, component: str) -> Path:
        """Where `component` writes its stdout and stderr."""
        return self.state_dir / f"{component}.log"

    def _pid_path(self, component: str) -> Path:
        return self.state_dir / f"{component}.pid"

    @property
    def _ports_path(self) -> Path:
        return self.state_dir / "ports.json"

    @property
    def _etcd_data_dir(self) -> Path:
        return self.state_dir / "etcd-data"

    @property
    def _controller_manager_kubeconfig(self) -> Path:
        return self.state_dir / "controller-manager.kubeconfig"

    @property
    def _node_address_path(self) -> Path:
        return self.state_dir / "node-address"

    def _recorded_node_address(self) -> str:
        try:
            return self._node_address_path.read_text().strip()
        except FileNotFoundError:
            return ""

    def ports(self) -> Ports | None:
        """The ports recorded by the last `up()`, if any."""
        try:
            return Ports(**json.loads(self._ports_path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    @property
    def server(self) -> str | None:
        """The API server's URL, once ports were chosen."""
        ports = self.ports()
        return None if ports is None else f"https://127.0.0.1:{ports.api_server}"

    # -- lifecycle ---------------------------------------------------------------

    def up(self) -> Path:
        """Start the control plane, or reuse the healthy one already running; return the kubeconfig.

        Builds the binaries first when any is missing from the cache (see
        `ccloud_sandbox.controlplane.build`). Raises `ControlPlaneError` with the
        tail of the failing component's log when it does not become ready.
        """
        with self._exclusive():
            current = self.status()
            same_mode = self._recorded_node_address() == (self.node_address or "")
            if current.running and current.ready and self.kubeconfig.is_file() and same_mode:
                return self.kubeconfig
            if not current.stopped:
                # Half a control plane (one component died) is not worth repairing:
                # a fresh start takes seconds and leaves no doubt about its state.
                self._stop(DEFAULT_STOP_TIMEOUT)
            if self.toolchain.missing():
                build(self.toolchain)
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                try:
                    self._start_fresh()
                    return self.kubeconfig
                except _PortTakenError:
                    # A port chosen as free was taken before the component bound it
                    # (another control plane or test starting at the same moment).
                    self._stop(DEFAULT_STOP_TIMEOUT)
                    if attempt == _PORT_ATTEMPTS:
                        raise
                except BaseException:
                    self._stop(DEFAULT_STOP_TIMEOUT)
                    raise
            raise AssertionError("unreachable")

    def down(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop every component this state directory records: SIGTERM, then SIGKILL after `timeout`.

        Only processes whose command line matches the component and this state
        directory are signalled, so a stale pid file never hits a stranger.
        Removes the pid files; leaves logs and certificates for post-mortems.
        """
        if not self.state_dir.is_dir():
            return
        with self._exclusive():
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        # One at a time, clients first: an API server whose etcd is already gone
        # retries etcd through its whole graceful shutdown instead of exiting.
        etcd_running = self._running_pid(ETCD) is not None
        for name in reversed(COMPONENTS):
            pid = self._running_pid(name)
            if pid is not None:
                # Without etcd the API server's graceful shutdown only retries
                # etcd until the deadline; it holds no state of its own to save.
                grace = timeout if etcd_running or name != API_SERVER else _ORPHANED_API_SERVER_GRACE
                _signal(pid, signal.SIGTERM)
                if self._wait_gone([pid], grace):
                    _signal(pid, signal.SIGKILL)
                    if self._wait_gone([pid], DEFAULT_STOP_TIMEOUT):
                        raise ControlPlaneError(f"{name} (pid {pid}) did not exit after SIGKILL")
            self._pid_path(name).unlink(missing_ok=True)

    def status(self) -> ControlPlaneStatus:
        """Which components run (by pid file and /proc), their ports, and whether the API is ready."""
        ports = self.ports()
        components = []
        for name in COMPONENTS:
            pid = self._running_pid(name)
            components.append(
                ComponentStatus(
                    name=name,
                    pid=pid,
                    running=pid is not None,
                    port=ports.of(name) if ports is not None else None,
                    log=self.log_path(name),
                )
            )
        api_running = any(c.running for c in components if c.name == API_SERVER)
        return ControlPlaneStatus(
            state_dir=self.state_dir,
            components=tuple(components),
            server=self.server,
            kubeconfig=self.kubeconfig if self.kubeconfig.is_file() else None,
            ready=api_running and self._api_ready(),
        )

    def pids(self) -> dict[str, int]:
        """The pid of each running component."""
        return {name: pid for name in COMPONENTS if (pid := self._running_pid(name)) is not None}

    def mint_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """Write a kubeconfig for a non-admin identity (`user` in `groups`) and return its path.

        The client certificate is signed by this control plane's CA, so the API
        server authenticates it and RBAC decides what it may do. Valid until
        the next fresh `up()` (which makes a new CA).
        """
        if self.server is None or not self.pki.ca_key.is_file():
            raise ControlPlaneError(f"no control plane in {self.state_dir}: run up() first")
        if certs.MASTERS_GROUP in groups:
            raise ValueError("a minted identity must not be in system:masters; use the admin kubeconfig")
        issued = certs.mint_client_certificate(self.pki.ca_cert.parent, user, groups)
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", user)
        path = self.state_dir / "users" / f"{safe_name}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_kubeconfig(path, self.server, self.pki.ca_cert.read_bytes(), user, issued)
        return path

    def __enter__(self) -> ControlPlane:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.down()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise `up()` and `down()` of one state directory across processes (two CLIs, two sessions)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / "controlplane.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- starting ----------------------------------------------------------------

    def _start_fresh(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Stale pid files of processes that died (killed, machine rebooted) would
        # read as "exited during start-up" below.
        for name in COMPONENTS:
            self._pid_path(name).unlink(missing_ok=True)
        shutil.rmtree(self._etcd_data_dir, ignore_errors=True)
        ports = Ports.pick()
        _write_atomic(self._ports_path, json.dumps(ports.__dict__, indent=2) + "\n")
        _write_atomic(self._node_address_path, f"{self.node_address or ''}\n")
        pki = certs.write_pki(self.state_dir / "pki", [self.node_address] if self.node_address else [])
        server = f"https://127.0.0.1:{ports.api_server}"
        ca_pem = pki.ca_cert.read_bytes()
        _write_kubeconfig(
            self._controller_manager_kubeconfig,
            server,
            ca_pem,
            certs.CONTROLLER_MANAGER_USER,
            certs.IssuedCertificate(pki.controller_manager_cert.read_bytes(), pki.controller_manager_key.read_bytes()),
        )
        self.kubeconfig.unlink(missing_ok=True)

        self._spawn(ETCD, self._etcd_args(ports))
        etcd_url = f"http://127.0.0.1:{ports.etcd_client}/health"
        self._wait_for("etcd to report healthy", lambda: _http_ok(etcd_url, None), ETCD)

        self._spawn(API_SERVER, self._api_server_args(ports, pki))
        self._wait_for("the API server's /readyz", self._api_ready, API_SERVER)

        self._spawn(CONTROLLER_MANAGER, self._controller_manager_args(pki))
        # The serviceaccount controller creating `default/default` shows the
        # controller manager is connected and running its controllers.
        self._wait_for(
            "the controller manager to create the default ServiceAccount",
            lambda: self._api_get_ok("/api/v1/namespaces/default/serviceaccounts/default"),
            CONTROLLER_MANAGER,
        )
        _write_kubeconfig(
            self.kubeconfig,
            server,
            ca_pem,
            certs.ADMIN_USER,
            certs.IssuedCertificate(pki.admin_cert.read_bytes(), pki.admin_key.read_bytes()),
        )

    def _etcd_args(self, ports: Ports) -> list[str]:
        client = f"http://127.0.0.1:{ports.etcd_client}"
        peer = f"http://127.0.0.1:{ports.etcd_peer}"
        return [
            str(self.toolchain.binary(ETCD)),
            "--name=ccloud-sandbox",
            f"--data-dir={self._etcd_data_dir}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=ccloud-sandbox={peer}",
            # Throw-away data: durability is not worth an fsync per write.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _api_server_args(self, ports: Ports, pki: certs.PkiPaths) -> list[str]:
        server = f"https://127.0.0.1:{ports.api_server}"
        return [
            str(self.toolchain.binary(API_SERVER)),
            f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
            *self._address_args(),
            f"--secure-port={ports.api_server}",
            f"--cert-dir={self.state_dir / 'pki'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            # TokenRequest: tokens are signed with the private key, verified
            # with the public one, and carry the issuer as their audience.
            f"--service-account-issuer={server}",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
        ]

    def _address_args(self) -> list[str]:
        if self.node_address:
            return [
                "--bind-address=0.0.0.0",
                f"--advertise-address={self.node_address}",
                # The `kubernetes` Service's endpoint is the advertised address, which pods reach.
                "--endpoint-reconciler-type=lease",
                # `kubectl logs` dials the kubelet; the node's name resolves nowhere, its address does.
                "--kubelet-preferred-address-types=InternalIP",
            ]
        return [
            "--bind-address=127.0.0.1",
            # Without it the API server looks for a default route to pick its
            # address, and fails to start on a machine that has none.
            "--advertise-address=127.0.0.1",
            # No kubelet: pods are stored, never run, and need no token volume.
            "--disable-admission-plugins=ServiceAccount",
            # The `kubernetes` Service would get 127.0.0.1 as its endpoint, which
            # Endpoints validation rejects ("may not be in the loopback range"),
            # logged again on every reconcile; nothing in-cluster dials it here.
            "--endpoint-reconciler-type=none",
        ]

    def _controller_manager_args(self, pki: certs.PkiPaths) -> list[str]:
        return [
            str(self.toolchain.binary(CONTROLLER_MANAGER)),
            f"--kubeconfig={self._controller_manager_kubeconfig}",
            f"--controllers={','.join(CONTROLLERS + (NODE_CONTROLLERS if self.node_address else ()))}",
            "--leader-elect=false",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            # Nothing scrapes its metrics or health endpoints; not serving them
            # saves a port (and a self-signed certificate).
            "--secure-port=0",
        ]

    def _spawn(self, component: str, argv: list[str]) -> None:
        with self.log_path(component).open("wb") as log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                # Its own session: signals sent to the terminal or pytest's
                # process group do not reach it; only `down()` stops it.
                start_new_session=True,
                # Never hand the state directory's lock (or any other fd) to a
                # component: a flock shared with a long-lived child is never released.
                close_fds=True,
            )
        self._children[process.pid] = process
        _write_atomic(self._pid_path(component), f"{process.pid}\n")

    def _wait_for(self, what: str, condition: Callable[[], bool], component: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            for name in COMPONENTS:
                if self._pid_path(name).exists() and self._running_pid(name) is None:
                    log = _tail(self.log_path(name))
                    if "address already in use" in log:
                        raise _PortTakenError(f"{name} could not bind its port:\n{log}")
                    raise ControlPlaneError(
                        f"{name} exited while waiting for {what}; the last lines of {self.log_path(name)}:\n{log}"
                    )
            if condition():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"timed out after {self.startup_timeout:.0f}s waiting for {what}; "
                    f"the last lines of {self.log_path(component)}:\n{_tail(self.log_path(component))}"
                )
            time.sleep(_POLL_INTERVAL)

    # -- observing ---------------------------------------------------------------

    def _admin_tls(self) -> ssl.SSLContext | None:
        pki = self.pki
        if not (pki.ca_cert.is_file() and pki.admin_cert.is_file() and pki.admin_key.is_file()):
            return None
        context = ssl.create_default_context(cafile=str(pki.ca_cert))
        context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        return context

    def _api_get_ok(self, path: str) -> bool:
        server = self.server
        tls = self._admin_tls()
        if server is None or tls is None:
            return False
        return _http_ok(server + path, tls)

    def _api_ready(self) -> bool:
        return self._api_get_ok("/readyz")

    def _running_pid(self, component: str) -> int | None:
        """The pid in the component's pid file, if that process is alive and is ours."""
        try:
            pid = int(self._pid_path(component).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        child = self._children.get(pid)
        if child is not None:
            return pid if child.poll() is None else None
        return pid if _is_component_process(pid, component, self.state_dir) else None

    def _wait_gone(self, pids: list[int], timeout: float) -> list[int]:
        """Wait until each pid has exited (reaping our own children); return those still alive."""
        deadline = time.monotonic() + timeout
        remaining = list(pids)
        while remaining:
            remaining = [pid for pid in remaining if not self._reap(pid)]
            if not remaining or time.monotonic() > deadline:
                break
            time.sleep(_POLL_INTERVAL / 2)
        return remaining

    def _reap(self, pid: int) -> bool:
        """True once `pid` is gone; reaps it when it is a child of this process."""
        child = self._children.get(pid)
        if child is not None:
            if child.poll() is None:
                return False
            del self._children[pid]
            return True
        try:
            # A child of this process that another ControlPlane instance started.
            reaped, _ = os.waitpid(pid, os.WNOHANG)
            if reaped == pid:
                return True
        except ChildProcessError:
            pass
        return not _pid_alive(pid)


class _PortTakenError(ControlPlaneError):
    """A component could not bind a port that was free a moment earlier."""


def _http_ok(url: str, tls: ssl.SSLContext | None) -> bool:
    try:
        # trust_env=False: a proxy from the environment must never see loopback traffic.
        response = httpx.get(url, verify=tls if tls is not None else True, timeout=2.0, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _proc_state(pid: int) -> str | None:
    """The one-letter state from /proc/<pid>/stat, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    return stat.rsplit(")", 1)[1].split()[0]


def _pid_alive(pid: int) -> bool:
    if Path("/proc").is_dir():
        state = _proc_state(pid)
        return state is not None and state != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_component_process(pid: int, component: str, state_dir: Path) -> bool:
    """Whether `pid` is `component` started for `state_dir` (not a recycled pid)."""
    if not _pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        # No /proc (not Linux): trust the pid file.
        return not Path("/proc").is_dir()
    if not argv or Path(os.fsdecode(argv[0])).name != component:
        return False
    marker = os.fsencode(str(state_dir))
    return any(marker in arg for arg in argv[1:])


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.touch(mode=mode, exist_ok=True)
    partial.chmod(mode)
    partial.write_text(text)
    partial.replace(path)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _write_kubeconfig(path: Path, server: str, ca_pem: bytes, user: str, credential: certs.IssuedCertificate) -> None:
    """A self-contained kubeconfig (certificates embedded) with a single context."""
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(credential.cert_pem),
                    "client-key-data": _b64(credential.key_pem),
                },
            }
        ],
        "contexts": [{"name": CONTEXT_NAME, "context": {"cluster": CONTEXT_NAME, "user": user}}],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }
    # 0600: it holds a private key.
    _write_atomic(path, yaml.safe_dump(config, sort_keys=False), mode=0o600)
