"""Helpers for the chart tests: the helm binary, rendering, and picking objects out of a render.

Imported as `from chart_support import ...` (tests/chart is on sys.path for its own tests, as every
test directory without an __init__.py is).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from ccloud_sandbox.controlplane.build import KUBERNETES_VERSION, toolchain
from ccloud_sandbox.controlplane.cli import repo_root

REPO = repo_root()
CHART = REPO / "helm" / "ccloud-operator"
NAMESPACED_VALUES = CHART / "ci" / "namespaced-values.yaml"
# helm built from Go modules has no default Kubernetes version (it assumes v1.20); tell it ours.
KUBE_VERSION = KUBERNETES_VERSION.removeprefix("v")


def helm_binary() -> str:
    """$HELM, else the sandbox-built helm, else helm on PATH (as hack/render-install.py looks)."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    built = toolchain().binary("helm")
    if built.is_file():
        return str(built)
    found = shutil.which("helm")
    if found is None:
        raise RuntimeError("helm not found: run `ccloud-sandbox controlplane build` or set HELM")
    return found


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run helm; on failure the exception message carries helm's stderr."""
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, check=False, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc


@contextlib.contextmanager
def values_file(values: dict[str, Any] | None) -> Iterator[list[str]]:
    """`--values <file>` flags for a dict of values (typed, and keys may hold dots, unlike --set)."""
    if not values:
        yield []
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="values-") as file:
        yaml.safe_dump(values, file)
        file.flush()
        yield ["--values", file.name]


def render_text(
    values: dict[str, Any] | None = None,
    *,
    namespace: str = "ccloud-operator",
    release: str = "ccloud-operator",
    values_files: Iterable[Path] = (),
    chart: Path = CHART,
) -> str:
    files = [flag for path in values_files for flag in ("--values", str(path))]
    with values_file(values) as flags:
        return helm(
            "template", release, str(chart), "--namespace", namespace, "--kube-version", KUBE_VERSION, *files, *flags
        ).stdout


def render(values: dict[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """The chart's objects as dicts, for the given values."""
    return [doc for doc in yaml.safe_load_all(render_text(values, **kwargs)) if doc]


def objects_of(rendered: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in rendered if doc["kind"] == kind]


def one(rendered: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = objects_of(rendered, kind)
    assert len(found) == 1, f"expected one {kind}, got {[doc['metadata']['name'] for doc in found]}"
    return found[0]


def container_env(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator container's env as {name: value or valueFrom}."""
    container = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def repository_crds() -> dict[str, dict[str, Any]]:
    """The CRDs in crds/, by name."""
    crds = [yaml.safe_load(path.read_text()) for path in sorted((REPO / "crds").glob("*.yaml"))]
    return {crd["metadata"]["name"]: crd for crd in crds}
