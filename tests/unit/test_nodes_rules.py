"""The lease rules that need no database (`tau.nodes.rules`)."""

from __future__ import annotations

import logging

import pytest

from tau.db.leases import Lease, NodeRow, View
from tau.nodes.rules import Reporter, wanted


def _node(
    name: str, universes: dict[int, str], alive: bool = True, stopped: bool = False
) -> NodeRow:
    return NodeRow(name, "pi", 1, "0.1", universes, None, alive, stopped, 0.1, "2026-12-01")


VIEW = View(
    {
        "a": _node("a", {1: "enttec_pro", 3: "artnet"}),
        "b": _node("b", {3: "artnet", 4: "sacn"}),
        "c": _node("c", {3: "artnet"}, alive=False),
        "d": _node("d", {5: "enttec_pro"}, alive=False),
    },
    {},
)


def test_what_a_node_wants_and_who_could_take_each_over() -> None:
    got = wanted(VIEW, "a", {1: "enttec_pro", 3: "artnet"}, frozenset({1, 2, 3, 4, 5}))
    assert got == {
        "leader": ["b"],  # any living node; c is dead
        "universe:1": [],  # a device universe has no standby
        "universe:3": ["b"],  # the living nodes with a network output there
        "universe:2": ["b"],  # nobody has an output for it: virtual, anyone
    }
    # 4 is b's, 5 is dead d's USB line: a claims neither


def test_a_lone_node_wants_everything_with_nobody_to_take_over() -> None:
    alone = View({"a": _node("a", {})}, {})
    assert wanted(alone, "a", {}, frozenset({1, 2})) == {
        "leader": [],
        "universe:1": [],
        "universe:2": [],
    }


def test_reports_are_said_once_per_holder(caplog: pytest.LogCaptureFixture) -> None:
    reporter = Reporter("b", {1: "enttec_pro", 3: "artnet"})
    view = View(
        {"a": _node("a", {1: "enttec_pro", 3: "artnet"}), "b": _node("b", {})},
        {
            "universe:1": Lease("universe:1", "a", 1.0, (), 5.0),
            "universe:3": Lease("universe:3", "a", 1.0, ("b",), 5.0),
        },
    )
    with caplog.at_level(logging.INFO, logger="tau.nodes"):
        for _ in range(3):
            reporter.report(view, "universe:1")
            reporter.report(view, "universe:3")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2
    assert lines[0][0] == "ERROR" and "node 'a' outputs it" in lines[0][1]
    assert lines[1][0] == "INFO" and "event=node_standby" in lines[1][1]
    caplog.clear()
    reporter.held("universe:3")  # b took it; when a holds it again, that is said again
    with caplog.at_level(logging.INFO, logger="tau.nodes"):
        reporter.report(view, "universe:3")
    assert len(caplog.records) == 1
