"""An async IAM client: boto3 calls run in worker threads so the event loop never blocks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from ccloud_operator.aws.policy import PolicyDocument, parse_document

T = TypeVar("T")

#: Called after every AWS call: (service, operation, status code or "error").
#: (service, operation, HTTP status or "error", seconds the call took or None).
CallObserver = Callable[[str, str, str, float | None], None]


class AwsError(Exception):
    """An AWS call failed. ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class AwsAccessDenied(AwsError):
    """The operator's own AWS identity may not do this."""


class AwsCredentialsMissing(AwsError):
    """No AWS credentials could be found."""


_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
}


@dataclass(frozen=True)
class AwsCredentials:
    """Static keys from a Secret (development); None everywhere means the default credential chain."""

    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class Role:
    """The parts of an IAM role the operator reads."""

    name: str
    arn: str
    path: str
    trust_policy: PolicyDocument
    tags: dict[str, str]
    max_session_duration: int
    permissions_boundary: str | None


def _split_role_arn(role_arn: str) -> tuple[str, str]:
    """(path, name) of a role ARN such as arn:aws:iam::123:role/team/app."""
    resource = role_arn.split(":", 5)[5]
    parts = resource.split("/")
    return "/" + "/".join(parts[1:-1]) + ("/" if len(parts) > 2 else ""), parts[-1]


