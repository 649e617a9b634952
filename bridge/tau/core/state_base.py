"""What the state store holds and how a change leaves it.

`StoreBase` keeps the installation, every fixture's and group's state and the
readers of both; `_commit` writes a change, `_emit` publishes it as one
`ChangeBatch` on the bus. `tau.core.state_circadian.CircadianStore` adds the
circadian switches and take-over on top, `tau.core.state.StateStore` the commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

from tau.colours import COLOUR_KEYS
from tau.core.bus import Bus
from tau.core.events import ChangeBatch
from tau.core.lights import (
    FixtureState,
    GroupLight,
    GroupState,
    derive_group,
    fit_to_model,
    group_color_modes,
    initial_state,
)
from tau.core.model import CircadianProfile, Installation
from tau.dmx.types import LightTarget, LiveLevel

TargetKind = Literal["fixture", "group"]
Target = tuple[TargetKind, int]


class CircadianTargetLike(Protocol):
    @property
    def brightness(self) -> int: ...
    @property
    def kelvin(self) -> int: ...


class CircadianSource(Protocol):
    """What the store asks the circadian engine (absent = no circadian)."""

    def profile_group_of(self, fixture_id: int) -> int | None: ...
    def profile_of(self, fixture_id: int) -> CircadianProfile | None: ...
    def target_for_fixture(self, fixture_id: int) -> CircadianTargetLike | None: ...


class StoreBase:
    """The store's state: the model, fixtures and groups, and the batches it emits."""

    def __init__(
        self,
        default_transition_s: float,
        live: Callable[[int], LiveLevel | None] = lambda _fid: None,
        clock: Callable[[], float] = time.time,
        circadian: CircadianSource | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.default_transition_s = default_transition_s
        self._live = live
        self._clock = clock
        self._inst = Installation()
        self._fixtures: dict[int, FixtureState] = {}
        self._groups: dict[int, GroupState] = {}
        self._group_modes: dict[int, list[str]] = {}
        self._bus = bus or Bus()
        self._moving: set[int] = set()
        self._circadian = circadian

    # ------------------------------------------------------------------ model
    @property
    def installation(self) -> Installation:
        return self._inst

    def set_installation(
        self,
        inst: Installation,
        stored_fixtures: Mapping[int, FixtureState] | None = None,
        stored_groups: Mapping[int, GroupState] | None = None,
    ) -> None:
        """Adopt a (re)loaded model: new fixtures get stored or initial state,
        removed ones are forgotten. Emits nothing; the caller publishes."""
        stored_fixtures = stored_fixtures or {}
        stored_groups = stored_groups or {}
        fixtures: dict[int, FixtureState] = {}
        for fid, fixture in inst.fixtures.items():
            state = self._fixtures.get(fid) or stored_fixtures.get(fid)
            if state is None:
                fixtures[fid] = initial_state(fixture.model)
            else:
                fixtures[fid] = fit_to_model(state, fixture.model)
        groups = {
            gid: self._groups.get(gid) or stored_groups.get(gid) or GroupState()
            for gid in inst.groups
        }
        self._inst, self._fixtures, self._groups = inst, fixtures, groups
        self._group_modes = {
            gid: group_color_modes(inst.fixtures[f].model for f in g.fixture_ids)
            for gid, g in inst.groups.items()
        }
        self._moving &= set(fixtures)

    # ----------------------------------------------------------------- reading
    def fixture(self, fixture_id: int) -> FixtureState:
        return self._fixtures[fixture_id]

    def fixtures(self) -> Mapping[int, FixtureState]:
        return self._fixtures

    def groups(self) -> Mapping[int, GroupState]:
        return self._groups

    def group_state(self, group_id: int) -> GroupState:
        return self._groups[group_id]

    def group_modes(self, group_id: int) -> list[str]:
        return self._group_modes.get(group_id, ["brightness"])

    def group_light(self, group_id: int) -> GroupLight:
        group = self._inst.groups[group_id]
        members = [self._fixtures[f] for f in sorted(group.fixture_ids)]
        return derive_group(members, self.group_modes(group_id))

    def restore_targets(self) -> list[LightTarget]:
        return [self._target(fid, 0.0) for fid in sorted(self._fixtures)]

    # --------------------------------------------------------------- changing
    def _commit(self, after: Mapping[int, FixtureState], reason: str) -> None:
        for fid, state in after.items():
            state.source = reason
            self._fixtures[fid] = state

    def _target(self, fid: int, transition_s: float) -> LightTarget:
        s = self._fixtures[fid]
        colour = s.color_mode in COLOUR_KEYS
        color = s.color if colour else None
        kelvin = s.kelvin if not colour else None
        return LightTarget(
            fid, s.is_on, s.brightness, kelvin, color, transition_s, s.effect, s.effect_seed
        )

    def _emit(
        self,
        reason: str,
        changed: set[int],
        transition_s: float,
        target: Target | None,
        flag_groups: set[int],
        *,
        republish: set[int] | frozenset[int] = frozenset(),
    ) -> ChangeBatch:
        fixture_ids = set(changed) | set(republish)
        groups = set(flag_groups)
        if target is not None:
            if target[0] == "fixture":
                fixture_ids.add(target[1])
            else:
                groups.add(target[1])
        for fid in fixture_ids:
            groups |= self._inst.groups_of_fixture.get(fid, frozenset())
        batch = ChangeBatch(
            reason=reason,
            fixture_ids=frozenset(fixture_ids),
            group_ids=frozenset(groups),
            targets=tuple(self._target(fid, transition_s) for fid in sorted(changed)),
            commanded_groups=frozenset(
                [target[1]] if target is not None and target[0] == "group" else []
            ),
        )
        self._bus.publish(batch)
        return batch
