"""moto in server mode: the AWS account the sandbox and the tests talk to over HTTP.

moto is kinder than AWS in two places the operator must not rely on, so this module makes it as
unkind as AWS (the server runs in this process, so its handlers can be replaced):

- IAM list calls may answer fewer items than `MaxItems` with `IsTruncated` and a `Marker` even when
  more exist ("Even if there are more results available, ... IsTruncated ... Marker", IAM API
  reference, common to every List* call); moto answers `ListRolePolicies` in one page. Here both
  `ListRolePolicies` and `ListAttachedRolePolicies` answer `IAM_PAGE_SIZE` items per page.
- A policy document must hold at least one statement (IAM answers MalformedPolicyDocument); moto's
  `CreateRole` accepts a trust policy with an empty `Statement`. Here it is refused as AWS does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
from moto.core.responses import ActionResult
from moto.iam import models as iam_models
from moto.iam import responses as iam_responses
from moto.iam.exceptions import MalformedPolicyDocument
from moto.server import ThreadedMotoServer

from ccloud_sandbox.ports import free_port

#: moto's fixed account id; the ARNs it hands out use it.
MOTO_ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
#: Items per page of the IAM list calls that moto would otherwise answer in one page.
IAM_PAGE_SIZE = 1


def _list_role_policies(self: Any) -> ActionResult:
    names = list(self.backend.list_role_policies(self._get_param("RoleName")))
    start = int(self._get_param("Marker") or 0)
    end = start + min(self._get_int_param("MaxItems", 100), IAM_PAGE_SIZE)
    result: dict[str, Any] = {"PolicyNames": names[start:end], "IsTruncated": end < len(names)}
    if end < len(names):
        result["Marker"] = str(end)
    return ActionResult(result)


def _list_attached_role_policies(self: Any) -> ActionResult:
    policies, marker = self.backend.list_attached_role_policies(
        self._get_param("RoleName"),
        marker=self._get_param("Marker"),
        max_items=min(self._get_int_param("MaxItems", 100), IAM_PAGE_SIZE),
        path_prefix=self._get_param("PathPrefix", "/"),
    )
    return ActionResult(
        {
            "AttachedPolicies": [{"PolicyName": p.name, "PolicyArn": p.arn} for p in policies],
            "Marker": marker,
            "IsTruncated": bool(marker),
        }
    )


_moto_create_role = iam_models.IAMBackend.create_role


def _create_role(self: Any, role_name: str, assume_role_policy_document: str, *args: Any, **kwargs: Any) -> Any:
    try:
        statements = json.loads(assume_role_policy_document).get("Statement")
    except (ValueError, AttributeError):
        statements = None
    if statements == [] or statements == {}:
        raise MalformedPolicyDocument("Syntax errors in policy.")
    return _moto_create_role(self, role_name, assume_role_policy_document, *args, **kwargs)


def make_moto_unkind() -> None:
    """Make this process's moto paginate IAM lists and refuse empty trust policies, as AWS does."""
    iam_responses.IamResponse.list_role_policies = _list_role_policies  # type: ignore[method-assign]
    iam_responses.IamResponse.list_attached_role_policies = _list_attached_role_policies  # type: ignore[method-assign]
    iam_models.IAMBackend.create_role = _create_role  # type: ignore[method-assign]


@dataclass
class MotoServer:
    """A moto server on a loopback port (or `host`, for pods on a node), started and stopped by its owner."""

    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    _server: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        make_moto_unkind()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
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
