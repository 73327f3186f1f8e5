"""One error hierarchy for every Confluent Cloud API, built from any of its three error body shapes.

Standard APIs (pim, iam) answer ``{"errors": [{"status", "code", "title", "detail"}]}``; Connect answers
``{"error": {"code", "message"}}`` and sometimes ``{"error_code", "message"}`` [CONTRACT §1]. Whatever the
shape, callers see one class per status and a ``retryable`` flag decided here, once.
"""

from __future__ import annotations

import json
from typing import Any


class ConfluentError(Exception):
    """An error from Confluent Cloud, or from reaching it."""

    status: int | None = None
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        #: The `Location` header: a 409 points at the resource that already exists [pim1].
        self.location = location

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(HTTP {self.status}{', ' + self.code if self.code else ''})")
        if self.request_id:
            parts.append(f"[request id {self.request_id}]")
        return " ".join(parts)


class BadRequest(ConfluentError):
    status = 400


class Unauthorized(ConfluentError):
    """The API key or secret is wrong (401)."""

    status = 401


class QuotaExceeded(ConfluentError):
    """An organization or environment quota is used up (402, or 400 with code quota_exceeded)."""

    status = 402


class Forbidden(ConfluentError):
    """The key is valid but lacks a role (403)."""

    status = 403


class NotFound(ConfluentError):
    status = 404


class Conflict(ConfluentError):
    """The resource already exists: 409, or a connector create's 400 that says so (the code for a taken
    connector name is undocumented, 400 or 409 [CONTRACT 4, 9])."""

    status = 409


class InUse(ConfluentError):
    """Confluent refused to delete an integration that something still uses (DELETE documents 400)."""

    status = 400


class Unprocessable(ConfluentError):
    status = 422


class RateLimited(ConfluentError):
    status = 429
    retryable = True


class ServerError(ConfluentError):
    status = 500
    retryable = True


class TransportError(ConfluentError):
    """No HTTP answer: connection refused or reset, or the request timed out."""

    retryable = True


_BY_STATUS: dict[int, type[ConfluentError]] = {
    400: BadRequest,
    401: Unauthorized,
    402: QuotaExceeded,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
    429: RateLimited,
}


def parse_error_body(text: str) -> tuple[str | None, str]:
    """Return (code, message) from any of the three error shapes, or the raw text."""
    try:
        body: Any = json.loads(text)
    except ValueError:
        return None, text.strip()[:500] or "empty response body"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            code = first.get("code")
            message = first.get("detail") or first.get("title") or json.dumps(first)
            return (str(code) if code is not None else None), str(message)
        error = body.get("error")
        if isinstance(error, dict):
            return _str_or_none(error.get("code")), str(error.get("message", json.dumps(error)))
        if "error_code" in body or "message" in body:
            return _str_or_none(body.get("error_code")), str(body.get("message", ""))
    return None, text.strip()[:500]


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def means_gone(error: ConfluentError) -> bool:
    """Whether an error on a read or delete says the resource does not exist (for this key).

    The API may answer 403 in place of 404 for a deleted or foreign resource; like Confluent's own
    Terraform provider, a 403 counts as "gone" unless its body names an invalid API key [CONTRACT 1,
    TF utils.go isNonKafkaRestApiResourceNotFound]. Callers that must not lose a resource to a
    revoked role confirm with a second call whose 403 is not ambiguous (a list).
    """
    if isinstance(error, NotFound):
        return True
    return isinstance(error, Forbidden) and "invalid api key" not in error.message.lower()


def error_for_response(
    status: int, text: str, *, request_id: str | None, retry_after: float | None, location: str | None = None
) -> ConfluentError:
    """Classify an HTTP error response."""
    code, message = parse_error_body(text)
    # Known issue in Confluent's API docs: some quota errors come back as 400 instead of 402.
    if code == "quota_exceeded" or (status == 400 and "quota" in message.lower() and code in (None, "400")):
        cls: type[ConfluentError] = QuotaExceeded
    elif status >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status, ConfluentError)
    return cls(message, status=status, code=code, request_id=request_id, retry_after=retry_after, location=location)
