"""Several bridges' pure parts: the scope a bridge speaks for, the leader's sync
messages, the nodes in `bridge/info` and universe availability."""

from __future__ import annotations

from typing import Any

import pytest

from tau.api import sync
from tau.api.homeassistant import UniverseAvailability
from tau.api.status import nodes_info
from tau.core.bus import Bus
from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch
from tau.core.installation import build_installation
from tau.core.model import Fixture, FixtureModel, Group
from tau.core.scope import Scope
from tau.core.state import StateStore
from tau.core.topics import Topics
from tau.db.leases import Lease, NodeRow, View
from tau.errors import InvalidCommandError, UnknownTargetError

TOPICS = Topics("tau", "homeassistant")
DIMMER = FixtureModel(1, "Acme", "Dimmer", ("dimmer",), 2700, 6500, "linear", 0.0)
TUNABLE = FixtureModel(2, "Acme", "Tunable", ("warm", "cool"), 2700, 6500, "linear", 0.0)


def _installation() -> Any:
    fixtures = {
        1: Fixture(1, "Hall", "hall", DIMMER, 1, 1),
        2: Fixture(2, "Stair", "stair", TUNABLE, 2, 1),
        3: Fixture(3, "Attic", "attic", DIMMER, 3, 1),
    }
    everything = frozenset({1, 2, 3})
    groups = {10: Group(10, "House", "house", None, everything, everything, frozenset())}
    return build_installation({1: DIMMER, 2: TUNABLE}, fixtures, groups, {}, {}, {}, {})


def _store() -> tuple[StateStore, list[ChangeBatch]]:
    bus = Bus()
    seen: list[ChangeBatch] = []
    bus.subscribe(ChangeBatch, "test", seen.append)
    store = StateStore(0.0, bus=bus)
    store.set_installation(_installation())
    return store, seen


def test_a_bridge_owning_everything_passes_batches_through_untouched() -> None:
    store, seen = _store()
    scope = Scope(lambda: store.installation)
    store.command(("group", 10), LightCommand(state="ON"))
    assert scope.whole and scope.narrow(seen[-1]) is seen[-1]


def test_a_follower_speaks_for_its_universes_fixtures_and_no_group() -> None:
    store, seen = _store()
    scope = Scope(lambda: store.installation)
    scope.set(frozenset({2}), leader=False)
    store.command(("group", 10), LightCommand(state="ON"))
    part = scope.narrow(seen[-1])
    assert part is not None
    assert part.fixture_ids == {2} and part.group_ids == frozenset()
    assert part.commanded_groups == frozenset()
    assert part.targets == seen[-1].targets  # the renderer is not narrowed: it sends owned only
    store.command(("fixture", 1), LightCommand(state="OFF"))
    assert scope.narrow(seen[-1]) is None  # nothing of this bridge's changed
    scope.set(frozenset({2}), leader=True)
    led = scope.narrow(seen[-1])
    assert led is not None and led.fixture_ids == frozenset() and led.group_ids == {10}
    assert scope.fixtures([1, 2, 3]) == {2}


def test_alone_the_leaders_decisions_go_straight_into_its_store() -> None:
    store, seen = _store()
    sent: list[str] = []
    changes = sync.SharedChanges(store, "a", sent.append, lambda: False)
    changes.command(("group", 10), LightCommand(state="ON"), "switch")
    assert sent == [] and seen[-1].reason == "switch"
    assert all(store.fixture(f).is_on for f in (1, 2, 3))


def test_shared_every_bridge_applies_the_leaders_decisions_in_the_same_order() -> None:
    leader, leader_seen = _store()
    follower, _ = _store()
    sent: list[str] = []
    changes = sync.SharedChanges(leader, "a", sent.append, lambda: True)
    changes.command(("group", 10), LightCommand(state="ON", brightness=40), "switch")
    changes.apply_many([(2, LightCommand(kelvin=3000, transition_s=1.5))], "scene", 2.0)
    changes.apply_circadian([(1, 90, 4000), (2, 120, 3500)], 5.0)
    changes.expire_suspensions(60.0)
    assert leader_seen == []  # nothing applied yet, not even on the leader
    assert len(sent) == 4
    # a user command that overtakes the switch press on its way through the broker
    # lands before it on every bridge alike
    for store in (leader, follower):
        store.command(("fixture", 3), LightCommand(state="OFF"))
        for payload in sent:
            sync.apply(store, sync.decode(payload.encode()))
    for fid in (1, 2, 3):
        assert follower.fixture(fid) == leader.fixture(fid)
    assert leader.fixture(3).is_on and leader.fixture(3).brightness == 40
    assert leader.fixture(2).kelvin is not None


