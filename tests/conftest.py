"""The test harness: a real Kubernetes API server, a namespace per test, and moto.

Fixtures (import nothing; ask for them by name):

- `kubeconfig` (session, `Path`): the admin kubeconfig of the session's
  cluster. Also exported as `KUBECONFIG` for the whole session, so kopf,
  kubectl, helm and `kubernetes.config.load_kube_config()` find it.
- `control_plane` (session, `ControlPlane | None`): the local control plane,
  for `control_plane.mint_kubeconfig(user, groups)` (a non-admin identity that
  RBAC applies to); None when `CCLOUD_TEST_CLUSTER=existing`.
- `k8s_api` (session, `kubernetes.client.ApiClient`): an admin client; wrap it
  in `CoreV1Api(k8s_api)`, `CustomObjectsApi(k8s_api)`, ...
- `namespace` (function, `str`): a fresh namespace, deleted after the test
  (without waiting for it to finish terminating).
- `moto` (function, `MotoServer`): the session's moto server, emptied and with
  IAM policy enforcement off. Create users, roles, buckets and tables first,
  then call `moto.enforce_policies()`: from then on every call needs keys moto
  issued. The next test gets enforcement off again.
- `moto_server` (session, `MotoServer`): the same server without the reset.
- `operator_image` (session, `str`): the operator's image in the local Docker
  engine: `CCLOUD_TEST_IMAGE` when set (e.g. built by `make image`), otherwise
  built now from the checkout (`ccloud-sandbox image build`, on
  `CCLOUD_IMAGE_BASE` when set). Without a Docker engine the test skips in one
  line, or fails where `CCLOUD_REQUIRE_DOCKER` is set (CI sets it).

Helpers to import (`from harness_support import ...`, not from conftest):
`wait_until(observe, what, timeout)` polls with a deadline instead of sleeping;
`api_client(kubeconfig)` makes an `ApiClient` for any kubeconfig, e.g. one from
`control_plane.mint_kubeconfig(...)`; `wait_crd_established(api, name)`;
`apply_crds(api, dir)`; `namespace_name(test_name)`.

Which cluster: by default a local etcd + kube-apiserver + kube-controller-manager
(`ccloud_sandbox.controlplane`), started once per session in its own state
directory under `<repo>/.state/test-controlplanes/` and stopped at the end. With
`CCLOUD_TEST_CLUSTER=existing` the cluster of the current `KUBECONFIG` (kind,
for instance) is used as it is. Either way the project's CRDs from
`<repo>/crds/*.yaml` are applied server-side and awaited until Established.

The first local run builds the binaries (10-20 minutes cold, longer than the
per-test timeout): run `ccloud-sandbox controlplane build` once beforehand.

Markers: `run_last` moves a test to the end of the session; tests that use the
cluster are marked `controlplane` automatically, so `-m "not controlplane"`
runs the rest without starting anything.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import ControlPlane
from ccloud_sandbox.image import BASE_ENV, DEFAULT_TAG, build_image, docker_unreachable_reason, image_exists
from ccloud_sandbox.operator_container import remove_abandoned_containers

from harness_support import api_client, apply_crds, mark_cluster_tests, namespace_name, order_run_last

REPO_ROOT = repo_root()
CRD_DIR = REPO_ROOT / "crds"
TEST_STATE_ROOT = REPO_ROOT / ".state" / "test-controlplanes"


def pytest_configure(config: pytest.Config) -> None:
    """Register the `run_last` marker and give emulators a response log directory."""
    config.addinivalue_line(
        "markers", "run_last: run after every other test of the session (e.g. checks over recorded traffic)"
    )
    if "CCLOUD_SANDBOX_RESPONSE_LOG_DIR" not in os.environ:
        # Emulator processes started during the session inherit this and
        # record their responses there; a run_last conformance test reads them.
        os.environ["CCLOUD_SANDBOX_RESPONSE_LOG_DIR"] = tempfile.mkdtemp(prefix="ccloud-sandbox-responses-")


#: Test folders in the order they are handed out: the ones whose tests take a minute first, so the
#: parallel workers end on the quick ones instead of one worker finishing a long test alone.
_FOLDER_ORDER = ("reliability", "operator")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark cluster tests `controlplane`; long folders first; `run_last` tests at the end, keeping their order."""
    mark_cluster_tests(items)
    items.sort(key=_folder_rank)
    order_run_last(items)


def _folder_rank(item: pytest.Item) -> int:
    folder = item.path.parent.name
    return _FOLDER_ORDER.index(folder) if folder in _FOLDER_ORDER else len(_FOLDER_ORDER)


# -- the cluster ----------------------------------------------------------------


@dataclass(frozen=True)
class _Cluster:
    kubeconfig: Path
    control_plane: ControlPlane | None


