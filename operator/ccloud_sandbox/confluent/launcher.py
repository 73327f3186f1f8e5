"""Start the emulator as a subprocess over real HTTP, for tests and local tooling.

    with EmulatorProcess(aws_endpoint=moto.endpoint, state_file=tmp_path / "state.json") as emulator:
        info = emulator.info            # EmulatorInfo(url, organization_id, environment_id, ...)
        httpx.get(f"{info.url}/pim/v1/integrations", params={"environment": info.environment_id},
                  auth=info.basic_auth)
        emulator.admin().state()        # the /_sandbox/ API
        emulator.restart()              # same port (its socket is held meanwhile) and state file

When `CCLOUD_SANDBOX_RESPONSE_LOG_DIR` is set, every start appends each emulated-API response to
`<dir>/<unique>.jsonl` (the conformance test validates those files against the official OpenAPI specs).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from ccloud_sandbox.confluent.admin import SandboxAdmin

RESPONSE_LOG_DIR_ENV = "CCLOUD_SANDBOX_RESPONSE_LOG_DIR"


class EmulatorStartError(RuntimeError):
    """The emulator did not print its connection details in time (or exited)."""


@dataclass(frozen=True)
class EmulatorInfo:
    """The JSON line the emulator prints when it is ready."""

    url: str
    organization_id: str
    environment_id: str
    kafka_cluster_id: str
    service_account_id: str
    api_key: str
    api_secret: str

    @property
    def basic_auth(self) -> tuple[str, str]:
        """`(api_key, api_secret)`, ready for `httpx.BasicAuth` or `auth=`."""
        return (self.api_key, self.api_secret)

    @property
    def port(self) -> int:
        """The port the emulator listens on."""
        return int(self.url.rsplit(":", 1)[1])


class EmulatorProcess:
    """`python -m ccloud_sandbox.confluent serve ...` in a subprocess.

    Arguments mirror the CLI flags; `extra_args` passes anything else (e.g. fault flags) through.
    `profile` is "realistic" (the default, as harsh as the real service) or "kind"; `time_scale`
    multiplies the profile's durations; `realism` changes single knobs (`realism.Realism`).
    """

    def __init__(
        self,
        *,
        aws_endpoint: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_region: str = "us-east-1",
        api_key: str | None = None,
        api_secret: str | None = None,
        state_file: Path | None = None,
        profile: str = "realistic",
        time_scale: float = 1.0,
        realism: dict[str, object] | None = None,
        provisioning_seconds: float | None = None,
        integration_quota: int = 100,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        self.aws_endpoint = aws_endpoint
        self.aws_access_key_id = aws_access_key_id
        self.aws_secret_access_key = aws_secret_access_key
        self.aws_region = aws_region
        self.api_key = api_key
        self.api_secret = api_secret
        self.state_file = state_file
        self.profile = profile
        self.time_scale = time_scale
        self.realism = dict(realism or {})
        self.provisioning_seconds = provisioning_seconds
        self.integration_quota = integration_quota
        self.host = host
        self.port = port
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.response_log: Path | None = None
        log_dir = os.environ.get(RESPONSE_LOG_DIR_ENV)
        if log_dir:
            self.response_log = Path(log_dir) / f"emulator-{uuid.uuid4().hex}.jsonl"
        self._process: subprocess.Popen[bytes] | None = None
        # The listening socket, made here once and handed to every start of the emulator: the port is
        # the emulator's for the life of this object, so no other process can take it while the
        # emulator restarts (a port closed and re-bound is anyone's meanwhile).
        self._listener: socket.socket | None = None
        self._stderr: IO[bytes] | None = None
        self._info: EmulatorInfo | None = None

    @property
    def info(self) -> EmulatorInfo:
        """Connection details of the running emulator."""
        if self._info is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._info

    @property
    def running(self) -> bool:
        """Whether the subprocess is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The command line `start` runs."""
        command = [
            sys.executable,
            "-m",
            "ccloud_sandbox.confluent",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            *(["--listen-fd", str(self._listener.fileno())] if self._listener is not None else []),
            "--aws-region",
            self.aws_region,
            "--profile",
            self.profile,
            "--time-scale",
            str(self.time_scale),
            "--integration-quota",
            str(self.integration_quota),
        ]
        for knob, value in sorted(self.realism.items()):
            command += ["--realism", f"{knob}={json.dumps(value)}"]
        if self.provisioning_seconds is not None:
            command += ["--provisioning-seconds", str(self.provisioning_seconds)]
        if self.aws_endpoint:
            command += ["--aws-endpoint", self.aws_endpoint]
        if self.aws_access_key_id and self.aws_secret_access_key:
            command += ["--aws-access-key-id", self.aws_access_key_id]
            command += ["--aws-secret-access-key", self.aws_secret_access_key]
        if self.api_key and self.api_secret:
            command += ["--api-key", self.api_key, "--api-secret", self.api_secret]
        if self.state_file is not None:
            command += ["--state-file", str(self.state_file)]
        if self.response_log is not None:
            command += ["--response-log", str(self.response_log)]
        return command + self.extra_args

    def start(self) -> EmulatorInfo:
        """Start the subprocess and wait for its JSON line."""
        if self.running:
            return self.info
        if self._listener is None:
            self._listener = socket.create_server((self.host, self.port), backlog=128)
        # Kept open across the process's life and closed in __exit__, hence no `with`.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            pass_fds=(self._listener.fileno(),),
        )
        line = self._read_ready_line(self._process)
        try:
            self._info = EmulatorInfo(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as error:
            self.stop()
            raise EmulatorStartError(f"unexpected first line from the emulator: {line!r}") from error
        # Restarts reuse the port the first start picked, so clients keep their base URL.
        self.port = self._info.port
        return self._info

    def _read_ready_line(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        stdout = process.stdout
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if result and result[0].strip():
            return result[0].decode()
        exit_code = process.poll()
        self.stop()
        reason = f"exited with {exit_code}" if exit_code is not None else f"printed nothing in {self.startup_timeout}s"
        raise EmulatorStartError(f"the Confluent Cloud emulator {reason}; stderr:\n{self.stderr_text()}")

    def stderr_text(self) -> str:
        """What the emulator wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit within `timeout`; waits for it."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout)
            if process.stdout is not None:
                process.stdout.close()
        self._info = None

    def restart(self) -> EmulatorInfo:
        """Stop and start again on the same port with the same state file (and the same API key)."""
        previous = self._info
        self.stop()
        if previous is not None and self.api_key is None:
            self.api_key, self.api_secret = previous.api_key, previous.api_secret
        return self.start()

    def admin(self) -> SandboxAdmin:
        """A client for the `/_sandbox/` admin API (close it, or use it as a context manager)."""
        return SandboxAdmin(self.info.url, self.info.environment_id, self.info.kafka_cluster_id)

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def close(self) -> None:
        """Stop the emulator for good: its port and its captured stderr go too."""
        self.stop()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
