"""Fault injection: latency, random 429/500/503, held requests (timeouts), a token-bucket rate limit.

Settings are one JSON document (`FaultSettings`), set by CLI flags at start and replaced at run time
through `PUT /_sandbox/faults`. Top-level values apply to every emulated request; `rules` are checked in
order and the first one whose `path` (glob, or regex when `regex` is true) and `methods` match supplies the
values it sets, the rest coming from the top level. `inject` queues deterministic one-shot failures.
"""

from __future__ import annotations

import fnmatch
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

ConnectErrorShape = Literal["error", "error_code"]


@dataclass
class FaultRule:
    """Fault values for the requests whose path (and method) match."""

    path: str = "*"
    regex: bool = False
    methods: list[str] = field(default_factory=list)
    latency_ms: float | None = None
    response_delay_ms: float | None = None
    error_rate_429: float | None = None
    error_rate_500: float | None = None
    error_rate_503: float | None = None
    timeout_rate: float | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to the request."""
        if self.methods and method.upper() not in (m.upper() for m in self.methods):
            return False
        if self.regex:
            return re.search(self.path, path) is not None
        return fnmatch.fnmatchcase(path, self.path)


@dataclass
class Injection:
    """A one-shot failure: the next `count` matching requests get `status` (0 means: hold as a timeout)."""

    status: int
    count: int = 1
    path: str = "*"
    methods: list[str] = field(default_factory=list)

    def matches(self, method: str, path: str) -> bool:
        """Whether this injection applies to the request."""
        if self.methods and method.upper() not in (m.upper() for m in self.methods):
            return False
        return fnmatch.fnmatchcase(path, self.path)


@dataclass
class FaultSettings:
    """Everything the fault layer does; all zero by default."""

    latency_ms: float = 0.0
    #: Held after the request was processed: the change is made, the answer comes late (or, if the
    #: client gives up or dies meanwhile, never), which is how a lost response looks to a client.
    response_delay_ms: float = 0.0
    error_rate_429: float = 0.0
    error_rate_500: float = 0.0
    error_rate_503: float = 0.0
    timeout_rate: float = 0.0
    #: How long a "timed out" request is held before it is answered with 504.
    timeout_seconds: float = 30.0
    #: Retry-After on injected 429s (the token bucket computes its own).
    retry_after_seconds: int = 1
    #: Token bucket: sustained requests per second (None: no limit) and burst size (default: one second's worth).
    rate_limit_rps: float | None = None
    rate_limit_burst: int | None = None
    seed: int | None = None
    #: Connect error body shape: `{"error":{"code","message"}}` or `{"error_code","message"}`.
    connect_error_shape: ConnectErrorShape = "error"
    rules: list[FaultRule] = field(default_factory=list)
    inject: list[Injection] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, as `GET /_sandbox/faults` returns it."""
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> FaultSettings:
        """Parse a settings document; unknown keys are an error so typos do not pass silently."""
        known = {f.name for f in fields(cls)}
        unknown = set(document) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        values = dict(document)
        rule_fields = {f.name for f in fields(FaultRule)}
        for rule in values.get("rules", []):
            if set(rule) - rule_fields:
                raise ValueError(f"unknown fault rule settings: {sorted(set(rule) - rule_fields)}")
        values["rules"] = [FaultRule(**r) for r in values.get("rules", [])]
        values["inject"] = [Injection(**i) for i in values.get("inject", [])]
        if values.get("connect_error_shape", "error") not in ("error", "error_code"):
            raise ValueError("connect_error_shape must be 'error' or 'error_code'")
        settings = cls(**values)
        for name in ("error_rate_429", "error_rate_500", "error_rate_503", "timeout_rate"):
            if not 0.0 <= float(getattr(settings, name)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        return settings


class TokenBucket:
    """`rate` tokens per second up to `capacity`; each request takes one."""

    def __init__(self, rate: float, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def take(self) -> bool:
        """Take a token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    @property
    def remaining(self) -> int:
        """Whole tokens left now."""
        self._refill()
        return int(self._tokens)

    def seconds_until_token(self) -> int:
        """Whole seconds (at least 1) until the next token is there: Retry-After."""
        self._refill()
        missing = max(0.0, 1.0 - self._tokens)
        return max(1, math.ceil(missing / self.rate)) if self.rate > 0 else 60

    def seconds_until_full(self) -> int:
        """Whole seconds until the bucket is full again: X-RateLimit-Reset (relative, per Confluent)."""
        self._refill()
        return math.ceil((self.capacity - self._tokens) / self.rate) if self.rate > 0 else 60


@dataclass(frozen=True)
class FaultVerdict:
    """What the fault layer decided for one request."""

    latency_seconds: float = 0.0
    #: 0: no injected status; otherwise the status to answer with.
    status: int = 0
    hold_seconds: float = 0.0
    rate_limit_headers: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    response_delay_seconds: float = 0.0


class FaultInjector:
    """Applies `FaultSettings` to requests; owns the RNG and the token bucket."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.settings = FaultSettings()
        self._rng = random.Random()
        self._bucket: TokenBucket | None = None
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings; re-seeds the RNG and resets the bucket."""
        self.settings = settings
        self._rng = random.Random(settings.seed)
        if settings.rate_limit_rps:
            capacity = settings.rate_limit_burst or max(1, math.ceil(settings.rate_limit_rps))
            self._bucket = TokenBucket(settings.rate_limit_rps, capacity)
        else:
            self._bucket = None

    def _effective(self, method: str, path: str) -> dict[str, float]:
        names = (
            "latency_ms",
            "response_delay_ms",
            "error_rate_429",
            "error_rate_500",
            "error_rate_503",
            "timeout_rate",
        )
        values = {n: float(getattr(self.settings, n)) for n in names}
        for rule in self.settings.rules:
            if rule.matches(method, path):
                for name in names:
                    override = getattr(rule, name)
                    if override is not None:
                        values[name] = float(override)
                break
        return values

    def _bucket_headers(self) -> dict[str, str]:
        if self._bucket is None:
            return {}
        return {
            "X-RateLimit-Limit": str(self._bucket.capacity),
            "X-RateLimit-Remaining": str(self._bucket.remaining),
            "X-RateLimit-Reset": str(self._bucket.seconds_until_full()),
        }

    def decide(self, method: str, path: str) -> FaultVerdict:
        """The fault verdict for one emulated-API request."""
        if self._bucket is not None and not self._bucket.take():
            headers = self._bucket_headers()
            headers["Retry-After"] = str(self._bucket.seconds_until_token())
            return FaultVerdict(status=429, rate_limit_headers=headers, reason="rate_limit")

        values = self._effective(method, path)
        latency = values["latency_ms"] / 1000.0
        for injection in self.settings.inject:
            if injection.count > 0 and injection.matches(method, path):
                injection.count -= 1
                self.settings.inject = [i for i in self.settings.inject if i.count > 0]
                if injection.status == 0:
                    return FaultVerdict(latency, 504, self.settings.timeout_seconds, reason="injected_timeout")
                headers = self._limit_headers() if injection.status == 429 else self._bucket_headers()
                return FaultVerdict(latency, injection.status, 0.0, headers, "injected")

        draw = self._rng.random()
        threshold = 0.0
        for status, name in ((429, "error_rate_429"), (500, "error_rate_500"), (503, "error_rate_503")):
            threshold += values[name]
            if draw < threshold:
                headers = self._limit_headers() if status == 429 else self._bucket_headers()
                return FaultVerdict(latency, status, 0.0, headers, f"random_{status}")
        threshold += values["timeout_rate"]
        if draw < threshold:
            return FaultVerdict(latency, 504, self.settings.timeout_seconds, reason="random_timeout")
        return FaultVerdict(
            latency, 0, 0.0, self._bucket_headers(), response_delay_seconds=values["response_delay_ms"] / 1000.0
        )

    def _limit_headers(self) -> dict[str, str]:
        headers = self._bucket_headers() or {
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(self.settings.retry_after_seconds),
        }
        headers["Retry-After"] = str(self.settings.retry_after_seconds)
        return headers