@pytest.fixture(scope="session")
def _cluster() -> Iterator[_Cluster]:
    mode = os.environ.get("CCLOUD_TEST_CLUSTER", "local")
    if mode not in ("local", "existing"):
        raise pytest.UsageError(f"CCLOUD_TEST_CLUSTER={mode!r}: expected 'local' or 'existing'")
    previous_kubeconfig = os.environ.get("KUBECONFIG")
    control_plane: ControlPlane | None = None
    state_dir: Path | None = None
    previous_sigterm: Any = None
    try:
        if mode == "existing":
            kubeconfig = _existing_kubeconfig()
        else:
            _reap_abandoned_control_planes()
            state_dir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=_mkdir(TEST_STATE_ROOT)))
            (state_dir / "owner.pid").write_text(f"{os.getpid()}\n")
            control_plane = ControlPlane(state_dir)
            # Last resort if the session dies without fixture teardown.
            atexit.register(control_plane.down)
            previous_sigterm = _sigterm_interrupts_session()
            kubeconfig = control_plane.up()
        os.environ["KUBECONFIG"] = str(kubeconfig)
        with contextlib.closing(api_client(kubeconfig)) as api:
            apply_crds(api, CRD_DIR)
        yield _Cluster(kubeconfig, control_plane)
    finally:
        if previous_kubeconfig is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous_kubeconfig
        if previous_sigterm is not None:
            # A second SIGTERM must not interrupt the teardown it asked for.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if control_plane is not None:
                control_plane.down()
                atexit.unregister(control_plane.down)
            if state_dir is not None:
                shutil.rmtree(state_dir, ignore_errors=True)
        finally:
            if previous_sigterm is not None:
                signal.signal(signal.SIGTERM, previous_sigterm)


@pytest.fixture(scope="session")
def kubeconfig(_cluster: _Cluster) -> Path:
    """The admin kubeconfig of the session's cluster (also in `os.environ["KUBECONFIG"]`)."""
    return _cluster.kubeconfig


@pytest.fixture(scope="session")
def control_plane(_cluster: _Cluster) -> ControlPlane | None:
    """The local control plane (for `mint_kubeconfig`), or None on an existing cluster."""
    return _cluster.control_plane


@pytest.fixture(scope="session")
def k8s_api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    """An admin `kubernetes.client.ApiClient` for the session's cluster."""
    with contextlib.closing(api_client(kubeconfig)) as api:
        yield api


@pytest.fixture
def namespace(k8s_api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new namespace named after the test; deleted afterwards, not awaited."""
    name = namespace_name(request.node.name)
    core = client.CoreV1Api(k8s_api)
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"ccloud-operator.test/harness": "true"}))
    )
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise


def _existing_kubeconfig() -> Path:
    configured = os.environ.get("KUBECONFIG")
    if configured and os.pathsep in configured:
        # Fixtures hand one file to kopf, helm and the client; a merged list has no single path.
        raise pytest.UsageError("CCLOUD_TEST_CLUSTER=existing needs KUBECONFIG to name a single file")
    path = Path(configured) if configured else Path.home() / ".kube" / "config"
    if not path.is_file():
        raise pytest.UsageError(f"CCLOUD_TEST_CLUSTER=existing but there is no kubeconfig at {path}")
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _reap_abandoned_control_planes() -> None:
    """Stop control planes left by sessions that died without teardown (SIGKILL, power loss)."""
    if not TEST_STATE_ROOT.is_dir():
        return
    for state_dir in TEST_STATE_ROOT.iterdir():
        try:
            owner = int((state_dir / "owner.pid").read_text())
        except (FileNotFoundError, ValueError, NotADirectoryError):
            continue
        if Path(f"/proc/{owner}").exists():
            continue  # another session, running now
        ControlPlane(state_dir).down()
        shutil.rmtree(state_dir, ignore_errors=True)


def _sigterm_interrupts_session() -> Any:
    """Make SIGTERM behave like Ctrl-C, so pytest tears the cluster down; return the old handler."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)
        return previous
    return None


# -- AWS (moto) -------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto server for the whole session; state and policy enforcement carry over between tests."""
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    """The session's moto server, emptied and with policy enforcement off.

    Set up what the test needs, then `moto.enforce_policies()` to make moto
    check IAM policies on every later call.
    """
    # reset-auth takes the number of requests to let through unchecked:
    # infinity switches enforcement off (moto_api/_internal/responses.py).
    httpx.post(f"{moto_server.endpoint}/moto-api/reset-auth", content=b"inf").raise_for_status()
    moto_server.reset()
    return moto_server


# -- the operator's image (Docker) -----------------------------------------------------


@pytest.fixture(scope="session")
def operator_image() -> str:
    """The image under test: `CCLOUD_TEST_IMAGE`, or one built now from the checkout."""
    reason = docker_unreachable_reason()
    if reason is not None:
        if os.environ.get("CCLOUD_REQUIRE_DOCKER"):
            pytest.fail(f"CCLOUD_REQUIRE_DOCKER is set but {reason}")
        pytest.skip(f"image test skipped: {reason}")
    remove_abandoned_containers()
    configured = os.environ.get("CCLOUD_TEST_IMAGE")
    if configured:
        assert image_exists(configured), f"CCLOUD_TEST_IMAGE={configured} is not in the Docker engine"
        return configured
    return build_image(tag=DEFAULT_TAG, base=os.environ.get(BASE_ENV) or None).tag
