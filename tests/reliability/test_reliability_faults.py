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
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = (parse_qs(body.decode(errors="replace")).get("Action") or ["?"])[0]
                with proxy._lock:
                    proxy.calls[action] += 1
                    throttle = proxy._rng.random() < proxy.share
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


def test_twenty_percent_faults_on_confluent_and_aws_still_converge_with_bounded_calls(world: World) -> None:
    with ThrottlingProxy(world.moto.endpoint, share=0.0, seed=7) as proxy:
        env = {
            "CCLOUD_OPERATOR_AWS_ENDPOINT_URL": proxy.endpoint,
            "CCLOUD_OPERATOR_CONFLUENT_TIMEOUT": str(CONFLUENT_TIMEOUT_SECONDS),
        }
        world.start_operator(**env)

        # Fault-free: the calls it takes to converge two pairs, and the idle polling rate after.
        world.admin.clear_requests()
        baseline_names = ["calm0", "calm1"]
        for name in baseline_names:
            create_pair(world, name)
        _settle(world, baseline_names, "Ready without faults")
        baseline_calls = len(world.admin.requests())
        world.admin.clear_requests()
        idle_window = 6.0
        time.sleep(idle_window)  # measuring a rate over a fixed window, not waiting for an outcome
        idle_rate = len(world.admin.requests()) / idle_window
        # Connectors first, so the integrations' deletion is not blocked (and polled every 10 s).
        for name in baseline_names:
            world.delete(MC, f"{name}-sink")
        wait_all(world, {MC: [f"{n}-sink" for n in baseline_names]}, lambda o: o is None, "gone", "")
        for name in baseline_names:
            world.delete(PI, name)
        wait_all(world, {PI: baseline_names}, lambda o: o is None, "gone", "")

        # The same work with 20% of Confluent calls failing and 20% of AWS calls throttled.
        aws_calls_before = sum(proxy.calls.values())
        proxy.share = AWS_THROTTLE_SHARE
        world.admin.set_faults(**CONFLUENT_FAULTS)
        # Besides the random draws (few requests, so not every kind is sure to come up), one of each
        # kind for certain, on calls the client may retry.
        world.admin.inject(429, path="/pim/v1/integrations", methods=["GET"])
        world.admin.inject(500, path="*/connectors", methods=["GET"])
        world.admin.inject(503, path="/pim/v1/integrations/*", methods=["GET"])
        world.admin.inject(0, path="*/config/validate", methods=["PUT"])
        world.admin.clear_requests()
        stormy_names = ["storm0", "storm1"]
        for name in stormy_names:
            create_pair(world, name)
        took = _settle(world, stormy_names, "Ready under faults")
        seen = world.admin.requests()
        world.admin.clear_faults()

    faults = Counter(r["fault"] for r in seen if r["fault"])
    # Every kind of fault happened, so the run tested what it claims.
    injected = {r["status"] for r in seen if r["fault"] in ("injected", "injected_timeout")}
    assert injected == {429, 500, 503, 504}, faults
    assert sum(n for kind, n in faults.items() if kind.startswith("random_")) >= 3, faults
    assert sum(proxy.throttled.values()) >= 3, (proxy.calls, proxy.throttled)
    # Bound: each call fails 20% of the time (1.25 attempts on average) and a failure that escapes the
    # client's retries repeats the pass, hence twice the fault-free work; timers keep polling while it
    # takes longer, hence twice the idle rate over the time it took.
    bound = 2 * baseline_calls + 2 * idle_rate * took
    assert len(seen) <= bound, (
        f"{len(seen)} calls under faults vs {baseline_calls} fault-free (+ {idle_rate:.1f}/s idle over {took:.0f}s); "
        f"faults {dict(faults)}"
    )
    print(
        f"\nfault-free: {baseline_calls} Confluent calls; idle {idle_rate:.2f}/s; faulty: {len(seen)} calls in "
        f"{took:.1f}s (bound {bound:.0f}), faults {dict(faults)}; "
        f"AWS calls {sum(proxy.calls.values()) - aws_calls_before}, "
        f"throttled {dict(proxy.throttled)}"
    )
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
