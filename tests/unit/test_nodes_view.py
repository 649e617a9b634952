"""The pure parts of `tau nodes`: universe lists, ages, and the view built from rows."""

from __future__ import annotations

from typing import Any

from tau.db.leases import Lease, NodeRow, View
from tau.db.nodes_cli import age, build_view, render_table, universe_list


def node(name: str, universes: dict[int, str] | None = None, **changes: Any) -> NodeRow:
    row: dict[str, Any] = {
        "name": name,
        "host": "h",
        "pid": 1,
        "version": "1",
        "universes": universes or {},
        "http": None,
        "alive": True,
        "stopped": False,
        "heartbeat_age_s": 0.25,
        "started_at": "2026-01-01T00:00:00Z",
    }
    return NodeRow(**{**row, **changes})


def lease(resource: str, holder: str, live: bool = True, *standbys: str) -> Lease:
    return Lease(resource, holder, 1.0 if live else -1.0, standbys, 5.0)


def view(nodes: list[NodeRow], leases: list[Lease]) -> View:
    return View({n.name: n for n in nodes}, {lease.resource: lease for lease in leases})


def test_universe_lists_fold_runs_of_three_or_more() -> None:
    assert universe_list([]) == "-"
    assert universe_list([4]) == "4"
    assert universe_list([1, 2]) == "1,2"
    assert universe_list([1, 2, 3, 4, 7, 9, 10]) == "1-4,7,9,10"
    assert universe_list([0, 1, 2, 5, 6, 7, 8]) == "0-2,5-8"


def test_ages_read_at_a_glance() -> None:
    assert age(0.04) == "0.0 s ago"
    assert age(59.9) == "59.9 s ago"
    assert age(60) == "1 min ago"
    assert age(3599) == "59 min ago"
    assert age(7300) == "2 h ago"
    assert age(3 * 86400 + 5) == "3 d ago"


def test_expired_leases_own_nothing_and_a_holder_is_not_its_own_standby() -> None:
    built = build_view(
        view(
            [node("a", {1: "artnet"}), node("b", {10: "sacn", 2: "artnet"})],
            [
                lease("leader", "a", False, "b"),
                lease("universe:1", "a", True, "a", "b"),
                lease("universe:2", "a", False, "b"),
            ],
        ),
        [1, 2],
    )
    a, b = built.nodes
    assert built.leader is None and not a.leader
    assert (a.owned, a.standby) == ([1], [])
    assert (b.owned, b.standby) == ([], [1, 2, 10])
    assert list(b.universes) == ["2", "10"]  # numeric order
    assert built.unowned == [2, 10]


def test_a_stopped_node_stands_by_for_nothing_and_its_outputs_are_not_missed() -> None:
    built = build_view(
        view([node("a", {3: "artnet"}, stopped=True, alive=False)], [lease("universe:3", "a")]),
        [],
    )
    # a stopped node's lease row (were it left) is shown as owned while unexpired
    assert (built.nodes[0].state, built.nodes[0].standby, built.unowned) == ("stopped", [], [])
    assert render_table(built).splitlines()[1:] == [
        "a     stopped  -       3     -        0.2 s ago  1        h",
        "no leader: no living node holds the leader lease",
    ]
