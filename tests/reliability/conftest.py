"""The reliability suite's `world`: the operator tests' world with a state file and short provisioning.

`operator_world` lives in tests/operator; pytest puts that directory on sys.path only for the tests
inside it, so this directory adds it itself (a conftest cannot be imported from another one).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "operator"))

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorProcess

from operator_world import TIME_SCALE, World, open_world


@pytest.fixture
def world(
    namespace: str, moto: MotoServer, kubeconfig: Path, k8s_api: client.ApiClient, tmp_path: Path
) -> Iterator[World]:
    """A fresh realistic emulator (persisted to a state file, so it can restart) wired to moto."""
    emulator = EmulatorProcess(
        aws_endpoint=moto.endpoint, time_scale=TIME_SCALE, state_file=tmp_path / "emulator-state.json"
    )
    with open_world(namespace, k8s_api, moto, kubeconfig, tmp_path, emulator) as world:
        yield world
