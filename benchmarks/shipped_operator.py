"""The operator with only what its image installs importable: ``python -m benchmarks.shipped_operator run``.

The benchmarks run from the development virtualenv, which also holds the sandbox's packages; one of them,
the official Kubernetes client, is not in the image (pyproject.toml lists it under the ``sandbox`` extra
only, and the image installs the operator without extras). kopf imports that client whenever it is
importable, to recognise its model classes, which costs about 20 MiB of resident memory the shipped
operator never has. Marking it absent here makes a benchmark measure the operator users run.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType

#: Packages kopf imports when it finds them and the image does not install.
NOT_IN_THE_IMAGE = ("kubernetes", "kubernetes_asyncio", "pykube")


#: Where SIGUSR2 writes the heap report, and SIGUSR1 the composition alone to this path + ".during"
#: (benchmarks.memory sets it; no handlers without it).
HEAP_REPORT_ENV = "CCLOUD_BENCH_HEAP_REPORT"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _pymalloc() -> dict[str, int]:
    """The totals of CPython's small-object allocator, from ``sys._debugmallocstats`` (C stderr)."""
    with tempfile.TemporaryFile("w+") as captured:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(captured.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read()
    found: dict[str, int] = {}
    for line in text.splitlines():
        label, _, value = line.partition("=")
        label = label.strip().lstrip("#").strip()
        if label in ("arenas allocated current", "bytes in allocated blocks", "bytes in available blocks"):
            found[label] = int(value.strip().replace(",", ""))
    return found


def _composition() -> dict[str, object]:
    """What the collector's objects are: the commonest types, and how many whole Kubernetes objects
    (dicts with apiVersion, kind and metadata: watch events' bodies) are alive."""
    objects = gc.get_objects()
    types = Counter(type(o).__name__ for o in objects)
    bodies = sum(1 for o in objects if type(o) is dict and "metadata" in o and "kind" in o and "apiVersion" in o)
    return {"gc_tracked_objects": len(objects), "types": types.most_common(12), "kubernetes_bodies": bodies}


def _heap_report(path: str) -> None:
    """What the heap holds now, then what a full garbage collection and a trim give back."""
    from ccloud_operator import memory

    report: dict[str, object] = {"rss_kib": _rss_kib(), "pymalloc": _pymalloc(), "gc_counts": gc.get_count()}
    report.update(_composition())
    report["collected"] = gc.collect()
    report["rss_kib_after_collect"] = _rss_kib()
    memory.trim()
    report["rss_kib_after_collect_and_trim"] = _rss_kib()
    report["pymalloc_after"] = _pymalloc()
    Path(path).write_text(json.dumps(report))


def main() -> int:
    report = os.environ.get(HEAP_REPORT_ENV)
    if report:

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            _heap_report(report)

        def on_composition_signal(_signum: int, _frame: FrameType | None) -> None:
            # During an apply: no collection, no trim, nothing that changes what is measured after it.
            report_now = {"rss_kib": _rss_kib(), "pymalloc": _pymalloc(), **_composition()}
            Path(f"{report}.during").write_text(json.dumps(report_now))

        signal.signal(signal.SIGUSR2, on_signal)
        signal.signal(signal.SIGUSR1, on_composition_signal)
    for name in NOT_IN_THE_IMAGE:
        # None in sys.modules makes `import name` raise ImportError, as on the image.
        sys.modules[name] = None  # type: ignore[assignment]
    from ccloud_operator.cli import main as operator_main

    return operator_main()


if __name__ == "__main__":
    sys.exit(main())
