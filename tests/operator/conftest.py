"""Fixtures for the operator tests; the helpers live in operator_world.py."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorProcess

from chart_release_support import CHART, helm
from operator_world import TIME_SCALE, World, open_world


@pytest.fixture
def world(
    namespace: str, moto: MotoServer, kubeconfig: Path, k8s_api: client.ApiClient, tmp_path: Path
) -> Iterator[World]:
    """A fresh realistic emulator wired to moto; call `world.start_operator()` to run the operator."""
    emulator = EmulatorProcess(aws_endpoint=moto.endpoint, time_scale=TIME_SCALE)
    with open_world(namespace, k8s_api, moto, kubeconfig, tmp_path, emulator) as world:
        yield world


@pytest.fixture
def chart_release(world: World, tmp_path: Path) -> Iterator[Callable[[list[str]], str]]:
    """Install the chart into the test's namespace; returns the ServiceAccount name. Uninstalled afterwards.

    The test's operator (which the world holds) is stopped first, so it never runs without its RBAC."""
    release = f"rbac-{secrets.token_hex(3)}"
    installed: list[str] = []

    def install(watch_namespaces: list[str]) -> str:
        values = tmp_path / "values.yaml"
        values.write_text(
            yaml.safe_dump(
                {
                    # ClusterRoles are cluster-scoped: a name of its own per test.
                    "fullnameOverride": release,
                    # The session applied crds/ already; owning them is test_chart_cluster.py's subject.
                    "crds": {"install": False},
                    "watchNamespaces": watch_namespaces,
                }
            )
        )
        helm("install", release, str(CHART), "--namespace", world.namespace, "--values", str(values))
        installed.append(release)
        return release

    yield install
    if world.operator is not None:
        world.operator.stop()
    for name in installed:
        helm("uninstall", name, "--namespace", world.namespace)
