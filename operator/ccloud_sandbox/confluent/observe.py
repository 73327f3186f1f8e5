"""What the emulator records about the traffic it served.

- `RequestLog`: an in-memory ring of request records (method, path, query, status, duration, time, fault)
  read and reset through `/_sandbox/requests`. The Authorization header is never recorded.
- `ResponseLog`: an append-only JSON-lines file of every emulated-API exchange (the client's
  User-Agent, method, path, query, the request's JSON body with sensitive config values masked, route
  template, operation id, status, content type, parsed JSON response body), used by the conformance test
  to check requests and responses against the official OpenAPI files.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path
from typing import Any


class RequestLog:
    """The most recent requests, oldest first."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._records: deque[dict[str, Any]] = deque(maxlen=capacity)

    def add(self, record: dict[str, Any]) -> None:
        """Append one request record."""
        self._records.append(record)

    def records(self) -> list[dict[str, Any]]:
        """All records, oldest first."""
        return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        self._records.clear()


class ResponseLog:
    """Appends one JSON line per emulated-API response to a file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._handle = path.open("a", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        """Append an entry and flush, so a reader sees it even if the process is killed later."""
        line = json.dumps(entry, sort_keys=True)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._handle.close()
