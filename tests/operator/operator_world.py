"""The world of an operator test: the Confluent emulator, moto, and the operator watching the test's namespace.

Every test here drives the operator through the real API server and checks what it did to the
real components (the emulator over HTTP, moto over HTTP). On teardown each world also checks
that no secret value it knows of reached the operator's log, its metrics, an Event, or a status.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families

from ccloud_operator.constants import (
    CREATE_PENDING_ANNOTATION,
    GROUP,
    MANAGED_CONNECTORS,
    PROVIDER_INTEGRATIONS,
    VERSION,
)
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI
from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo, EmulatorProcess
from ccloud_sandbox.operator_container import OperatorContainer
from ccloud_sandbox.operator_process import OperatorProcess

from harness_support import wait_until

#: Short intervals so drift shows up within a test's patience.
RESYNC_SECONDS = 2
VALIDATION_SECONDS = 3
#: The operator meets the realistic emulator at a fiftieth of real time: provisioning 120 s -> 2.4 s,
#: read lag 5 s -> 0.1 s, delete linger 30 s -> 0.6 s, IAM propagation 60 s -> 1.2 s.
TIME_SCALE = 0.02
#: Seconds a teardown waits for the operator's deletions while none of them completes.
STALLED_DELETION = 15.0
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class World:
    """The test's namespace and everything the operator talks to."""

    namespace: str
    api: client.ApiClient
    moto: MotoServer
    emulator: EmulatorProcess
    kubeconfig: Path
    log_dir: Path
    secrets: set[str] = field(default_factory=set)
    operator: OperatorProcess | OperatorContainer | None = None

    @property
    def info(self) -> EmulatorInfo:
        return self.emulator.info

    @property
    def admin(self) -> SandboxAdmin:
        return self.emulator.admin()

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    # -- the operator --------------------------------------------------------------------------

    def operator_env(self, **env: str) -> dict[str, str]:
        """The settings an operator process of this world runs with (its keys join the no-leak set)."""
        self.secrets.add(self.info.api_secret)
        return {
            **AWS_KEYS,
            "CCLOUD_OPERATOR_CONFLUENT_URL": self.info.url,
            "CCLOUD_OPERATOR_CLOUD_API_KEY": self.info.api_key,
            "CCLOUD_OPERATOR_CLOUD_API_SECRET": self.info.api_secret,
            "CCLOUD_OPERATOR_AWS_ENDPOINT_URL": self.moto.endpoint,
            "CCLOUD_OPERATOR_RESYNC_INTERVAL": str(RESYNC_SECONDS),
            "CCLOUD_OPERATOR_VALIDATION_INTERVAL": str(VALIDATION_SECONDS),
            # Fail fast in tests; the production defaults are 30 s each.
            "CCLOUD_OPERATOR_CONFLUENT_TIMEOUT": "5",
            "CCLOUD_OPERATOR_CREATE_PENDING_GRACE": "5",
            **env,
        }

    def start_operator(
        self, *, kubeconfig: Path | None = None, args: list[str] | None = None, **env: str
    ) -> OperatorProcess:
        """Run the operator against this world: the test namespace only, as admin, unless told otherwise."""
        self.operator = OperatorProcess(
            kubeconfig=kubeconfig or self.kubeconfig,
            log_path=self.log_dir / "operator.log",
            args=args if args is not None else ["--namespace", self.namespace],
            env=self.operator_env(**env),
        ).start()
        return self.operator

    def start_operator_container(self, image: str, *, kubeconfig: Path, args: list[str]) -> OperatorContainer:
        """Run the operator's image against this world, locked down as the chart runs it."""
        container = OperatorContainer(
            image=image,
            kubeconfig=kubeconfig,
            log_path=self.log_dir / "operator-container.log",
            args=args,
            env=self.operator_env(),
        )
        self.operator = container
        container.start()
        return container

    # -- Kubernetes objects --------------------------------------------------------------------

    def create(
        self,
        plural: str,
        name: str,
        spec: dict[str, Any],
        annotations: dict[str, str] | None = None,
        finalizers: list[str] | None = None,
    ) -> None:
        kind = {PROVIDER_INTEGRATIONS: "ProviderIntegration", MANAGED_CONNECTORS: "ManagedConnector"}[plural]
        metadata: dict[str, Any] = {"name": name, "annotations": annotations or {}}
        if finalizers:
            metadata["finalizers"] = finalizers
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": metadata, "spec": spec}
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body)

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def patch(self, plural: str, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name, body)

    def delete(self, plural: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def secret(self, name: str, data: dict[str, str]) -> None:
        """Create or replace a Secret; its values join the set that must never leak."""
        self.secrets.update(value for value in data.values() if len(value) >= 8)
        body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
        try:
            self.core.create_namespaced_secret(self.namespace, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.core.replace_namespaced_secret(name, self.namespace, body)

    def wait_for(
        self, plural: str, name: str, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Poll the object until `check` holds; fail with its last status otherwise."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.get(plural, name)
            if last is not None and check(last):
                return last
            time.sleep(0.25)
        log_tail = self.operator.log()[-3000:] if self.operator else ""
        status = json.dumps((last or {}).get("status"), indent=1)
        pytest.fail(f"timed out waiting for {plural}/{name} {what}; last status: {status}\noperator log:\n{log_tail}")

    def wait_condition(
        self, plural: str, name: str, type_: str, status: str, reason: str | None = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        def holds(obj: dict[str, Any]) -> bool:
            found = condition(obj, type_)
            return bool(found and found["status"] == status and (reason is None or found.get("reason") == reason))

        return self.wait_for(plural, name, holds, f"{type_}={status} {reason or ''}", timeout)

    def wait_gone(self, plural: str, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(plural, name) is None:
                return
            time.sleep(0.25)
        pytest.fail(f"{plural}/{name} was not deleted within {timeout}s")

    def events(self, name: str | None = None) -> list[client.CoreV1Event]:
        items = self.core.list_namespaced_event(self.namespace).items
        return [e for e in items if name is None or e.involved_object.name == name]

    def wait_event(self, name: str, reason: str, timeout: float = 60.0) -> client.CoreV1Event:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events(name) if e.reason == reason]
            if found:
                return found[0]
            time.sleep(0.25)
        seen = sorted({str(e.reason) for e in self.events(name)})
        pytest.fail(f"no Event {reason} for {name} within {timeout}s; saw {seen}")

    def delete_everything(self, timeout: float = 45.0) -> None:
        """Delete every object of the namespace, connectors first, and wait while the operator finalizes
        them; what is left after `timeout`, after STALLED_DELETION seconds with none finished (an operator
        that is down or cannot reach Confluent), or once all left report DeletionBlocked, loses its
        finalizers, so the namespace can go."""
        operator_up = self.operator is not None and self.operator.running()
        for plural in (MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS):
            names = [
                item["metadata"]["name"]
                for item in self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)["items"]
            ]
            for name in names:
                with contextlib.suppress(ApiException):
                    self.delete(plural, name)
            deadline = time.monotonic() + (timeout if operator_up else 0)
            stalled_at = time.monotonic() + STALLED_DELETION
            while names and time.monotonic() < min(deadline, stalled_at):
                left = {name: obj for name in names if (obj := self.get(plural, name)) is not None}
                if len(left) < len(names):
                    stalled_at = time.monotonic() + STALLED_DELETION
                names = list(left)
                # What the operator says it will not finish (an orphaned connector still uses the integration),
                # or a deletion that made no progress for a while (the test broke the credentials), is not
                # waited out: the finalizers go, so the namespace can.
                if all((condition(obj, "Ready") or {}).get("reason") == "DeletionBlocked" for obj in left.values()):
                    break
                time.sleep(0.25)
            for name in names:
                with contextlib.suppress(ApiException):
                    self.patch(plural, name, {"metadata": {"finalizers": None}})

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the operator's samples of `name` whose labels include `labels` (0 when none)."""
        assert self.operator is not None, "the operator is not running"
        total = 0.0
        for family in text_string_to_metric_families(self.operator.metrics()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def wait_metric_increase(self, name: str, by: float, timeout: float = 60.0, **labels: str) -> float:
        """Wait until a counter has grown by `by` from now; returns its new value."""
        start = self.metric(name, **labels)
        return wait_until(
            lambda: (value := self.metric(name, **labels)) >= start + by and value,
            f"{name}{labels} to grow by {by} from {start}",
            timeout=timeout,
        )

    # -- the no-leak check ---------------------------------------------------------------------

    def leaked_secrets(self) -> list[str]:
        """Where any known secret value shows up: operator log, metrics, Events, or a status."""
        places: list[str] = []
        # Every operator process of the world logs to an operator*.log beside the first one's.
        texts = {f"log {path.name}": path.read_text(errors="replace") for path in self.log_dir.glob("operator*.log")}
        # The metrics' label values (object names, reasons, states, endpoints) and everything an Event says.
        texts["metrics"] = self.operator.metrics() if self.operator and self.operator.running() else ""
        texts["events"] = "\n".join(
            f"{e.reason} {e.message} {e.reporting_component} {e.reporting_instance} {e.source.component}"
            for e in self.events()
        )
        for plural in (PROVIDER_INTEGRATIONS, MANAGED_CONNECTORS):
            items = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)["items"]
            texts[f"{plural} status"] = json.dumps([item.get("status") for item in items])
        for value in self.secrets:
            encoded = base64.b64encode(value.encode()).decode()
            places += [
                f"{where} holds a secret value" for where, text in texts.items() if value in text or encoded in text
            ]
        return places


@contextmanager
def open_world(
    namespace: str,
    api: client.ApiClient,
    moto: MotoServer,
    kubeconfig: Path,
    log_dir: Path,
    emulator: EmulatorProcess,
) -> Iterator[World]:
    """Start the emulator, yield the world, then check no secret leaked, delete what the test left while
    its operator still runs (so no namespace is left Terminating on a finalizer, for a later
    cluster-wide operator to find), and stop what it started."""
    emulator.start()
    world = World(namespace, api, moto, emulator, kubeconfig, log_dir)
    try:
        yield world
        leaks = world.leaked_secrets()
        assert not leaks, leaks
    finally:
        try:
            world.delete_everything()
        finally:
            if world.operator is not None:
                world.operator.stop()
            emulator.close()


def marker_cleared(obj: dict[str, Any]) -> bool:
    """Whether the object carries no create-pending marker (a pass saw its create recorded and listed)."""
    return CREATE_PENDING_ANNOTATION not in (obj["metadata"].get("annotations") or {})


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), None)


def trust_policy(moto: MotoServer, role_name: str) -> dict[str, Any]:
    document: dict[str, Any] = moto.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    return document


def s3_role_integration(world: World, name: str, bucket: str) -> None:
    world.create(
        PI,
        name,
        {
            "environment": world.info.environment_id,
            "aws": {"createRole": {"roleName": f"{name}-role"}, "permissions": {"s3Buckets": [bucket]}},
        },
    )


def s3_sink_spec(world: World, integration: str, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "environment": world.info.environment_id,
        "kafkaCluster": world.info.kafka_cluster_id,
        "connectorClass": "S3_SINK",
        "providerIntegrationRef": {"name": integration},
        "kafkaAuth": {"serviceAccountId": world.info.service_account_id},
        "config": {
            "topics": "orders",
            "input.data.format": "JSON",
            "output.data.format": "JSON",
            "s3.bucket.name": bucket,
            "time.interval": "HOURLY",
            "flush.size": "1000",
            "tasks.max": "1",
        },
        **extra,
    }
