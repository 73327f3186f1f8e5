"""The operator with tracemalloc on: `python -m benchmarks.traced_operator run ...`.

SIGUSR2 writes a snapshot of every live Python allocation to $CCLOUD_BENCH_SNAPSHOT (replaced
atomically, so a reader never sees half a file). Only benchmarks.memory_profile runs this.
"""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from types import FrameType


def main() -> int:
    tracemalloc.start(int(os.environ.get("CCLOUD_BENCH_TRACE_FRAMES", "12")))
    target = os.environ["CCLOUD_BENCH_SNAPSHOT"]

    def dump(signum: int, frame: FrameType | None) -> None:
        tracemalloc.take_snapshot().dump(target + ".part")
        os.replace(target + ".part", target)

    signal.signal(signal.SIGUSR2, dump)
    from ccloud_operator.cli import main as operator_main

    return operator_main()


if __name__ == "__main__":
    sys.exit(main())
