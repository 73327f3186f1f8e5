"""The benchmarks' launcher runs the operator with the packages its image lacks marked absent: that the
image lacks them, and that the operator still imports without them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from benchmarks.shipped_operator import NOT_IN_THE_IMAGE

ROOT = Path(__file__).resolve().parents[2]


def test_the_packages_marked_absent_are_not_dependencies_of_the_operator() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {
        dependency.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().replace("-", "_")
        for dependency in dependencies
    }
    assert names.isdisjoint(NOT_IN_THE_IMAGE), names & set(NOT_IN_THE_IMAGE)


def test_the_operator_imports_without_them_and_kopf_does_not_load_the_kubernetes_client() -> None:
    script = (
        "import sys\n"
        "from benchmarks.shipped_operator import NOT_IN_THE_IMAGE\n"
        "for name in NOT_IN_THE_IMAGE: sys.modules[name] = None\n"
        "import kopf, ccloud_operator.app, ccloud_operator.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('kubernetes') and sys.modules[m] is not None))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
