"""A small PromQL evaluator for the chart's alert rules and dashboard queries, over scraped samples.

It knows the part of PromQL the chart uses and refuses the rest (so a rule that uses more fails its
test instead of being evaluated wrongly): instant selectors with =, !=, =~, !~ matchers; `rate(sel[d])`
(without Prometheus' extrapolation to the window's edges); `sum`, `max`, `min`, `avg`, `count` with
an optional `by (...)`; `time()`; numbers; `+ - * /` between a scalar and a vector or two scalars; and
comparisons as filters (`vector > 0`). Alerts follow Prometheus' `for`: an output series fires once it
has been present at every evaluation for that long.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
Vector = dict[Labels, float]


@dataclass(frozen=True)
class Scrape:
    """One scrape of /metrics at a time in seconds."""

    at: float
    samples: dict[str, Vector]

    @classmethod
    def parse(cls, at: float, text: str) -> Scrape:
        samples: dict[str, Vector] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = tuple(sorted({"__name__": sample.name, **sample.labels}.items()))
                samples.setdefault(sample.name, {})[labels] = sample.value
        return cls(at, samples)


_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<duration>\[\d+[smh]\])|(?P<string>\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<op>==|!=|>=|<=|=~|!~|[-+*/(){},=<>])|(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*))"
)
_UNITS = {"s": 1, "m": 60, "h": 3600}
AGGREGATIONS = {
    "sum": sum,
    "max": max,
    "min": min,
    "avg": lambda values: sum(values) / len(values),
    "count": len,
}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


def parse_duration(text: str) -> float:
    """`10m` -> 600."""
    total = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smh])", text))
    if not total:
        raise ValueError(f"unsupported duration {text!r}")
    return float(total)


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    expr = expr.strip()
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if not match or match.end() == position:
            raise ValueError(f"unsupported PromQL at {expr[position:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


@dataclass(frozen=True)
class Selector:
    name: str
    matchers: tuple[tuple[str, str, str], ...]
    window: float | None = None

    def matches(self, labels: Labels) -> bool:
        found = dict(labels)
        for label, op, value in self.matchers:
            actual = found.get(label, "")
            ok = {
                "=": actual == value,
                "!=": actual != value,
                "=~": re.fullmatch(value, actual) is not None,
                "!~": re.fullmatch(value, actual) is None,
            }[op]
            if not ok:
                return False
        return True


class _Parser:
    """expr := term (op term)*, left to right with comparisons last."""

    def __init__(self, expr: str) -> None:
        self.tokens = _tokens(expr)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ValueError(f"expected {value!r}, found {token!r}")
        self.i += 1
        return token

    def parse(self) -> Any:
        node = self.comparison()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return node

    def comparison(self) -> Any:
        node = self.additive()
        while (token := self.peek()) and token[1] in _COMPARE:
            self.take()
            node = ("compare", token[1], node, self.additive())
        return node

    def additive(self) -> Any:
        node = self.term()
        while (token := self.peek()) and token[1] in _ARITHMETIC:
            self.take()
            node = ("arith", token[1], node, self.term())
        return node

    def term(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            return ("number", float(value))
        if value == "(":
            node = self.comparison()
            self.take(")")
            return node
        if kind != "name":
            raise ValueError(f"unexpected {value!r}")
        if value == "time":
            self.take("(")
            self.take(")")
            return ("time",)
        if value == "histogram_quantile":
            # Parsed for the series it reads (dashboards); evaluating it is outside the subset.
            self.take("(")
            quantile = float(self.take()[1])
            self.take(",")
            inner = self.comparison()
            self.take(")")
            return ("quantile", quantile, inner)
        if value == "rate":
            self.take("(")
            selector = self.selector(self.take()[1])
            self.take(")")
            if selector.window is None:
                raise ValueError("rate() needs a range")
            return ("rate", selector)
        if value in AGGREGATIONS:
            by: tuple[str, ...] | None = None
            if (token := self.peek()) and token[1] == "by":
                self.take()
                self.take("(")
                names = []
                while (token := self.take())[1] != ")":
                    if token[1] != ",":
                        names.append(token[1])
                by = tuple(names)
            self.take("(")
            inner = self.comparison()
            self.take(")")
            return ("aggregate", value, by, inner)
        return ("select", self.selector(value))

    def selector(self, name: str) -> Selector:
        matchers = []
        if (token := self.peek()) and token[1] == "{":
            self.take()
            while (token := self.take())[1] != "}":
                if token[1] == ",":
                    continue
                op = self.take()[1]
                literal = self.take()
                if literal[0] != "string":
                    raise ValueError(f"label value must be quoted: {literal!r}")
                matchers.append((token[1], op, literal[1][1:-1]))
        window = None
        if (token := self.peek()) and token[0] == "duration":
            self.take()
            window = parse_duration(token[1][1:-1])
        return Selector(name, tuple(matchers), window)


def parse(expr: str) -> Any:
    """The expression's tree; ValueError for anything outside the supported subset."""
    return _Parser(expr).parse()


