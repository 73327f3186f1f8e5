"""Fixtures for the Confluent Cloud emulator tests: an emulator subprocess per module, clients for it.

- `emulator` (module, `EmulatorProcess`): a running emulator wired to the session's moto server, with a
  short provisioning time. Tests share its seeded world, so they name what they create uniquely.
- `info` (module, `EmulatorInfo`), `api` (function, `httpx.Client` with the seeded admin key),
  `admin` (function, `SandboxAdmin`).

The root conftest registers `run_last`, provides `moto`/`moto_server` and sets
`CCLOUD_SANDBOX_RESPONSE_LOG_DIR`; the fallbacks below keep this folder runnable on its own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import httpx
import pytest

from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import RESPONSE_LOG_DIR_ENV, EmulatorInfo, EmulatorProcess

#: Short, so lifecycle tests are quick, but long enough to observe PROVISIONING.
PROVISIONING_SECONDS = 0.6


def pytest_configure(config: pytest.Config) -> None:
    """Fallbacks for running without the root conftest's session setup."""
    config.addinivalue_line("markers", "run_last: run after every other test of the session")
    os.environ.setdefault(RESPONSE_LOG_DIR_ENV, tempfile.mkdtemp(prefix="ccloud-sandbox-responses-"))


@pytest.fixture(scope="module")
def emulator(moto_server: MotoServer) -> Iterator[EmulatorProcess]:
    """An emulator subprocess for this module, reading AWS from the session's moto server.

    The kind profile: these tests pin down each API's own behaviour; the realistic profile's harshness
    (lag, linger, 403s, propagation) is tested knob by knob in test_confluent_realism.py."""
    with EmulatorProcess(
        aws_endpoint=moto_server.endpoint, profile="kind", provisioning_seconds=PROVISIONING_SECONDS
    ) as process:
        yield process


@pytest.fixture(scope="module")
def info(emulator: EmulatorProcess) -> EmulatorInfo:
    """Connection details of the module's emulator."""
    return emulator.info


@pytest.fixture
def api(info: EmulatorInfo) -> Iterator[httpx.Client]:
    """An HTTP client authenticated with the seeded OrganizationAdmin key."""
    with httpx.Client(base_url=info.url, auth=info.basic_auth, timeout=10.0) as client:
        yield client


@pytest.fixture
def admin(emulator: EmulatorProcess) -> Iterator[SandboxAdmin]:
    """A client for the emulator's /_sandbox/ API."""
    with emulator.admin() as client:
        yield client
