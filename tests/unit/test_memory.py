"""The allocator knobs do what docs/performance.md credits them with, in this very process."""

from __future__ import annotations

import pytest

from ccloud_operator import memory


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(memory._LIBC is None, reason="glibc's allocator is not in use here")
def test_a_trim_returns_the_free_pages_a_fragmented_heap_keeps() -> None:
    # 1 KiB blocks come from malloc, not Python's small-object pools. Keeping every 64th alive pins
    # the heap's top, so glibc's own trimming on free cannot hand the rest back.
    blocks = [bytes(1024) for _ in range(150_000)]
    kept = blocks[::64]
    del blocks
    before = resident_kib()
    assert memory.trim() is True
    after = resident_kib()
    assert before - after > 64 * 1024, (before, after)
    assert len(kept) > 0
