"""The harness's own rules: test ordering and namespace names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness_support import mark_cluster_tests, namespace_name, order_run_last


@dataclass
class _Item:
    """Stands in for a collected test: only what the ordering hook reads."""

    name: str
    run_last: bool = False
    fixturenames: tuple[str, ...] = ()
    markers: list[Any] = field(default_factory=list)

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "run_last" and self.run_last else None

    def add_marker(self, marker: Any) -> None:
        self.markers.append(marker)


def test_run_last_items_move_to_the_end_in_their_order() -> None:
    items: list[Any] = [_Item("a"), _Item("z1", run_last=True), _Item("b"), _Item("z2", run_last=True)]

    order_run_last(items)

    assert [item.name for item in items] == ["a", "b", "z1", "z2"]


def test_cluster_tests_are_marked_controlplane() -> None:
    uses_cluster, pure = _Item("c", fixturenames=("namespace", "k8s_api", "kubeconfig")), _Item("p")

    mark_cluster_tests([uses_cluster, pure])  # type: ignore[list-item]

    assert [m.name for m in uses_cluster.markers] == ["controlplane"]
    assert pure.markers == []


@pytest.mark.parametrize("test_name", ["test_x", "test_CRD[Big Value/with:odd_chars]", "test_" + "long" * 40])
def test_namespace_names_are_valid_rfc1123_labels(test_name: str) -> None:
    name = namespace_name(test_name)

    assert len(name) <= 63
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
    assert namespace_name(test_name) != name  # unique per call
