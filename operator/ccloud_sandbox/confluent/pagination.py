"""Pagination of the standard APIs: `page_size` (default 10, max 100), opaque `page_token`, full-URL `next`.

The token carries the offset and the page size of the first request, because `page_size` counts only on
the first request (CONTRACT.md section 1).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web

from ccloud_sandbox.confluent.errors import ApiError

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

T = TypeVar("T")


def _encode(offset: int, size: int) -> str:
    raw = json.dumps({"o": offset, "s": size}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> tuple[int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset, size = int(data["o"]), int(data["s"])
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise ApiError(400, "The page_token is invalid", code="invalid_filter", parameter="page_token") from error
    if offset < 0 or not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(400, "The page_token is invalid", code="invalid_filter", parameter="page_token")
    return offset, size


def paginate(request: web.Request, items: Sequence[T]) -> tuple[list[T], dict[str, Any]]:
    """The page of `items` the request asks for and the list `metadata` (with `next` while more remain)."""
    token = request.query.get("page_token")
    if token:
        if len(token) > 255:
            raise ApiError(400, "The page_token is too long", code="invalid_filter", parameter="page_token")
        offset, size = _decode(token)
    else:
        offset = 0
        raw_size = request.query.get("page_size", str(DEFAULT_PAGE_SIZE))
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
            raise ApiError(
                400,
                f"page_size must be an integer between 1 and {MAX_PAGE_SIZE}",
                code="invalid_filter",
                parameter="page_size",
            )
        size = int(raw_size)
    page = list(items[offset : offset + size])
    first_query = {k: v for k, v in request.query.items() if k not in ("page_token", "page_size")}
    metadata: dict[str, Any] = {
        "first": str(request.url.with_query(first_query)),
        "total_size": len(items),
    }
    if offset + size < len(items):
        metadata["next"] = str(request.url.with_query({**first_query, "page_token": _encode(offset + size, size)}))
    return page, metadata