def test_an_unknown_target_is_refused_by_the_leader_not_sent() -> None:
    store, _ = _store()
    sent: list[str] = []
    changes = sync.SharedChanges(store, "a", sent.append, lambda: True)
    with pytest.raises(UnknownTargetError):
        changes.command(("group", 99), LightCommand(state="ON"), "switch")
    assert sent == []


def test_a_broken_sync_message_is_refused_with_what_is_wrong() -> None:
    with pytest.raises(InvalidCommandError, match=r"not a bridge sync message \(not JSON\)"):
        sync.decode(b"{")
    with pytest.raises(InvalidCommandError, match="not a bridge sync message"):
        sync.decode(b'{"op": "reboot", "node": "a"}')
    with pytest.raises(InvalidCommandError, match="brightness"):
        sync.decode(
            b'{"op":"command","node":"a","at":1,"target":["group",1],'
            b'"command":{"brightness":300},"reason":"switch"}'
        )
    with pytest.raises(InvalidCommandError, match=r"at: Field required"):
        sync.decode(b'{"op":"expire","node":"a","timeout_s":5}')


def test_a_sync_operation_says_when_it_was_decided() -> None:
    sent: list[str] = []
    store = StateStore(0.0)
    changes = sync.SharedChanges(store, "a", sent.append, lambda: True)
    changes.expire_suspensions(5.0)
    op = sync.decode(sent[0].encode())
    assert abs(sync.age_s(op)) < 5
    assert sync.age_s(op, now=op.at + 61) == pytest.approx(61)


def _view() -> View:
    def node(name: str, alive: bool, universes: dict[int, str]) -> NodeRow:
        return NodeRow(name, "pi", 1, "0.1", universes, None, alive, False, 0.2, "2026-12-01")

    nodes = {
        "a": node("a", True, {1: "enttec_pro", 3: "artnet"}),
        "b": node("b", True, {3: "artnet"}),
        "c": node("c", False, {2: "enttec_pro"}),
    }
    leases = {
        "leader": Lease("leader", "a", 1.5, ("b",), 10.0),
        "universe:1": Lease("universe:1", "a", 1.5, (), 10.0),
        "universe:3": Lease("universe:3", "a", 1.5, ("b",), 10.0),
        "universe:2": Lease("universe:2", "c", -4.0, (), 30.0),
    }
    return View(nodes, leases)


def test_bridge_info_lists_every_node_with_what_it_owns_and_stands_by_for() -> None:
    info = {n["name"]: n for n in nodes_info(_view(), [1, 2, 3])["nodes"]}
    assert info["a"]["leader"] and info["a"]["owned"] == [1, 3] and info["a"]["standby"] == []
    assert not info["b"]["leader"] and info["b"]["owned"] == [] and info["b"]["standby"] == [3]
    assert not info["c"]["alive"] and info["c"]["owned"] == [] and info["c"]["standby"] == []
    assert info["c"]["state"] == "lost"


def test_universe_availability_follows_the_leases_and_clears_removed_universes() -> None:
    sent: list[tuple[str, str]] = []

    def publish(topic: str, payload: str, **_: Any) -> bool:
        sent.append((topic, payload))
        return True

    class Nodes:  # what UniverseAvailability reads of a Cluster
        owned = frozenset({1})
        view = _view()

    availability = UniverseAvailability(TOPICS, publish)
    availability.sync({1, 2, 3}, Nodes())  # type: ignore[arg-type]
    assert sent == [
        ("tau/bridge/universe/1/state", "online"),
        ("tau/bridge/universe/2/state", "offline"),  # its only node is dead
        ("tau/bridge/universe/3/state", "online"),
    ]
    sent.clear()
    availability.sync({1, 2, 3}, Nodes())  # type: ignore[arg-type]
    assert sent == []  # only changes
    availability.sync({1, 3}, Nodes())  # type: ignore[arg-type]
    assert sent == [("tau/bridge/universe/2/state", "")]
    sent.clear()
    availability.sync({1, 3}, None)  # one bridge, no leases: everything it has is online
    assert sent == []
    availability.sync({1, 3}, None, force=True)
    assert sent == [
        ("tau/bridge/universe/1/state", "online"),
        ("tau/bridge/universe/3/state", "online"),
    ]


def test_a_database_report_round_trips_and_a_bad_one_is_named() -> None:
    report = sync.decode_report(sync.database_report("a", True).encode())
    assert report.node == "a" and report.lost and report.at > 0
    with pytest.raises(InvalidCommandError, match="not a bridge database report"):
        sync.decode_report(b'{"node": "a", "lost": "maybe", "at": 1}')
