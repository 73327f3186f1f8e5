"""Error bodies of the emulated APIs.

Two families (CONTRACT.md section 1):
- "standard" APIs (pim, iam, org, cmk): `{"errors":[{"id","status","code","title","detail","source"?}]}`;
- Connect v1: `{"error":{"code":<int>,"message":...}}`, or `{"error_code":<int>,"message":...}` when the
  fault settings ask for the other shape the real service is known to send.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from aiohttp import web

ApiFamily = Literal["standard", "connect"]

_TITLES = {
    400: "Bad Request",
    401: "Authentication Required",
    402: "Quota Exceeded",
    403: "User Access Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Resource Already exists",
    422: "Validation Failed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_CODES = {
    401: "user_unauthenticated",
    403: "user_unauthorized",
    404: "resource_not_found",
    405: "method_not_allowed",
    429: "too_many_requests",
    500: "internal_server_error",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def family_of(path: str) -> ApiFamily:
    """Which error family a request path belongs to."""
    return "connect" if path.startswith("/connect/") else "standard"


class ApiError(Exception):
    """An error response; rendered in the family of the request's API."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        title: str | None = None,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or _CODES.get(status, "bad_request" if status < 500 else "internal_server_error")
        self.title = title or _TITLES.get(status, "Error")
        self.pointer = pointer
        self.parameter = parameter
        self.headers = headers or {}


def standard_body(error: ApiError) -> dict[str, Any]:
    """The standard error body for `error`."""
    entry: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": str(error.status),
        "code": error.code,
        "title": error.title,
        "detail": error.detail,
    }
    if error.pointer is not None:
        entry["source"] = {"pointer": error.pointer}
    elif error.parameter is not None:
        entry["source"] = {"parameter": error.parameter}
    return {"errors": [entry]}


def connect_body(error: ApiError, shape: Literal["error", "error_code"]) -> dict[str, Any]:
    """The Connect error body for `error` in the requested shape."""
    if shape == "error_code":
        return {"error_code": error.status, "message": error.detail}
    return {"error": {"code": error.status, "message": error.detail}}


def render(error: ApiError, family: ApiFamily, connect_shape: Literal["error", "error_code"]) -> web.Response:
    """The HTTP response for `error`."""
    body = standard_body(error) if family == "standard" else connect_body(error, connect_shape)
    return web.Response(
        status=error.status,
        text=json.dumps(body),
        content_type="application/json",
        headers=error.headers,
    )
