"""A real node beside the local control plane: containerd, kubelet, kube-scheduler and kube-proxy on this host.

    node = Node(state_dir, control_plane)       # control_plane = ControlPlane(..., node_address=NODE_ADDRESS)
    node.prepare_network()                      # the bridge pods attach to; before control_plane.up()
    node.up(images=["ccloud-operator:dev"])     # images come from the local Docker engine
    ...
    node.down()

What runs, and why each piece is the way it is:

- **Network.** A Linux bridge `ccloud0` with `NODE_ADDRESS` (10.244.0.1/24), made before the control plane
  starts, so the API server (which listens on every address in node mode and advertises this one), the
  emulator and moto are reachable from pods at an address of this host. The bridge CNI plugin attaches
  pods to it, host-local IPAM hands out 10.244.0.0/24, portmap and loopback complete the chain.
- **containerd** from Debian's package, on its own socket, root and state under the node's state
  directory (Docker's own containerd is left alone). Its CRI plugin has `restrict_oom_score_adj = true`:
  sandboxes otherwise ask for a lower `oom_score_adj`, which needs CAP_SYS_RESOURCE, which this machine
  kind's capability bounding set lacks, and fail with "can't get final child's PID from pipe: EOF".
- **Images** are never pulled (no registry): the pause image is built here from `pause.c` (static, `FROM
  scratch`), and every image is exported from the Docker engine into containerd's `k8s.io` namespace.
- **kubelet** with the cgroupfs driver on cgroup v1, no QoS cgroups, no node allocatable enforcement,
  swap allowed; it authenticates as the admin (system:masters): the control plane runs RBAC only, with
  no Node authorizer, so a node identity would need RBAC it does not have.
- **kube-proxy** in iptables mode (nf_tables backend) makes Services reachable, including the
  `kubernetes` Service in-cluster clients use; `down()` removes its rules with `kube-proxy --cleanup`.
- **kube-scheduler** binds pods to the node.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from ccloud_sandbox.controlplane.build import Toolchain, build, toolchain
from ccloud_sandbox.controlplane.cluster import ControlPlane
from ccloud_sandbox.ports import free_port

BRIDGE = "ccloud0"
NODE_ADDRESS = "10.244.0.1"
POD_CIDR = "10.244.0.0/24"
NODE_NAME = "ccloud-node"
PAUSE_IMAGE = "ccloud-operator.local/pause:3.10"
CNI_BIN_DIR = Path("/usr/lib/cni")
#: Stopped in this order (reverse of start).
COMPONENTS = ("kube-proxy", "kubelet", "kube-scheduler", "containerd")
NODE_READY_TIMEOUT = 180.0
HOST_LOCK = Path(tempfile.gettempdir()) / "ccloud-sandbox-node.lock"
#: The state directory of the node that last held the lock: one whose process died without `down()` is
#: stopped by the next `up()` (its kubelet and kube-proxy would otherwise fight the new ones).
HOST_STATE = Path(tempfile.gettempdir()) / "ccloud-sandbox-node.state"


class NodeError(RuntimeError):
    """A node component could not be set up, started or stopped; the message says why."""


def _run(
    command: Sequence[str], what: str, *, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(command), capture_output=True, text=True, check=False, timeout=300)
    if check and proc.returncode != 0:
        raise NodeError(f"{what} failed ({' '.join(command[:3])} ...): {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc


def missing_host_packages() -> list[str]:
    """Debian packages the node needs that this host lacks."""
    needed = {
        "containerd": shutil.which("containerd"),
        "runc": shutil.which("runc"),
        "containernetworking-plugins": (CNI_BIN_DIR / "bridge").is_file() or None,
        "iptables": shutil.which("iptables", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"),
        "gcc": shutil.which("gcc"),
    }
    return [package for package, found in needed.items() if not found]


def unmount_under(directory: Path) -> list[str]:
    """Unmount everything mounted under `directory`, deepest first; returns the mount points.

    kubelet bind-mounts its root directory onto itself and mounts each pod's volumes (tmpfs for projected
    tokens); containerd mounts sandboxes' shm and containers' root filesystems. They outlive the processes
    and would keep the state directory from being removed.
    """
    prefix = str(directory.resolve())
    mount_points = [
        line.split()[1].replace("\\040", " ")
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1] == prefix or line.split()[1].startswith(prefix + "/")
    ]
    for mount_point in sorted(set(mount_points), key=len, reverse=True):
        _run(["umount", "--lazy", mount_point], f"umount {mount_point}", check=False)
    return mount_points


def build_pause_image(tag: str = PAUSE_IMAGE) -> str:
    """Compile pause.c statically and build it into a `FROM scratch` image in the Docker engine."""
    with tempfile.TemporaryDirectory(prefix="ccloud-pause-") as work:
        context = Path(work)
        _run(
            [
                "gcc",
                "-static",
                "-Os",
                "-s",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-o",
                str(context / "pause"),
                str(Path(__file__).with_name("pause.c")),
            ],
            "compiling pause.c",
        )
        (context / "Dockerfile").write_text(
            'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n'
        )
        _run(["docker", "build", "--network", "none", "--tag", tag, str(context)], "docker build of the pause image")
    return tag


class Node:
    """containerd, kubelet, kube-scheduler and kube-proxy for one control plane, owned by one state directory."""

    def __init__(
        self,
        state_dir: Path,
        control_plane: ControlPlane,
        chain: Toolchain | None = None,
        *,
        _check_address: bool = True,
    ) -> None:
        if _check_address and control_plane.node_address != NODE_ADDRESS:
            raise NodeError(f"the control plane must be made with node_address={NODE_ADDRESS!r}")
        self.state_dir = state_dir.resolve()
        self.control_plane = control_plane
        self.toolchain = chain or toolchain()
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._host_lock: IO[str] | None = None

    # -- paths -----------------------------------------------------------------------------------------

    @property
    def containerd_socket(self) -> Path:
        return self.state_dir / "containerd" / "containerd.sock"

    def log_path(self, component: str) -> Path:
        return self.state_dir / f"{component}.log"

    def _pid_path(self, component: str) -> Path:
        return self.state_dir / f"{component}.pid"

    # -- network ---------------------------------------------------------------------------------------

    @staticmethod
    def prepare_network() -> None:
        """Create the bridge with the node's address (idempotent); the control plane listens there too."""
        if _run(["ip", "link", "show", BRIDGE], "ip link show", check=False).returncode != 0:
            _run(["ip", "link", "add", BRIDGE, "type", "bridge"], f"creating the bridge {BRIDGE}")
        addresses = _run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE], "ip addr show").stdout
        if f" {NODE_ADDRESS}/" not in addresses:
            _run(["ip", "addr", "add", f"{NODE_ADDRESS}/24", "dev", BRIDGE], f"adding {NODE_ADDRESS} to {BRIDGE}")
        _run(["ip", "link", "set", BRIDGE, "up"], f"bringing {BRIDGE} up")
        # Pods' packets to the API server, the emulator and moto arrive on the bridge and are routed locally.
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")

    # -- lifecycle -------------------------------------------------------------------------------------

    def up(self, images: Sequence[str] = ()) -> float:
        """Start every component, load `images` and the pause image, and wait for the node to be Ready.

        Returns the seconds it took. The control plane must be up.
        """
        started = time.monotonic()
        missing = missing_host_packages()
        if missing:
            raise NodeError(f"missing Debian packages: apt-get install {' '.join(missing)}")
        if self.toolchain.missing(with_node=True):
            build(self.toolchain, with_node=True)
        kubeconfig = self.control_plane.kubeconfig
        if not kubeconfig.is_file():
            raise NodeError("the control plane is not up")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._hold_host_lock()
        previous = HOST_STATE.read_text().strip() if HOST_STATE.is_file() else ""
        if previous and Path(previous) != self.state_dir and Path(previous).is_dir():
            Node.stop(Path(previous), self.control_plane)
        HOST_STATE.write_text(f"{self.state_dir}\n")
        self._stop_components()
        self._write_cni_config()
        self._spawn("containerd", ["containerd", "--config", str(self._write_containerd_config())])
        self._wait_for("containerd's socket", self._containerd_answers, "containerd")
        for image in (build_pause_image(), *images):
            self._import_image(image)
        self._spawn(
            "kube-scheduler",
            [
                str(self.toolchain.binary("kube-scheduler")),
                f"--kubeconfig={kubeconfig}",
                "--leader-elect=false",
                "--secure-port=0",
            ],
        )
        self._spawn(
            "kubelet",
            [
                str(self.toolchain.binary("kubelet")),
                f"--config={self._write_kubelet_config()}",
                f"--kubeconfig={kubeconfig}",
                f"--node-ip={NODE_ADDRESS}",
                f"--hostname-override={NODE_NAME}",
                f"--root-dir={self.state_dir / 'kubelet'}",
                f"--cert-dir={self.state_dir / 'kubelet' / 'pki'}",
            ],
        )
        self._spawn(
            "kube-proxy",
            [
                str(self.toolchain.binary("kube-proxy")),
                f"--kubeconfig={kubeconfig}",
                "--proxy-mode=iptables",
                f"--cluster-cidr={POD_CIDR}",
                f"--hostname-override={NODE_NAME}",
                f"--metrics-bind-address=127.0.0.1:{free_port()}",
                f"--healthz-bind-address=127.0.0.1:{free_port()}",
                # Leave the host's conntrack table size alone: setting it needs a sysctl this sandbox may refuse.
                "--conntrack-max-per-core=0",
            ],
        )
        self._wait_for("the node to be Ready", self._node_ready, "kubelet", timeout=NODE_READY_TIMEOUT)
        return time.monotonic() - started

    def down(self, timeout: float = 20.0) -> None:
        """Stop the pods' containers, then every component; remove kube-proxy's rules. Safe when nothing runs."""
        self._stop_components(timeout)
        if self._host_lock is not None:
            self._host_lock.close()
            self._host_lock = None

    @staticmethod
    def stop(state_dir: Path, control_plane: ControlPlane) -> None:
        """Stop the node of `state_dir`, started by any process (the CLI's `down`)."""
        Node(state_dir, control_plane, _check_address=False)._stop_components()

    def _stop_components(self, timeout: float = 20.0) -> None:
        for component in COMPONENTS:
            if component == "containerd" and self._running_pid("containerd") is not None:
                # Only now that kubelet is gone: it would restart the containers killed here.
                self._remove_pod_containers()
            pid = self._running_pid(component)
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self._alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._reap(pid)
            self._pid_path(component).unlink(missing_ok=True)
        if self.toolchain.binary("kube-proxy").is_file():
            _run([str(self.toolchain.binary("kube-proxy")), "--cleanup"], "kube-proxy --cleanup", check=False)
        unmount_under(self.state_dir)

    def _hold_host_lock(self) -> None:
        """One node per host: the bridge, its addresses and kube-proxy's iptables rules are host-wide.

        Held from `up()` to `down()` (the kernel drops it if this process dies); another node waits.
        """
        if self._host_lock is not None:
            return
        handle = HOST_LOCK.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[node] another node holds {HOST_LOCK}; waiting for it", file=sys.stderr, flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        self._host_lock = handle

    # -- components ------------------------------------------------------------------------------------

    def _write_containerd_config(self) -> Path:
        root = self.state_dir / "containerd"
        root.mkdir(parents=True, exist_ok=True)
        config = root / "config.toml"
        config.write_text(
            f"""version = 2
root = "{root / "root"}"
state = "{root / "state"}"
[grpc]
  address = "{self.containerd_socket}"
[ttrpc]
  address = "{root / "containerd.sock.ttrpc"}"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{self.state_dir / "cni"}"
"""
        )
        return config

    def _write_cni_config(self) -> None:
        directory = self.state_dir / "cni"
        directory.mkdir(parents=True, exist_ok=True)
        conflist = {
            "cniVersion": "1.0.0",
            "name": "ccloud",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_ADDRESS}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.state_dir / "cni-ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (directory / "10-ccloud.conflist").write_text(json.dumps(conflist, indent=2))

    def _write_kubelet_config(self) -> Path:
        directory = self.state_dir / "kubelet"
        directory.mkdir(parents=True, exist_ok=True)
        ca_file = self.control_plane.pki.ca_cert
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_ADDRESS,
            "port": free_port(),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            # `kubectl logs` goes API server -> kubelet; the API server presents no client certificate here.
            "authentication": {
                "anonymous": {"enabled": True},
                "webhook": {"enabled": False},
                "x509": {"clientCAFile": str(ca_file)},
            },
            "authorization": {"mode": "AlwaysAllow"},
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "cgroupDriver": "cgroupfs",
            # This host is cgroup v1, which kubelet refuses from v1.35 unless told otherwise.
            "failCgroupV1": False,
            "failSwapOn": False,
            "cgroupsPerQOS": False,
            "enforceNodeAllocatable": [],
            "localStorageCapacityIsolation": False,
            "podCIDR": POD_CIDR,
            "podLogsDir": str(self.state_dir / "pod-logs"),
            "resolvConf": "/etc/resolv.conf",
            "serializeImagePulls": False,
            # The disk is shared with the engineers' builds: never evict the test's pods for it.
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "registerNode": True,
            "syncFrequency": "5s",
            "fileCheckFrequency": "5s",
            "nodeStatusUpdateFrequency": "5s",
        }
        path = directory / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def _ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
            f"ctr {args[0]}",
            check=check,
        )

    def _containerd_answers(self) -> bool:
        if not self.containerd_socket.exists():
            return False
        return (
            _run(["ctr", "--address", str(self.containerd_socket), "version"], "ctr version", check=False).returncode
            == 0
        )

    def _import_image(self, image: str) -> None:
        saved = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert saved.stdout is not None
        imported = subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", "images", "import", "-"],
            stdin=saved.stdout,
            capture_output=True,
            text=True,
            check=False,
        )
        saved.stdout.close()
        _, save_error = saved.communicate()
        if saved.returncode != 0 or imported.returncode != 0:
            raise NodeError(f"loading {image} into containerd failed: {save_error.decode()} {imported.stderr}")

    def _remove_pod_containers(self) -> None:
        """Kill every task in containerd's k8s.io namespace: their shims outlive containerd and kubelet.

        A task whose shim stays after its last task is deleted would hold the pod's network namespace."""
        tasks = self._ctr("tasks", "list", "--quiet", check=False).stdout.split()
        for task in tasks:
            self._ctr("tasks", "kill", "--signal", "SIGKILL", task, check=False)
        deadline = time.monotonic() + 20
        while tasks and time.monotonic() < deadline:
            for task in tasks:
                self._ctr("tasks", "delete", task, check=False)
            tasks = self._ctr("tasks", "list", "--quiet", check=False).stdout.split()
            time.sleep(0.2)
        for container in self._ctr("containers", "list", "--quiet", check=False).stdout.split():
            self._ctr("containers", "delete", container, check=False)

    def _node_ready(self) -> bool:
        kubeconfig = str(self.control_plane.kubeconfig)
        api: client.ApiClient = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        with contextlib.closing(api):
            try:
                node = client.CoreV1Api(api).read_node(NODE_NAME)
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
        conditions = (node.status.conditions if node.status else None) or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    # -- processes -------------------------------------------------------------------------------------

    def _spawn(self, component: str, argv: list[str]) -> None:
        with self.log_path(component).open("wb") as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._children[process.pid] = process
        self._pid_path(component).write_text(f"{process.pid}\n")

    def _running_pid(self, component: str) -> int | None:
        try:
            pid = int(self._pid_path(component).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _alive(self, pid: int) -> bool:
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return False
        return state != "Z"

    def _reap(self, pid: int) -> None:
        child = self._children.pop(pid, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)

    def _wait_for(self, what: str, condition: Callable[[], bool], component: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            pid = self._running_pid(component)
            if pid is None:
                raise NodeError(f"{component} exited while waiting for {what}:\n{self._tail(component)}")
            time.sleep(0.5)
        raise NodeError(f"timed out after {timeout:.0f}s waiting for {what}:\n{self._tail(component)}")

    def _tail(self, component: str, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path(component).read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