def metric_names(expr: str) -> set[str]:
    """The series an expression reads."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if node[0] in ("select", "rate"):
            names.add(node[1].name)
        for child in node[1:]:
            if isinstance(child, tuple) and child and isinstance(child[0], str):
                walk(child)

    walk(parse(expr))
    return names


def evaluate(expr: str | Any, history: list[Scrape], at: float) -> Vector | float:
    """The expression's (or parsed tree's) value at `at`, from the scrapes up to then (the newest one for
    instant selectors)."""
    seen = [scrape for scrape in history if scrape.at <= at]
    if not seen:
        return {}

    def run(node: Any) -> Vector | float:
        match node[0]:
            case "number":
                return float(node[1])
            case "time":
                return at
            case "select":
                selector: Selector = node[1]
                return {k: v for k, v in seen[-1].samples.get(selector.name, {}).items() if selector.matches(k)}
            case "rate":
                selector = node[1]
                window = [s for s in seen if s.at > at - (selector.window or 0)]
                rates: Vector = {}
                if len(window) < 2:
                    return rates
                first, last = window[0], window[-1]
                for labels, value in last.samples.get(selector.name, {}).items():
                    if selector.matches(labels) and labels in first.samples.get(selector.name, {}):
                        delta = value - first.samples[selector.name][labels]
                        rates[_drop_name(labels)] = max(delta, 0.0) / (last.at - first.at)
                return rates
            case "aggregate":
                _, function, by, inner = node
                vector = run(inner)
                if not isinstance(vector, dict):
                    raise ValueError("aggregation of a scalar")
                groups: dict[Labels, list[float]] = {}
                for labels, value in vector.items():
                    key = tuple((k, v) for k, v in labels if by is not None and k in by)
                    groups.setdefault(key, []).append(value)
                return {key: float(AGGREGATIONS[function](values)) for key, values in groups.items()}
            case "arith" | "compare":
                _, op, left_node, right_node = node
                left, right = run(left_node), run(right_node)
                if isinstance(left, dict) and isinstance(right, dict):
                    raise ValueError("vector-to-vector operations are outside the subset")
                if node[0] == "arith":
                    apply = _ARITHMETIC[op]
                    if isinstance(left, dict):
                        return {_drop_name(k): apply(v, float(right)) for k, v in left.items()}  # type: ignore[arg-type]
                    if isinstance(right, dict):
                        return {_drop_name(k): apply(float(left), v) for k, v in right.items()}
                    return apply(left, right)
                check = _COMPARE[op]
                if isinstance(left, dict):
                    return {k: v for k, v in left.items() if check(v, float(right))}  # type: ignore[arg-type]
                if isinstance(right, dict):
                    return {k: v for k, v in right.items() if check(float(left), v)}
                raise ValueError("scalar comparisons need the bool modifier, which the subset lacks")
        raise ValueError(f"unknown node {node!r}")

    return run(parse(expr) if isinstance(expr, str) else expr)


def _drop_name(labels: Labels) -> Labels:
    return tuple((k, v) for k, v in labels if k != "__name__")


def firing(rule: dict[str, Any], history: list[Scrape], *, time_scale: float = 1.0) -> set[Labels]:
    """The label sets of `rule` (an alerting rule as in a PrometheusRule) firing after the last scrape.

    Evaluated at every scrape, as Prometheus evaluates at every interval. For worlds that run faster than
    real time, `time_scale` multiplies every duration in the rule: `for`, range windows, and the seconds a
    `time() - ...` age is compared with.
    """
    hold = parse_duration(rule["for"]) * time_scale if rule.get("for") else 0.0
    tree = scaled(parse(rule["expr"]), time_scale)
    active_since: dict[Labels, float] = {}
    for scrape in history:
        result = evaluate(tree, history, scrape.at)
        present = set(result) if isinstance(result, dict) else set()
        active_since = {labels: active_since.get(labels, scrape.at) for labels in present}
    last = history[-1].at if history else 0.0
    return {labels for labels, since in active_since.items() if last - since >= hold}


def scaled(node: Any, factor: float) -> Any:
    """The tree with its durations multiplied by `factor`."""
    if factor == 1.0:
        return node
    match node[0]:
        case "rate":
            selector: Selector = node[1]
            return ("rate", Selector(selector.name, selector.matchers, (selector.window or 0) * factor))
        case "compare" if _reads_time(node[2]) and node[3][0] == "number":
            return ("compare", node[1], scaled(node[2], factor), ("number", node[3][1] * factor))
        case "compare" | "arith":
            return (node[0], node[1], scaled(node[2], factor), scaled(node[3], factor))
        case "aggregate":
            return (*node[:3], scaled(node[3], factor))
    return node


def _reads_time(node: Any) -> bool:
    return node[0] == "time" or any(isinstance(c, tuple) and c and _reads_time(c) for c in node[1:] if c)


def rules_of(groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"]]
