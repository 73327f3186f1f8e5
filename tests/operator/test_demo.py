"""The README's first command, non-interactively: everything Ready, then nothing left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def test_demo_brings_every_example_to_ready_and_stops_everything(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "ccloud_sandbox", "demo", "--exit-when-ready", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "all Ready" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "ccloud.operator.dev/" in line]
    assert len(rows) == 4, result.stdout
    assert all(" True " in row for row in rows), rows
    assert sum("RUNNING" in row for row in rows) == 2
    # The columns that say why: Synced, Reason, the connector id, and with -o wide the message.
    headers = [line.split() for line in result.stdout.splitlines() if line.startswith("NAME ")]
    assert len(headers) == 2 and all({"READY", "SYNCED", "REASON", "MESSAGE", "UPDATED"} <= set(h) for h in headers)
    assert any("CONNECTOR" in h for h in headers)
    assert all(" Available " in row for row in rows), rows
    connectors = [row for row in rows if row.startswith("managedconnector.")]
    assert len(connectors) == 2 and all(" lcc-" in row for row in connectors), connectors
    # Control plane, emulator and operator all ran under the state dir or with its paths; none is left.
    assert _processes_mentioning(str(state_dir)) == []
