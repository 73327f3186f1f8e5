#!/usr/bin/env python3
"""Copy the CRDs from crds/ into the Helm chart (helm/ccloud-operator/files/crds/), or check the copy.

crds/ is the single source of truth; the chart's templates/crds.yaml wraps these copies with labels
and annotations. `--check` exits 1 and names the stale files instead of writing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "crds"
TARGET = REPO / "helm" / "ccloud-operator" / "files" / "crds"


def differences() -> list[str]:
    """Paths in the chart that are missing, changed or extra compared with crds/."""
    wanted = {path.name: path.read_bytes() for path in sorted(SOURCE.glob("*.yaml"))}
    present = {path.name: path.read_bytes() for path in sorted(TARGET.glob("*.yaml"))} if TARGET.is_dir() else {}
    stale = [name for name, content in wanted.items() if present.get(name) != content]
    extra = [name for name in present if name not in wanted]
    return [str(TARGET.relative_to(REPO) / name) for name in stale + extra]


def sync() -> list[str]:
    """Make files/crds/ an exact copy of crds/; return what changed."""
    changed = differences()
    TARGET.mkdir(parents=True, exist_ok=True)
    wanted = {path.name for path in SOURCE.glob("*.yaml")}
    for path in TARGET.glob("*.yaml"):
        if path.name not in wanted:
            path.unlink()
    for name in wanted:
        (TARGET / name).write_bytes((SOURCE / name).read_bytes())
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the chart's copy is current")
    args = parser.parse_args()
    if args.check:
        stale = differences()
        for path in stale:
            print(f"stale: {path} (run hack/sync-chart.py)", file=sys.stderr)
        return 1 if stale else 0
    for path in sync():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
