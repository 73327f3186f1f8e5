"""docs/metrics.md lists every series the operator defines."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY

from ccloud_operator import metrics

PAGE = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_series_of_the_operator_is_documented() -> None:
    assert metrics.PER_OBJECT  # the module's collectors are registered on import
    # Every family prints even without samples; counters' family names carry no _total.
    defined = {family.name for family in REGISTRY.collect() if family.name.startswith("ccloud_operator_")}
    documented = {name.removesuffix("_total") for name in re.findall(r"`(ccloud_operator_[a-z_]+)`", PAGE.read_text())}
    assert len(defined) >= 12, defined
    assert defined - documented == set(), "add these to docs/metrics.md"
    assert documented - defined == set(), "docs/metrics.md lists series that do not exist"
