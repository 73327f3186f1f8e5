"""The emulator process: state file across restarts, the CLI wiring, start failures."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ccloud_sandbox.cli import build_parser
from ccloud_sandbox.confluent.launcher import EmulatorProcess, EmulatorStartError

from emulator_support import connectors_path, create_connector, create_integration, datagen_config, role_arn, unique
from emulator_support import wait_for_state as wait_for_connector_state


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with EmulatorProcess(profile="kind", state_file=state_file, provisioning_seconds=0.2) as emulator:
        before = emulator.info
        with httpx.Client(base_url=before.url, auth=before.basic_auth) as api:
            integration = create_integration(api, before, role_arn(unique("persist")))
            name = unique("persist")
            create_connector(api, before, datagen_config(name))
            wait_for_connector_state(api, before, name, {"RUNNING"})
            api.put(f"{connectors_path(before)}/{name}/pause")
            wait_for_connector_state(api, before, name, {"PAUSED"})

        after = emulator.restart()
        assert after == before, "same url, ids and key after a restart"
        with httpx.Client(base_url=after.url, auth=after.basic_auth) as api:
            read = api.get(f"/pim/v1/integrations/{integration['id']}", params={"environment": after.environment_id})
            assert read.status_code == 200
            assert read.json()["config"]["external_id"] == integration["config"]["external_id"]
            assert read.json()["usages"] == []
            assert api.get(f"{connectors_path(after)}/{name}/status").json()["connector"]["state"] == "PAUSED"

    saved = json.loads(state_file.read_text())
    assert integration["id"] in saved["integrations"]


def test_provisioning_interrupted_by_a_restart_completes_after_it(tmp_path: Path) -> None:
    with EmulatorProcess(profile="kind", state_file=tmp_path / "state.json", provisioning_seconds=60) as emulator:
        info = emulator.info
        name = unique("interrupted")
        with httpx.Client(base_url=info.url, auth=info.basic_auth) as api:
            create_connector(api, info, datagen_config(name))
        emulator.provisioning_seconds = 0.2
        info = emulator.restart()
        with httpx.Client(base_url=info.url, auth=info.basic_auth) as api:
            status = wait_for_connector_state(api, info, name, {"RUNNING"})
        assert status["tasks"][0]["state"] == "RUNNING"


def test_state_admin_view_masks_secrets(tmp_path: Path) -> None:
    with EmulatorProcess(profile="kind", provisioning_seconds=0.2) as emulator, emulator.admin() as admin:
        state = admin.state()
        text = json.dumps(state)
        assert emulator.info.api_secret not in text
        assert state["api_keys"][emulator.info.api_key]["secret"] == "****************"


def test_given_api_key_is_the_seeded_admin_key() -> None:
    with EmulatorProcess(profile="kind", api_key="MYKEY0123456789X", api_secret="my-secret") as emulator:
        assert emulator.info.api_key == "MYKEY0123456789X"
        response = httpx.get(
            f"{emulator.info.url}/pim/v1/integrations",
            params={"environment": emulator.info.environment_id},
            auth=("MYKEY0123456789X", "my-secret"),
        )
        assert response.status_code == 200
        assert "my-secret" not in emulator.stderr_text()


def test_start_failure_reports_stderr() -> None:
    emulator = EmulatorProcess(profile="kind", extra_args=["--no-such-flag"], startup_timeout=10)
    with pytest.raises(EmulatorStartError, match="no-such-flag"):
        emulator.start()


def test_console_script_has_confluent_serve() -> None:
    args = build_parser().parse_args(["confluent", "serve", "--port", "0", "--rate-limit", "5", "--seed", "3"])
    assert callable(args.handler)
    assert (args.port, args.rate_limit, args.seed) == (0, 5.0, 3)
