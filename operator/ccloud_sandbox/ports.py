"""Loopback ports for the sandbox's servers that no other process takes between the pick and the bind.

A port picked by binding port 0 comes from the kernel's ephemeral range, the range every outgoing
connection's local port also comes from: released for the server to bind it, it can be taken by any
connection meanwhile, and a server that restarts on "its" port finds it in use. Ports here come from
below that range instead, in a block of their own per pytest-xdist worker (and per process otherwise),
taken in order, so two workers never pick the same port and no ephemeral allocation can land on one.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

#: Ports below the ephemeral range, split into blocks.
FIRST_PORT = 20000
BLOCK_SIZE = 500

_counter = itertools.count()


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _block_start() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    blocks = max(1, (_ephemeral_floor() - FIRST_PORT) // BLOCK_SIZE)
    # gw0, gw1, ... get blocks 1, 2, ...; a process outside xdist (the demo, a benchmark, a pytest run
    # without workers) gets a block chosen by its pid, away from block 0's neighbours.
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else os.getpid() % blocks
    return FIRST_PORT + (index % blocks) * BLOCK_SIZE


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