class IamClient:
    """IAM and STS for one set of AWS credentials."""

    def __init__(
        self,
        credentials: AwsCredentials | None = None,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        observer: CallObserver | None = None,
        executor: Executor | None = None,
    ) -> None:
        """``executor`` runs the blocking boto3 calls: a pool of AWS's own, so IAM calls never queue
        behind the Kubernetes client's calls in the default pool (as they did at 1000 objects)."""
        self._executor = executor
        session = (
            boto3.Session(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                region_name=region,
            )
            if credentials
            else boto3.Session(region_name=region)
        )
        config = botocore.config.Config(
            retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=10, read_timeout=30
        )
        self._iam: Any = session.client("iam", endpoint_url=endpoint_url, config=config)
        self._sts: Any = session.client("sts", endpoint_url=endpoint_url, region_name=region, config=config)
        self._observer = observer

    async def _call(self, client: Any, service: str, operation: str, **kwargs: Any) -> Any:
        method = getattr(client, operation)
        started = time.monotonic()
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._executor, partial(method, **kwargs))
        except botocore.exceptions.NoCredentialsError as exc:
            self._observe(service, operation, "error", started)
            raise AwsCredentialsMissing("no AWS credentials found for the operator's IAM calls") from exc
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "error")
            self._observe(service, operation, str(status), started)
            message = f"{service}:{operation} failed: {code}: {error.get('Message', '')}"
            if code in (
                "AccessDenied",
                "AccessDeniedException",
                "InvalidClientTokenId",
                "SignatureDoesNotMatch",
            ):
                raise AwsAccessDenied(message, code=code) from exc
            raise AwsError(message, code=code, retryable=code in _RETRYABLE_CODES or status == 503) from exc
        except botocore.exceptions.BotoCoreError as exc:
            self._observe(service, operation, "error", started)
            raise AwsError(f"{service}:{operation} failed: {exc}", retryable=True) from exc
        self._observe(service, operation, str(result.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)), started)
        return result

    def _observe(self, service: str, operation: str, status: str, started: float) -> None:
        if self._observer is not None:
            self._observer(service, operation, status, time.monotonic() - started)

    async def account_id(self) -> str:
        """The account of the operator's AWS identity."""
        identity = await self._call(self._sts, "sts", "get_caller_identity")
        return str(identity["Account"])

    async def get_role(self, role_name: str) -> Role | None:
        """A role by name, or None when it does not exist."""
        try:
            body = await self._call(self._iam, "iam", "get_role", RoleName=role_name)
        except AwsError as exc:
            if exc.code == "NoSuchEntity":
                return None
            raise
        role = body["Role"]
        return Role(
            name=role["RoleName"],
            arn=role["Arn"],
            path=role.get("Path", "/"),
            trust_policy=parse_document(role.get("AssumeRolePolicyDocument")),
            tags={tag["Key"]: tag["Value"] for tag in role.get("Tags") or []},
            max_session_duration=int(role.get("MaxSessionDuration", 3600)),
            permissions_boundary=(role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        )

    async def get_role_by_arn(self, role_arn: str) -> Role | None:
        return await self.get_role(_split_role_arn(role_arn)[1])

    async def create_role(
        self,
        role_name: str,
        *,
        path: str,
        trust_policy: PolicyDocument,
        tags: dict[str, str],
        max_session_duration: int,
        permissions_boundary: str | None,
    ) -> Role:
        """Create a role; if it already exists (a crash after the call), return the existing one."""
        kwargs: dict[str, Any] = {
            "RoleName": role_name,
            "Path": path,
            "AssumeRolePolicyDocument": json.dumps(trust_policy),
            "Description": "Assumed by Confluent Cloud; managed by ccloud-operator",
            "MaxSessionDuration": max_session_duration,
            "Tags": [{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        }
        if permissions_boundary:
            kwargs["PermissionsBoundary"] = permissions_boundary
        try:
            await self._call(self._iam, "iam", "create_role", **kwargs)
        except AwsError as exc:
            if exc.code != "EntityAlreadyExists":
                raise
        role = await self.get_role(role_name)
        if role is None:  # deleted by someone between the two calls
            raise AwsError(f"role {role_name} vanished right after it was created", retryable=True)
        return role

    async def update_trust_policy(self, role_name: str, document: PolicyDocument) -> None:
        await self._call(
            self._iam,
            "iam",
            "update_assume_role_policy",
            RoleName=role_name,
            PolicyDocument=json.dumps(document),
        )

    async def update_max_session_duration(self, role_name: str, seconds: int) -> None:
        await self._call(self._iam, "iam", "update_role", RoleName=role_name, MaxSessionDuration=seconds)

    async def put_permissions_boundary(self, role_name: str, policy_arn: str | None) -> None:
        if policy_arn:
            await self._call(
                self._iam,
                "iam",
                "put_role_permissions_boundary",
                RoleName=role_name,
                PermissionsBoundary=policy_arn,
            )
        else:
            await self._call(self._iam, "iam", "delete_role_permissions_boundary", RoleName=role_name)

    async def tag_role(self, role_name: str, tags: dict[str, str]) -> None:
        await self._call(
            self._iam,
            "iam",
            "tag_role",
            RoleName=role_name,
            Tags=[{"Key": key, "Value": value} for key, value in sorted(tags.items())],
        )

    async def get_inline_policy(self, role_name: str, policy_name: str) -> PolicyDocument | None:
        try:
            body = await self._call(self._iam, "iam", "get_role_policy", RoleName=role_name, PolicyName=policy_name)
        except AwsError as exc:
            if exc.code == "NoSuchEntity":
                return None
            raise
        return parse_document(body["PolicyDocument"])

    async def put_inline_policy(self, role_name: str, policy_name: str, document: PolicyDocument) -> None:
        await self._call(
            self._iam,
            "iam",
            "put_role_policy",
            RoleName=role_name,
            PolicyName=policy_name,
            PolicyDocument=json.dumps(document),
        )

    async def _all_pages(self, operation: str, key: str, **kwargs: Any) -> list[Any]:
        """Every item of an IAM list call: IAM may answer fewer items than asked with IsTruncated and a
        Marker even when more exist, so a single page is never the whole answer."""
        items: list[Any] = []
        marker: str | None = None
        while True:
            page = await self._call(self._iam, "iam", operation, **kwargs, **({"Marker": marker} if marker else {}))
            items.extend(page.get(key) or [])
            marker = page.get("Marker")
            if not page.get("IsTruncated") or not marker:
                return items

    async def inline_policy_names(self, role_name: str) -> list[str]:
        return [str(name) for name in await self._all_pages("list_role_policies", "PolicyNames", RoleName=role_name)]

    async def attached_policy_arns(self, role_name: str) -> list[str]:
        attached = await self._all_pages("list_attached_role_policies", "AttachedPolicies", RoleName=role_name)
        return [str(policy["PolicyArn"]) for policy in attached]

    async def delete_inline_policy(self, role_name: str, policy_name: str) -> None:
        """Delete an inline policy; a missing one counts as deleted."""
        try:
            await self._call(self._iam, "iam", "delete_role_policy", RoleName=role_name, PolicyName=policy_name)
        except AwsError as exc:
            if exc.code != "NoSuchEntity":
                raise

    async def permission_documents(
        self, role_name: str, known: dict[str, PolicyDocument] | None = None
    ) -> list[PolicyDocument]:
        """Every permission policy of a role: inline ones and the default version of attached ones.

        ``known`` holds inline documents the caller read or wrote in this pass, by name; they are not
        read again.
        """
        documents: list[PolicyDocument] = []
        for policy_name in await self.inline_policy_names(role_name):
            document = (known or {}).get(policy_name) or await self.get_inline_policy(role_name, policy_name)
            if document is not None:
                documents.append(document)
        for policy_arn in await self.attached_policy_arns(role_name):
            meta = await self._call(self._iam, "iam", "get_policy", PolicyArn=policy_arn)
            version = await self._call(
                self._iam,
                "iam",
                "get_policy_version",
                PolicyArn=policy_arn,
                VersionId=meta["Policy"]["DefaultVersionId"],
            )
            documents.append(parse_document(version["PolicyVersion"]["Document"]))
        return documents

    async def delete_role(self, role_name: str) -> None:
        """Delete a role and everything attached to it; a missing role counts as deleted."""
        try:
            for policy_name in await self.inline_policy_names(role_name):
                await self._call(self._iam, "iam", "delete_role_policy", RoleName=role_name, PolicyName=policy_name)
            for policy_arn in await self.attached_policy_arns(role_name):
                await self._call(self._iam, "iam", "detach_role_policy", RoleName=role_name, PolicyArn=policy_arn)
            await self._call(self._iam, "iam", "delete_role", RoleName=role_name)
        except AwsError as exc:
            if exc.code != "NoSuchEntity":
                raise


def role_arn_for(account_id: str, path: str, role_name: str, partition: str = "aws") -> str:
    """The ARN a role with this path and name has in this account."""
    return f"arn:{partition}:iam::{account_id}:role{path}{role_name}"


def role_name_from_arn(role_arn: str) -> str:
    return _split_role_arn(role_arn)[1]
