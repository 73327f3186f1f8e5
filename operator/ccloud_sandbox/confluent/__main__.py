"""`python -m ccloud_sandbox.confluent serve ...` runs the emulator (what `EmulatorProcess` starts)."""

from __future__ import annotations

import sys

from ccloud_sandbox.confluent.cli import main

if __name__ == "__main__":
    sys.exit(main())
