"""moto in server mode: the AWS account the sandbox and the tests talk to over HTTP."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
from moto.server import ThreadedMotoServer

#: moto's fixed account id; the ARNs it hands out use it.
MOTO_ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """A moto server on a loopback port, started and stopped by its owner."""

    port: int = field(default_factory=free_port)
    _server: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str, access_key: str = "testing", secret_key: str = "testing") -> Any:
        """A boto3 client for this server with the given keys."""
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )

    def enforce_policies(self) -> None:
        """Switch IAM policy enforcement on: from now on every call needs keys moto issued.

        Set up users, roles, buckets and tables before calling this.
        """
        httpx.post(f"{self.endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()

    def reset(self) -> None:
        """Forget every resource moto holds."""
        httpx.post(f"{self.endpoint}/moto-api/reset").raise_for_status()
