"""The pure parts of `tau nodes`: universe lists, ages, and the view built from rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tau.db.nodes_cli import age, build_view, render_table, universe_list

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def node(name: str, universes: str = "{}", **changes: Any) -> dict[str, Any]:
    row = {
        "name": name,
        "host": "h",
        "version": "1",
        "universes": universes,
        "stopped": False,
        "unexpired": True,
        "heartbeat_s": 0.25,
        "heartbeat_at": NOW,
    }
    return {**row, **changes}


def lease(resource: str, holder: str, valid: bool = True, *standbys: str) -> dict[str, Any]:
    return {"resource": resource, "holder": holder, "valid": valid, "standbys": list(standbys)}


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
    view = build_view(
        [node("a", '{"1": "artnet"}'), node("b", '{"10": "sacn", "2": "artnet"}')],
        [
            lease("leader", "a", False, "b"),
            lease("universe:1", "a", True, "a", "b"),
            lease("universe:2", "a", False, "b"),
        ],
        [1, 2],
    )
    a, b = view.nodes
    assert view.leader is None and not a.leader
    assert (a.owned, a.standby) == ([1], [])
    assert (b.owned, b.standby) == ([], [1, 2, 10])
    assert list(b.universes) == ["2", "10"]  # numeric order
    assert view.unowned == [2, 10]


def test_a_stopped_node_stands_by_for_nothing_and_its_outputs_are_not_missed() -> None:
    view = build_view(
        [node("a", '{"3": "artnet"}', stopped=True, unexpired=False)],
        [lease("universe:3", "a", False)],
        [],
    )
    assert (view.nodes[0].state, view.nodes[0].standby, view.unowned) == ("stopped", [], [])
    assert render_table(view).splitlines()[1:] == [
        "a     stopped  -       -     -        0.2 s ago  1        h",
        "no leader: no living node holds the leader lease",
    ]
