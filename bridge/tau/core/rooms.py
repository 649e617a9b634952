"""Which room a fixture or a group is in: pure, from the installation model.

A group marked as a room (`groups.is_room`) holds everything in it, nested groups
included. A fixture's room is the innermost room that contains it: the nearest one
going up from its direct groups through their parents (a room inside a room, such as
"Kitchen" in "Downstairs" when both are rooms, wins over the outer one). A room's own
room is itself; another group's is the innermost room above it. Two rooms at the same
distance are told apart by name, then id, so the answer never depends on load order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from tau.core.model import Group, Installation


def _nearest_room(
    inst: Installation, start: Iterable[int], parents: dict[int, set[int]]
) -> Group | None:
    level = set(start)
    seen: set[int] = set()
    while level:
        rooms = [inst.groups[g] for g in level if inst.groups[g].is_room]
        if rooms:
            return min(rooms, key=lambda g: (g.name, g.id))
        seen |= level
        level = {p for g in level for p in parents[g]} - seen
    return None


def rooms(inst: Installation) -> tuple[dict[int, Group], dict[int, Group]]:
    """(fixture id -> its room, group id -> its room); objects in no room are left out."""
    if not any(g.is_room for g in inst.groups.values()):
        return {}, {}
    parents: dict[int, set[int]] = defaultdict(set)
    direct: dict[int, set[int]] = defaultdict(set)
    for gid, group in inst.groups.items():
        for child in group.child_group_ids:
            parents[child].add(gid)
        for fid in group.direct_fixture_ids:
            direct[fid].add(gid)
    fixtures = {
        fid: room
        for fid in inst.fixtures
        if (room := _nearest_room(inst, direct[fid], parents)) is not None
    }
    groups = {
        gid: room
        for gid, group in inst.groups.items()
        if (room := group if group.is_room else _nearest_room(inst, parents[gid], parents))
        is not None
    }
    return fixtures, groups
