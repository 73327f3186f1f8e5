"""`ccloud-sandbox controlplane build|up|down|status`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ccloud_sandbox.controlplane.build import BuildError, build, toolchain
from ccloud_sandbox.controlplane.cluster import ControlPlane, ControlPlaneError

#: `status` exits with this when the control plane is not fully running, like
#: `systemctl status` does for an inactive unit, so scripts can test for it.
EXIT_NOT_RUNNING = 3


def repo_root() -> Path:
    """The checkout this package runs from, else the nearest parent of cwd with a pyproject.toml.

    An editable install runs from `<repo>/operator/ccloud_sandbox`; a regular
    install does not, and then the current directory decides.
    """
    package_repo = Path(__file__).resolve().parents[3]
    if (package_repo / "pyproject.toml").is_file() and (package_repo / "operator").is_dir():
        return package_repo
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return cwd


def default_state_dir() -> Path:
    """`<repo root>/.state/controlplane` (`.state/` is git-ignored)."""
    return repo_root() / ".state" / "controlplane"


def register(subparsers: Any) -> None:
    """Add the `controlplane` command and its subcommands to the top-level parser."""
    parser = subparsers.add_parser(
        "controlplane",
        help="a local kube-apiserver, kube-controller-manager and etcd",
        description="A real Kubernetes control plane (no kubelet) as local processes on loopback.",
    )
    commands = parser.add_subparsers(dest="controlplane_command", required=True)

    build_parser = commands.add_parser("build", help="build the binaries into the cache (10-20 minutes cold)")
    build_parser.add_argument(
        "--with-node", action="store_true", help="also kubelet, kube-scheduler and kube-proxy (for a node)"
    )
    build_parser.set_defaults(handler=handle_build)

    up = commands.add_parser("up", help="start it (or reuse the running one); prints the kubeconfig path last")
    _add_state_dir(up)
    up.add_argument(
        "--with-node",
        action="store_true",
        help="also a node (containerd, kubelet, kube-scheduler, kube-proxy) that runs pods; needs root and Docker",
    )
    up.add_argument(
        "--image",
        action="append",
        default=[],
        help="with --with-node: a Docker image to load into the node (repeat; default ccloud-operator:dev if built)",
    )
    up.set_defaults(handler=handle_up)

    down = commands.add_parser("down", help="stop every process it started")
    _add_state_dir(down)
    down.set_defaults(handler=handle_down)

    status = commands.add_parser(
        "status", help=f"show which components run; exit {EXIT_NOT_RUNNING} unless all of them do"
    )
    _add_state_dir(status)
    status.set_defaults(handler=handle_status)


def _add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where pid files, logs, certificates and kubeconfigs live (default: <repo>/.state/controlplane)",
    )


def _control_plane(args: argparse.Namespace) -> ControlPlane:
    state_dir: Path | None = args.state_dir
    return ControlPlane(state_dir if state_dir is not None else default_state_dir())


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def handle_build(args: argparse.Namespace) -> int:
    """Build the missing binaries; progress goes to stderr, the bin directory to stdout."""
    try:
        chain = build(toolchain(), with_node=args.with_node)
    except BuildError as error:
        return _fail(str(error))
    print(chain.bin_dir)
    return 0


def handle_up(args: argparse.Namespace) -> int:
    """Start the control plane (and a node); the last line printed is the admin kubeconfig path."""
    # Imported here: ccloud_sandbox.image imports this module (repo_root).
    from ccloud_sandbox.image import DEFAULT_TAG, image_exists
    from ccloud_sandbox.node import NODE_ADDRESS, Node, NodeError

    state_dir: Path = args.state_dir if args.state_dir is not None else default_state_dir()
    control_plane = ControlPlane(state_dir, node_address=NODE_ADDRESS if args.with_node else None)
    started = time.monotonic()
    try:
        if args.with_node:
            Node.prepare_network()
        kubeconfig = control_plane.up()
        if args.with_node:
            images = args.image or ([DEFAULT_TAG] if image_exists(DEFAULT_TAG) else [])
            node_seconds = Node(state_dir / "node", control_plane).up(images=images)
            print(f"node Ready in {node_seconds:.1f}s; images loaded: {', '.join(images) or 'none'}", file=sys.stderr)
    except (BuildError, ControlPlaneError, NodeError) as error:
        return _fail(str(error))
    print(control_plane.status().describe(), file=sys.stderr)
    print(f"up in {time.monotonic() - started:.1f}s; export KUBECONFIG={kubeconfig}", file=sys.stderr)
    print(kubeconfig)
    return 0


def handle_down(args: argparse.Namespace) -> int:
    """Stop the control plane of the state directory; succeeds when nothing runs."""
    from ccloud_sandbox.node import Node  # here, as in handle_up

    control_plane = _control_plane(args)
    try:
        if (control_plane.state_dir / "node").is_dir():
            Node.stop(control_plane.state_dir / "node", control_plane)
        control_plane.down()
    except ControlPlaneError as error:
        return _fail(str(error))
    print(f"stopped: {control_plane.state_dir}")
    return 0


def handle_status(args: argparse.Namespace) -> int:
    """Print each component with its pid and port, the server and the kubeconfig path."""
    status = _control_plane(args).status()
    print(status.describe())
    return 0 if status.running and status.ready else EXIT_NOT_RUNNING
