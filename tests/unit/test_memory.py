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


@pytest.mark.skipif(memory._LIBC is None, reason="glibc's allocator is not in use here")
def test_with_a_fixed_mmap_threshold_a_large_block_goes_back_to_the_kernel_when_freed() -> None:
    assert memory.fix_mmap_threshold(128 * 1024) is True
    # glibc's own rule would now raise the threshold to this block's size (it does up to 32 MiB), and
    # the next blocks would come from the heap: without the fixed threshold this test frees nothing.
    # Written, not calloc'd: pages of a zeroed mapping are not resident until touched.
    first = b"x" * (24 << 20)
    del first
    large = b"x" * (16 << 20)  # a connector list of thousands, read while other objects are made
    pinned = b"y" * 1024  # something allocated after it that outlives it
    with_it = resident_kib()
    del large
    without_it = resident_kib()
    assert with_it - without_it > 12 * 1024, (with_it, without_it)
    assert len(pinned) == 1024
