"""The board on which connectors of one integration tell each other that their role is assumable."""

from __future__ import annotations

from ccloud_operator.reconcilers.iam_propagation import PropagationBoard


def test_a_start_wakes_the_connectors_waiting_on_that_integration_only_and_once() -> None:
    woken: list[str] = []
    board = PropagationBoard(woken.append)
    board.wait("cspi-1", "a")
    board.wait("cspi-1", "b")
    board.wait("cspi-2", "c")

    board.started("cspi-1", 100.0)
    assert sorted(woken) == ["a", "b"]
    assert board.started_since("cspi-1", 99.0)
    assert not board.started_since("cspi-1", 100.0)
    assert not board.started_since("cspi-2", 0.0)

    # Woken connectors are off the board until they fail and wait again.
    board.started("cspi-1", 101.0)
    assert sorted(woken) == ["a", "b"]


def test_an_older_start_than_the_one_known_is_no_news() -> None:
    woken: list[str] = []
    board = PropagationBoard(woken.append)
    board.started("cspi-1", 100.0)
    board.wait("cspi-1", "a")
    board.started("cspi-1", 90.0)
    assert woken == []
    assert not board.started_since("cspi-1", 100.0)


def test_a_connector_that_stopped_waiting_or_moved_is_not_woken_for_its_old_integration() -> None:
    woken: list[str] = []
    board = PropagationBoard()
    board.wake_with(woken.append)
    board.wait("cspi-1", "a")
    board.done("a")
    board.wait("cspi-1", "b")
    board.wait("cspi-2", "b")  # its spec now names another integration
    board.done("never-waited")

    board.started("cspi-1", 1.0)
    assert woken == []
    board.started("cspi-2", 1.0)
    assert woken == ["b"]
