"""Keeping resident memory near what the operator actually holds (glibc only; a no-op elsewhere).

Measured with benchmarks/memory_profile.py: of the resident memory a fleet of resources adds, only
about a quarter is live Python objects; the rest is heap the allocator keeps after transient peaks
(a bulk apply's responses and bodies) in per-thread arenas and never hands back. Two glibc knobs fix
most of that without touching what the operator keeps: fewer arenas (threads share them, so freed
memory is reused rather than stranded in an idle thread's arena), and a periodic ``malloc_trim``
that returns free pages to the kernel.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

#: mallopt's parameter number for the arena limit (malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8
#: mallopt's parameter number for the size from which an allocation gets its own mapping (M_MMAP_THRESHOLD).
_M_MMAP_THRESHOLD = -3


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # musl and other C libraries have neither function; only glibc's allocator is tuned.
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):
        return None
    return libc


_LIBC = _libc()


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas; call before threads start. False when not possible here."""
    if _LIBC is None or count <= 0:
        return False
    return bool(_LIBC.mallopt(_M_ARENA_MAX, count))


def fix_mmap_threshold(size: int) -> bool:
    """Give every allocation of ``size`` bytes or more its own mapping, returned to the kernel when freed.

    glibc starts at 128 KiB but raises the threshold to the size of each mapped block freed, up to 32
    MiB: after the first connector list (megabytes at thousands of connectors) was freed, every later one
    came from the heap, where the lists read every second during a bulk apply left holes between the
    objects that outlived them. A fixed threshold keeps them out of the heap. False when not possible.
    """
    if _LIBC is None or size <= 0:
        return False
    return bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, size))


def trim() -> bool:
    """Hand free heap pages back to the kernel. True when some were."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


async def trim_periodically(interval: float) -> None:
    """Trim every ``interval`` seconds, off the event loop (a trim walks the whole heap)."""
    if _LIBC is None or interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        await asyncio.to_thread(trim)
