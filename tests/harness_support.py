"""Helpers for tests that use the cluster; import them with `from harness_support import ...`.

They live here, not in `conftest.py`: with several conftest.py files in the tree
(tests/, tests/operator/, tests/confluent/), `from conftest import X` resolves to
whichever of them pytest imported last, not to the root one.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client, config

FIELD_MANAGER = "ccloud-operator-tests"
CRD_ESTABLISHED_TIMEOUT = 60.0

T = TypeVar("T")


def wait_until(observe: Callable[[], T | None], what: str, timeout: float = 30.0, interval: float = 0.1) -> T:
    """Call `observe` until it returns something truthy (an empty list or dict is "not yet"); return that.

    Raises TimeoutError naming `what` after `timeout` seconds. Use it instead of sleeping.
    """
    deadline = time.monotonic() + timeout
    while True:
        observed = observe()
        if observed:
            return observed
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def api_client(kubeconfig: Path) -> client.ApiClient:
    """A new `ApiClient` for `kubeconfig` (its current context); close it when done."""
    api: client.ApiClient = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    return api


def namespace_name(test_name: str) -> str:
    """A valid, unique namespace name (RFC 1123 label) derived from a test name."""
    stem = re.sub(r"[^a-z0-9-]+", "-", test_name.lower().removeprefix("test_")).strip("-")[:48].rstrip("-")
    return f"t-{stem or 'test'}-{secrets.token_hex(3)}"


def apply_crds(api: client.ApiClient, crd_dir: Path) -> list[str]:
    """Server-side apply every CustomResourceDefinition in `crd_dir`, wait until each is Established.

    Returns the names of the CRDs applied.
    """
    documents: list[dict[str, Any]] = [
        document
        for path in sorted([*crd_dir.glob("*.yaml"), *crd_dir.glob("*.yml")])
        for document in yaml.safe_load_all(path.read_text())
        if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition"
    ]
    extensions = client.ApiextensionsV1Api(api)
    for document in documents:
        extensions.patch_custom_resource_definition(
            name=document["metadata"]["name"],
            body=document,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type="application/apply-patch+yaml",
        )
    names = [str(document["metadata"]["name"]) for document in documents]
    for name in names:
        wait_crd_established(api, name)
    return names


def wait_crd_established(api: client.ApiClient, name: str, timeout: float = CRD_ESTABLISHED_TIMEOUT) -> None:
    """Poll until the CRD `name` has condition Established=True (its API is served)."""
    extensions = client.ApiextensionsV1Api(api)
    deadline = time.monotonic() + timeout
    while True:
        crd = extensions.read_custom_resource_definition(name)
        conditions = (crd.status.conditions if crd.status else None) or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRD {name} not Established after {timeout:.0f}s: {conditions}")
        time.sleep(0.1)


def order_run_last(items: list[pytest.Item]) -> None:
    """Move items marked `run_last` to the end, keeping the relative order of both groups."""
    first = [item for item in items if item.get_closest_marker("run_last") is None]
    last = [item for item in items if item.get_closest_marker("run_last") is not None]
    items[:] = first + last


def mark_cluster_tests(items: list[pytest.Item]) -> None:
    """Add the `controlplane` marker to every test that needs the cluster (uses `kubeconfig`)."""
    for item in items:
        if "kubeconfig" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.controlplane)
