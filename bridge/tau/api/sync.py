"""The leading bridge's own changes, for the other bridges (`<base>/bridge/nodes/sync`).

Light commands reach every bridge from the broker and each applies them itself (so
each renders its universes in the same frame). What only the leader decides (a
circadian tick, a recalled scene, a switch action, the Circadian switch, a timeout)
it sends here as absolute states, and the others adopt them as they are: no bridge
recomputes the leader's decisions, so none can decide differently.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau.core.events import ChangeBatch
from tau.core.lights import FixtureState, GroupState
from tau.core.state import StateStore
from tau.errors import InvalidCommandError

# Reasons of the changes only the leader makes; the rest every bridge makes itself.
REPLICATED = frozenset({"circadian", "scene", "switch", "circadian_switch", "circadian_timeout"})

Rgb = tuple[
    Annotated[int, Field(ge=0, le=255)],
    Annotated[int, Field(ge=0, le=255)],
    Annotated[int, Field(ge=0, le=255)],
]
# is_on, brightness, kelvin, colour, colour mode, suspended, suspended at, source
WireFixture = tuple[bool, int, int | None, Rgb | None, str, bool, float | None, str]
# circadian enabled, suspended, suspended at
WireGroup = tuple[bool, bool, float | None]


class SyncMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    node: str
    reason: str
    transition_s: float = Field(ge=0)
    changed: list[int]
    fixtures: dict[int, WireFixture]
    groups: dict[int, WireGroup]
    commanded_groups: list[int] = []


def encode(node: str, batch: ChangeBatch, store: StateStore) -> str:
    known = store.fixtures()
    fixtures = {
        fid: (
            (s := known[fid]).is_on,
            s.brightness,
            s.kelvin,
            s.color,
            s.color_mode,
            s.circadian_suspended,
            s.suspended_at,
            s.source,
        )
        for fid in sorted(batch.fixture_ids)
        if fid in known
    }
    flags = store.groups()
    groups = {
        gid: ((g := flags[gid]).circadian_enabled, g.circadian_suspended, g.suspended_at)
        for gid in sorted(batch.group_ids)
        if gid in flags
    }
    message = {
        "node": node,
        "reason": batch.reason,
        "transition_s": batch.targets[0].transition_s if batch.targets else 0.0,
        "changed": [t.fixture_id for t in batch.targets],
        "fixtures": fixtures,
        "groups": groups,
        "commanded_groups": sorted(batch.commanded_groups),
    }
    return json.dumps(message, separators=(",", ":"))


def decode(payload: bytes) -> SyncMessage:
    try:
        return SyncMessage.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidCommandError(f"not a bridge sync message ({where}: {first['msg']})") from None


def apply(store: StateStore, message: SyncMessage) -> ChangeBatch | None:
    fixtures = {
        fid: FixtureState(on, level, kelvin, colour, mode, suspended, at, source)
        for fid, (
            on,
            level,
            kelvin,
            colour,
            mode,
            suspended,
            at,
            source,
        ) in message.fixtures.items()
    }
    groups = {gid: GroupState(*flags) for gid, flags in message.groups.items()}
    return store.apply_replica(
        message.reason,
        fixtures,
        groups,
        message.changed,
        message.transition_s,
        message.commanded_groups,
    )
