"""Faults: Confluent answering 429/500/503 or hanging, AWS throttling; the operator still converges.

moto has no throttling switch, so the operator's AWS endpoint is a small HTTP proxy in front of moto
(`ThrottlingProxy`) that answers a seeded share of calls with the error AWS itself sends when it
throttles: HTTP 400 with `<Code>Throttling</Code>`. botocore retries those; the proxy counts them.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

import httpx
from reliability_support import create_pair, duplicates, is_ready, operator_roles, pi_spec, wait_all

from ccloud_operator.constants import MANAGED_CONNECTORS as MC
from ccloud_operator.constants import PROVIDER_INTEGRATIONS as PI

from harness_support import wait_until
from operator_world import World

#: The operator gives up on a Confluent call after this long; held requests outlast it.
CONFLUENT_TIMEOUT_SECONDS = 2.0
#: 20% of Confluent calls fail: 5% each of 429 (with Retry-After), 500, 503 and a hang past the timeout.
CONFLUENT_FAULTS: dict[str, Any] = {
    "error_rate_429": 0.05,
    "error_rate_500": 0.05,
    "error_rate_503": 0.05,
    "timeout_rate": 0.05,
    "timeout_seconds": CONFLUENT_TIMEOUT_SECONDS + 0.5,
    "retry_after_seconds": 1,
    "seed": 20240611,
}
AWS_THROTTLE_SHARE = 0.2
THROTTLING_BODY = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


class _LoopbackProxy:
    """An HTTP server on a loopback port in a thread, started and stopped with `with`."""

    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class ThrottlingProxy(_LoopbackProxy):
    """Forwards AWS query-protocol calls (IAM, STS) to moto; throttles a seeded share of them."""

    def __init__(self, upstream: str, share: float, seed: int) -> None:
        self.upstream = upstream
        self.share = share
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        #: Calls of an action to throttle whatever the draw: more than boto's own attempts, so the
        #: throttling reaches the operator's handling.
        self.bursts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = (parse_qs(body.decode(errors="replace")).get("Action") or ["?"])[0]
                with proxy._lock:
                    proxy.calls[action] += 1
                    throttle = proxy._rng.random() < proxy.share or proxy.bursts[action] > 0
                    if proxy.bursts[action] > 0:
                        proxy.bursts[action] -= 1
                    if throttle:
                        proxy.throttled[action] += 1
                if throttle:
                    self._answer(400, {"Content-Type": "text/xml"}, THROTTLING_BODY.encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                upstream = httpx.post(proxy.upstream + self.path, content=body, headers=headers, timeout=30)
                kept = {k: v for k, v in upstream.headers.items() if k.lower() in ("content-type", "x-amzn-requestid")}
                self._answer(upstream.status_code, kept, upstream.content)

            def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler)


def _settle(world: World, names: list[str], what: str) -> float:
    """Wait until every pair is Ready; return how long it took."""
    started = time.monotonic()
    wait_all(world, {PI: names, MC: [f"{n}-sink" for n in names]}, lambda o: o is not None and is_ready(o), what, "")
    return time.monotonic() - started


#: botocore's attempts per call in the operator's adaptive retry mode (aws/iam.py).
BOTO_ATTEMPTS = 5
#: Calls one fault may add to the fault-free calls for the same work: the failed call once more, the
#: read of the pass that retries it, and the validation that precedes a connector's create again.
#: (A multiple of the fault-free calls was used before; it tightened whenever the fault-free path got
#: leaner: 19 to 12 Confluent calls when the create marker stopped starting extra passes, while the
#: calls under the same faults fell from 41 to 37.)
CALLS_PER_FAULT = 3


def test_twenty_percent_faults_on_confluent_and_aws_converge_at_a_bounded_cost_per_fault(
    world: World,
) -> None:
    with ThrottlingProxy(world.moto.endpoint, share=0.0, seed=7) as proxy:
        # Timers far away: every call counted below is work toward convergence, not periodic polling,
        # so the faulty run's count compares with the fault-free one however long it takes.
        env = {
            "CCLOUD_OPERATOR_AWS_ENDPOINT_URL": proxy.endpoint,
            "CCLOUD_OPERATOR_CONFLUENT_TIMEOUT": str(CONFLUENT_TIMEOUT_SECONDS),
            "CCLOUD_OPERATOR_RESYNC_INTERVAL": "600",
            "CCLOUD_OPERATOR_VALIDATION_INTERVAL": "600",
        }
        world.start_operator(**env)

        # Fault-free: the calls it takes to converge two pairs.
        world.admin.clear_requests()
        aws_before = sum(proxy.calls.values())
        baseline_names = ["calm0", "calm1"]
        for name in baseline_names:
            create_pair(world, name)
        _settle(world, baseline_names, "Ready without faults")
        baseline_calls = len(world.admin.requests())
        baseline_aws = sum(proxy.calls.values()) - aws_before
        # Connectors first, so the integrations' deletion is not blocked (and polled every 10 s).
        for name in baseline_names:
            world.delete(MC, f"{name}-sink")
        wait_all(world, {MC: [f"{n}-sink" for n in baseline_names]}, lambda o: o is None, "gone", "")
        for name in baseline_names:
            world.delete(PI, name)
        wait_all(world, {PI: baseline_names}, lambda o: o is None, "gone", "")

        # The same work with 20% of Confluent calls failing and 20% of AWS calls throttled.
        aws_before = sum(proxy.calls.values())
        proxy.share = AWS_THROTTLE_SHARE
        # A create of a role throttled past boto's own retries: the operator's handling must take it. The two
        # integrations create their roles at the same time and draw from one burst; with one call fewer than
        # two calls' worth of attempts, one of them is sure to meet nothing but throttling (if both got
        # through, each would have seen at most BOTO_ATTEMPTS throttles, fewer than the burst holds).
        proxy.bursts["CreateRole"] = 2 * (BOTO_ATTEMPTS + 1) - 1
        world.admin.set_faults(**CONFLUENT_FAULTS)
        # Besides the random draws (few requests, so not every kind is sure to come up), one of each
        # kind for certain; and every create (the calls a careless client duplicates) meets a 500 and
        # a timeout.
        world.admin.inject(429, path="/pim/v1/integrations", methods=["GET"])
        world.admin.inject(500, path="*/connectors", methods=["GET"])
        world.admin.inject(503, path="/pim/v1/integrations/*", methods=["GET"])
        world.admin.inject(0, path="*/config/validate", methods=["PUT"])
        for path in ("/pim/v1/integrations", "*/connectors"):
            world.admin.inject(500, path=path, methods=["POST"])
            world.admin.inject(0, path=path, methods=["POST"])
        world.admin.clear_requests()
        stormy_names = ["storm0", "storm1"]
        for name in stormy_names:
            create_pair(world, name)

        # The burst ran out boto's attempts: the operator classified it and came back later.
        # kopf logs each pass that ended in a retry with its reason; the throttling is the only AWS error.
        wait_until(
            lambda: world.operator is not None and "not done yet (AwsError)" in world.operator.log(),
            "the operator's own handling of AWS throttling",
            timeout=120,
        )
        _settle(world, stormy_names, "Ready under faults")
        seen = world.admin.requests()
        world.admin.clear_faults()
    storm_aws = sum(proxy.calls.values()) - aws_before

    faults = Counter(r["fault"] for r in seen if r["fault"])
    # Every kind of fault happened, so the run tested what it claims.
    injected = {r["status"] for r in seen if r["fault"] in ("injected", "injected_timeout")}
    assert injected == {429, 500, 503, 504}, faults
    for path in ("/pim/v1/integrations", "/connectors"):
        creates = {r["status"] for r in seen if r["method"] == "POST" and r["path"].endswith(path) and r["fault"]}
        assert {500, 504} <= creates, (path, creates)
    assert sum(n for kind, n in faults.items() if kind.startswith("random_")) >= 3, faults
    assert sum(proxy.throttled.values()) >= BOTO_ATTEMPTS + 1, (proxy.calls, proxy.throttled)
    by_call = Counter(f"{r['method']} {r['path']} {r['status']}" for r in seen)
    summary = (
        f"fault-free: {baseline_calls} Confluent calls, {baseline_aws} AWS calls; under faults: {len(seen)} and "
        f"{storm_aws}; faults {dict(faults)}; throttled {dict(proxy.throttled)}; calls under faults {dict(by_call)}"
    )
    print(f"\n{summary}")
    assert len(seen) <= baseline_calls + CALLS_PER_FAULT * sum(faults.values()), summary
    assert storm_aws <= baseline_aws + CALLS_PER_FAULT * sum(proxy.throttled.values()), summary
    assert duplicates(world) == []
    assert len(world.admin.state()["integrations"]) == len(stormy_names)
    assert operator_roles(world) == sorted(f"{n}-role" for n in stormy_names)


class TimingProxy(_LoopbackProxy):
    """Forwards HTTP to the emulator and notes when each request arrived and its answer left.

    The emulator's request log has whole-second timestamps; this clock is the test's own.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        #: (method, path, status, arrived, answered), monotonic seconds.
        self.exchanges: list[tuple[str, str, int, float, float]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                upstream = httpx.request(
                    self.command, proxy.upstream + self.path, content=body, headers=headers, timeout=60
                )
                self.send_response(upstream.status_code)
                for name, value in upstream.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)
                self.wfile.flush()
                path = self.path.split("?", 1)[0]
                proxy.exchanges.append((self.command, path, upstream.status_code, arrived, time.monotonic()))

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._serve(Handler)


def test_retry_after_is_honoured(world: World) -> None:
    # One 429 carrying Retry-After: 2 on the integration list; the retry of that list must wait 2 s,
    # not the client's own backoff (0.5-1 s on a first retry).
    world.admin.set_faults(retry_after_seconds=2)
    world.admin.inject(429, count=1, path="/pim/v1/integrations", methods=["GET"])
    with TimingProxy(world.info.url) as proxy:
        world.start_operator(CCLOUD_OPERATOR_CONFLUENT_URL=proxy.endpoint)
        world.create(PI, "patient", pi_spec(world, "patient"))
        world.wait_condition(PI, "patient", "Ready", "True")
    lists = [e for e in proxy.exchanges if e[0] == "GET" and e[1] == "/pim/v1/integrations"]
    assert len(lists) >= 2 and lists[0][2] == 429, lists
    gap = lists[1][3] - lists[0][4]  # the retry's arrival after the 429 left the proxy
    assert 2.0 <= gap < 10, f"retry came {gap:.2f}s after the 429 with Retry-After: 2"
