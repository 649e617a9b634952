"""Which room a fixture or group is in: the innermost room group above it."""

from __future__ import annotations

from collections.abc import Iterable

from tau.core.installation import build_installation
from tau.core.model import Fixture, FixtureModel, Group, Installation
from tau.core.rooms import rooms

DIMMER = FixtureModel(1, "Acme", "Dimmer", ("dimmer",), 2700, 6500, "linear", 0.0)


def _group(
    gid: int, name: str, fixtures: Iterable[int], children: Iterable[int] = (), room: bool = False
) -> Group:
    # `fixture_ids` (nested included) is not what rooms are computed from; direct ones are.
    return Group(
        gid,
        name,
        name.lower(),
        None,
        frozenset(fixtures),
        frozenset(fixtures),
        frozenset(children),
        is_room=room,
    )


def _house(*rooms_: str) -> Installation:
    """house > downstairs > (kitchen > counter, dining); the named groups are rooms."""
    fixtures = {i: Fixture(i, f"F{i}", f"f{i}", DIMMER, 1, i) for i in range(1, 7)}
    spec = [
        (1, "House", {6}, {2}),
        (2, "Downstairs", set(), {3, 5}),
        (3, "Kitchen", {1}, {4}),
        (4, "Counter", {2, 3}, set()),
        (5, "Dining", {4}, set()),
    ]
    groups = {gid: _group(gid, name, f, c, name in rooms_) for gid, name, f, c in spec}
    return build_installation({1: DIMMER}, fixtures, groups, {}, {}, {}, {})


def _names(found: dict[int, Group]) -> dict[int, str]:
    return {k: g.name for k, g in found.items()}


def test_no_room_no_area() -> None:
    assert rooms(_house()) == ({}, {})


def test_a_fixture_is_in_the_innermost_room_above_it() -> None:
    fixtures, groups = rooms(_house("Kitchen", "Downstairs"))
    # f2 and f3 sit in "Counter" (not a room) inside "Kitchen", inside "Downstairs"
    assert _names(fixtures) == {1: "Kitchen", 2: "Kitchen", 3: "Kitchen", 4: "Downstairs"}
    # f5 is in no group, f6 only in "House" (not a room)
    assert 5 not in fixtures and 6 not in fixtures
    # a room is its own room; a group inside one gets that; groups above none get none
    assert _names(groups) == {2: "Downstairs", 3: "Kitchen", 4: "Kitchen", 5: "Downstairs"}


def test_the_outer_room_when_the_inner_group_is_not_one() -> None:
    fixtures, groups = rooms(_house("House"))
    assert set(_names(fixtures).values()) == {"House"}
    assert set(fixtures) == {1, 2, 3, 4, 6}
    assert set(groups) == {1, 2, 3, 4, 5}


def test_two_rooms_at_the_same_distance_are_told_apart_by_name() -> None:
    fixtures = {i: Fixture(i, f"F{i}", f"f{i}", DIMMER, 1, i) for i in (1, 2)}
    groups = {
        1: _group(1, "Kitchen", {1, 2}, room=True),
        2: _group(2, "Dining", {2}, room=True),
    }
    inst = build_installation({1: DIMMER}, fixtures, groups, {}, {}, {}, {})
    assert _names(rooms(inst)[0]) == {1: "Kitchen", 2: "Dining"}
