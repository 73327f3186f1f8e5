"""Log lines an on-call engineer can search: every line about an object names it, times are UTC.

Two sources of lines are about an object. kopf's own (handler started, succeeded, failed, retried)
carry the object as the ``k8s_ref`` extra its per-object logger sets. The operator's own lines come
from module loggers in kopf-free code (reconcilers, clients); those learn the object from a context
variable the kopf handlers set around each call (``about_object``). One filter reads either and puts
``kind``, ``namespace`` and ``name`` on the record; both formatters print them.

Nothing here adds a value the operator did not already log: the object's kind, namespace and name
are no secret, and the scan for secret values in tests covers the whole line.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar


@dataclass(frozen=True)
class ObjectName:
    """The object a line is about."""

    kind: str
    namespace: str
    name: str

    def prefix(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"[{self.kind} {where}]"


_current: ContextVar[ObjectName | None] = ContextVar("ccloud_operator_log_object", default=None)


@contextmanager
def about(obj: ObjectName) -> Iterator[None]:
    """Every line logged inside the block (in this task) is about `obj`."""
    token = _current.set(obj)
    try:
        yield
    finally:
        _current.reset(token)


def object_of(body: Mapping[str, Any]) -> ObjectName:
    """The kind, namespace and name of a Kubernetes object as the watch delivered it."""
    metadata = body.get("metadata") or {}
    return ObjectName(
        str(body.get("kind") or ""), str(metadata.get("namespace") or ""), str(metadata.get("name") or "")
    )


P = ParamSpec("P")
R = TypeVar("R")


def about_object(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Wrap an async kopf handler so that the lines its callees log name the object in ``body``.

    kopf awaits async handlers in the object's own task, so the context variable set here reaches
    the reconciler and the clients it calls, and is reset before the task handles anything else.
    """

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        body = kwargs.get("body")
        if not isinstance(body, Mapping):
            return await handler(*args, **kwargs)
        with about(object_of(body)):
            return await handler(*args, **kwargs)

    return wrapper


class ObjectFields(logging.Filter):
    """Puts ``kind``, ``namespace`` and ``name`` on every record about an object (empty otherwise)."""

    def filter(self, record: logging.LogRecord) -> bool:
        obj = _current.get()
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, Mapping) and ref.get("name"):
            # kopf's own per-object lines: the object kopf was handling when it logged.
            obj = ObjectName(str(ref.get("kind") or ""), str(ref.get("namespace") or ""), str(ref.get("name")))
        record.object_name = obj
        return True


def rfc3339(created: float) -> str:
    """A record's time as RFC 3339 in UTC with milliseconds: 2026-01-02T03:04:05.678Z."""
    moment = datetime.datetime.fromtimestamp(created, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: [Kind namespace/name] message``; the bracket only on lines about an object."""

    def format(self, record: logging.LogRecord) -> str:
        obj: ObjectName | None = getattr(record, "object_name", None)
        prefix = f"{obj.prefix()} " if obj is not None else ""
        line = f"{rfc3339(record.created)} {record.levelname:<7} {record.name}: {prefix}{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log pipelines; ``kind``, ``namespace``, ``name`` when about an object."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        obj: ObjectName | None = getattr(record, "object_name", None)
        if obj is not None:
            line.update(kind=obj.kind, namespace=obj.namespace, name=obj.name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure(log_format: str, log_level: str) -> None:
    """Send every log line to stderr in the chosen format, at the chosen level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ObjectFields())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    # httpx logs every request URL at INFO; the URLs carry no secrets but the volume is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # At DEBUG, botocore prints request headers, whose SigV4 Authorization names the access key id
    # of an AWS credentials Secret, and httpcore prints raw headers too: never below INFO.
    for chatty in ("botocore", "boto3", "urllib3", "s3transfer", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, root.level))
