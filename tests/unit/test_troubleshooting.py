"""docs/troubleshooting.md names every reason the operator can put on a condition or an Event."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "operator" / "ccloud_operator"
PAGE = REPO / "docs" / "troubleshooting.md"

#: Where a reason is written: the callable's name and the position of the reason among its arguments.
#: Condition(type, status, reason, message), Event(type, reason, message), Failure(reason, message, delay),
#: and ManagedConnectorReconciler._wait_for(outcome, memory, state, reason, message).
REASON_ARGUMENT = {"Condition": 2, "Event": 1, "Failure": 0, "_wait_for": 3}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def reasons_in_code() -> dict[str, str]:
    """Every literal reason in the package, with the file and line that sets it."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            literal: ast.expr | None = None
            if isinstance(node, ast.Call) and (position := REASON_ARGUMENT.get(_name(node.func) or "")) is not None:
                literal = node.args[position] if len(node.args) > position else None
            elif isinstance(node, ast.ClassDef):
                # SpecProblem subclasses: `reason = "RoleConflict"`.
                for statement in node.body:
                    targets = statement.targets if isinstance(statement, ast.Assign) else []
                    if [_name(t) for t in targets] == ["reason"]:
                        found.setdefault(_literal(statement.value) or "", f"{path.name}:{statement.lineno}")
            elif (
                isinstance(node, ast.Assign)
                and [_name(t) for t in node.targets] == ["poll"]
                and isinstance(node.value, ast.Tuple)
            ):
                # The connector's waiting states: `poll = ("Degraded", message)`.
                literal = node.value.elts[0]
            if literal is not None and (text := _literal(literal)):
                found.setdefault(text, f"{path.name}:{getattr(node, 'lineno', 0)}")
    found.pop("", None)
    return found


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def documented() -> set[str]:
    """Reasons with a heading of their own on the page: ### `Reason`."""
    return set(re.findall(r"^### `([A-Za-z]+)`", PAGE.read_text(), flags=re.MULTILINE))


def test_the_scan_finds_reasons_of_every_kind_of_site() -> None:
    # One per way of setting a reason: a check that finds none would pass with an empty page.
    sites = {"Available", "InvalidSpec", "ConnectorRestarted", "RoleConflict", "QuotaExceeded", "Degraded", "Creating"}
    assert sites <= reasons_in_code().keys()


def test_every_reason_the_operator_can_set_is_on_the_troubleshooting_page() -> None:
    missing = {reason: where for reason, where in reasons_in_code().items() if reason not in documented()}
    assert not missing, f"add these to docs/troubleshooting.md: {missing}"


def test_the_page_documents_no_reason_the_operator_cannot_set() -> None:
    assert documented() - reasons_in_code().keys() == set()
