"""Fixtures for the operator tests; the helpers live in operator_world.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.launcher import EmulatorProcess

from operator_world import TIME_SCALE, World, open_world


@pytest.fixture
def world(
    namespace: str, moto: MotoServer, kubeconfig: Path, k8s_api: client.ApiClient, tmp_path: Path
) -> Iterator[World]:
    """A fresh realistic emulator wired to moto; call `world.start_operator()` to run the operator."""
    emulator = EmulatorProcess(aws_endpoint=moto.endpoint, time_scale=TIME_SCALE)
    with open_world(namespace, k8s_api, moto, kubeconfig, tmp_path, emulator) as world:
        yield world
