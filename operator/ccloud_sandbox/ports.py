"""Loopback ports for the sandbox's servers that no other process takes between the pick and the bind.

A port picked by binding port 0 comes from the kernel's ephemeral range, the range every outgoing
connection's local port also comes from: released for the server to bind it, it can be taken by any
connection meanwhile, and a server that restarts on "its" port finds it in use. Ports here come from
below that range instead.

Two processes picking from the same ports can still pick the same one (each probes it free, both
bind it later). So the range is cut into blocks and each process claims a block of its own: it holds
an exclusive lock on the block's lock file for as long as it lives, and the kernel drops the lock
when it exits, however it exits. Concurrent pytest sessions, their xdist workers, the demo and a
benchmark therefore never share a block, and within a process ports are handed out in order.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import IO

#: Ports below the ephemeral range, split into blocks.
FIRST_PORT = 20000
BLOCK_SIZE = 100

_counter = itertools.count()
_claim_lock = threading.Lock()
_claimed: tuple[int, int, IO[str]] | None = None  # (pid, block start, the open lock file)


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"ccloud-sandbox-ports-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _block_start() -> int:
    """This process's block, claimed on first use (and again in a forked child, which holds no lock)."""
    global _claimed
    with _claim_lock:
        if _claimed is not None and _claimed[0] == os.getpid():
            return _claimed[1]
        blocks = max(1, (_ephemeral_floor() - FIRST_PORT) // BLOCK_SIZE)
        # Start the search at a different block per process so claims rarely contend for one file.
        first = os.getpid() % blocks
        directory = _lock_dir()
        for offset in range(blocks):
            index = (first + offset) % blocks
            handle = (directory / f"block-{index}.lock").open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            start = FIRST_PORT + index * BLOCK_SIZE
            _claimed = (os.getpid(), start, handle)
            return start
        raise RuntimeError(f"all {blocks} port blocks below {_ephemeral_floor()} are claimed by other processes")


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nobody listens on now, from this process's block below the ephemeral range."""
    start = _block_start()
    for _ in range(BLOCK_SIZE):
        candidate = start + next(_counter) % BLOCK_SIZE
        with socket.socket() as sock:
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return candidate
    raise RuntimeError(f"no free port in {start}-{start + BLOCK_SIZE - 1}")
