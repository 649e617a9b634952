"""The state store: the single owner of fixture and group state at run time.

Every change goes through here and leaves as one `ChangeBatch` published on the
bus (`tau.core.bus`), whose subscribers (renderer, MQTT state publisher,
persistence writer) each run isolated: an exception is logged with the
subscriber's name and never reaches the others. Features (circadian, switches,
scenes) only call the methods below.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, Protocol

from tau.colours import COLOUR_KEYS
from tau.core.bus import Bus
from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch
from tau.core.lights import (
    FixtureState,
    GroupLight,
    GroupState,
    apply_command,
    derive_group,
    fit_to_model,
    group_color_modes,
    initial_state,
    supports_command,
    supports_effect,
)
from tau.core.model import CircadianProfile, Installation
from tau.core.takeover import (
    follow,
    fully_taken,
    land,
    resume,
    resume_due,
    sleep_goal,
    take,
    taken,
)
from tau.dmx.types import LightTarget, LiveLevel
from tau.errors import InvalidCommandError, UnknownTargetError

log = logging.getLogger(__name__)

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


class _Goal:
    __slots__ = ("brightness", "kelvin")

    def __init__(self, brightness: int, kelvin: int) -> None:
        self.brightness, self.kelvin = brightness, kelvin


class StateStore:
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

    def circadian_active(self, fixture_id: int) -> bool:
        """On, its profile's switch ON, and not everything taken over by hand."""
        state = self._fixtures.get(fixture_id)
        if state is None or not state.is_on or fully_taken(state):
            return False
        return self._profile_group_active(fixture_id)

    def circadian_switch_on(self, group_id: int) -> bool:
        """The group's Circadian switch; its fixtures report the same (take-over is
        reported apart, as `circadian_paused`)."""
        return self._groups[group_id].circadian_enabled

    def fixture_circadian(self, fixture_id: int) -> bool | None:
        """The Circadian switch of the group governing the fixture; None without one."""
        gid = self.profile_group_of(fixture_id)
        return None if gid is None or gid not in self._groups else self.circadian_switch_on(gid)

    def sleeping(self, group_id: int) -> bool:
        """The group's Sleep switch (sleep mode)."""
        return self._groups[group_id].sleep

    def restore_targets(self) -> list[LightTarget]:
        return [self._target(fid, 0.0) for fid in sorted(self._fixtures)]

    # ---------------------------------------------------------------- commands
    def resolve(self, target: Target) -> list[int]:
        kind, ident = target
        if kind == "fixture":
            if ident not in self._inst.fixtures:
                raise UnknownTargetError(f"unknown fixture id {ident}")
            return [ident]
        group = self._inst.groups.get(ident)
        if group is None:
            raise UnknownTargetError(f"unknown group id {ident}")
        return sorted(group.fixture_ids)

    def command(
        self, target: Target, command: LightCommand, reason: str = "command"
    ) -> ChangeBatch:
        """Apply a light command to a fixture or (nested) group in one batch."""
        members = self.resolve(target)
        self._check_supported(target, members, command)
        if command.brightness_move is not None:
            return self._move(target, members, command, reason)
        want_on = self._want_on(target, members, command)
        groups_before = self._groups_on(members)
        before = {fid: self._fixtures[fid] for fid in members}
        after = {
            fid: apply_command(before[fid], self._inst.fixtures[fid].model, command, want_on)
            for fid in members
        }
        self._moving.difference_update(members)
        self._commit(after, reason)
        turned_on = [fid for fid in members if after[fid].is_on and not before[fid].is_on]
        groups_turned_on = self._groups_on(members) - groups_before
        # Off -> on hands everything back to the profile, then this very command takes
        # what it chooses (a level, a colour); the rest lands on the profile's values.
        flagged = self._update_suspension(members, command, reason, turned_on)
        self._land_on_circadian(turned_on)
        transition = self._transition(command)
        changed = {fid for fid in members if not self._fixtures[fid].same_light(before[fid])}
        return self._emit(reason, changed, transition, target, groups_turned_on, republish=flagged)

    def apply_many(
        self, items: Sequence[tuple[int, LightCommand]], reason: str, transition_s: float | None
    ) -> ChangeBatch:
        """Per-fixture commands landing in one frame (scene recall)."""
        before = {fid: self._fixtures[fid] for fid, _ in items if fid in self._fixtures}
        after: dict[int, FixtureState] = {}
        for fid, cmd in items:
            if fid not in before:
                continue
            want_on = None if cmd.state is None else cmd.state == "ON"
            after[fid] = apply_command(before[fid], self._inst.fixtures[fid].model, cmd, want_on)
        self._moving.difference_update(after)
        self._commit(after, reason)
        # A recalled scene is an explicit level, like a command: what it sets on each
        # fixture it lights under a profile is taken over until the next off -> on.
        now = self._clock()
        for fid, cmd in items:
            state = after.get(fid)
            profile = self.profile_of(fid)
            if state is None or not state.is_on or profile is None:
                continue
            take(state, taken(cmd, profile.take_over), now)
        self._record_group_take_over(after)
        changed = {fid for fid in after if not self._fixtures[fid].same_light(before[fid])}
        transition = self.default_transition_s if transition_s is None else transition_s
        return self._emit(reason, changed, transition, None, set(), republish=set(after))

    def apply_circadian(
        self, items: Iterable[tuple[int, int, int]], transition_s: float
    ) -> ChangeBatch:
        """Move on, active fixtures to (brightness, kelvin); never turns anything on."""
        after: dict[int, FixtureState] = {}
        for fid, brightness, kelvin in items:
            if not self.circadian_active(fid) or fid in self._moving:
                continue
            state = self._fixtures[fid].copy()
            model = self._inst.fixtures[fid].model
            goal = self._sleep_goal(fid) or _Goal(brightness, kelvin)
            follow(state, model, goal)
            if not state.same_light(self._fixtures[fid]):
                after[fid] = state
        self._commit(after, "circadian")
        return self._emit("circadian", set(after), transition_s, None, set())

    def set_circadian(self, group_id: int, enabled: bool) -> ChangeBatch:
        """The HA "Circadian" switch: ON enables and resumes, OFF disables."""
        if group_id not in self._groups:
            raise UnknownTargetError(f"unknown group id {group_id}")
        flags = self._groups[group_id]
        flags.circadian_enabled = enabled
        members = set(self._inst.groups[group_id].fixture_ids)
        governed = {fid for fid in members if self.profile_group_of(fid) == group_id}
        if enabled:
            for fid in governed:
                resume(self._fixtures[fid])
            self._record_group_take_over(governed)
        # The fixtures this profile governs report `circadian` in their state, so they are
        # re-published (no render target: a running fade is left alone).
        batch = self._emit("circadian_switch", set(), 0.0, None, {group_id}, republish=governed)
        if enabled:
            self._land_on_circadian(sorted(f for f in members if self._fixtures[f].is_on))
            batch = self._emit("circadian", members, self.default_transition_s, None, {group_id})
        return batch

    def set_sleep(self, group_id: int, on: bool) -> ChangeBatch:
        """The group's Sleep switch: its profile's lights that are on move to the sleep
        level (ON) or back to the profile's (OFF); turning on lands there too."""
        if group_id not in self._groups:
            raise UnknownTargetError(f"unknown group id {group_id}")
        self._groups[group_id].sleep = on
        members = self._inst.groups[group_id].fixture_ids
        governed = [f for f in sorted(members) if self.profile_group_of(f) == group_id]
        before = {fid: self._fixtures[fid].copy() for fid in governed}
        self._land_on_circadian([f for f in governed if self._fixtures[f].is_on])
        changed = {f for f in governed if not self._fixtures[f].same_light(before[f])}
        return self._emit("sleep", changed, self.default_transition_s, None, {group_id})

    def expire_suspensions(self, timeout_s: float | None) -> None:
        """Hand back what was taken over longer than the profile's `resume_after_s`, or
        else `timeout_s` (the bridge-wide timeout; None: none)."""
        now = self._clock()
        fixtures = set()
        for fid, state in self._fixtures.items():
            if state.suspended_at is None:
                continue
            profile = self.profile_of(fid)
            limit = profile.resume_after_s if profile and profile.resume_after_s else timeout_s
            if resume_due(state, limit, now):
                resume(state)
                fixtures.add(fid)
        if fixtures:
            self._record_group_take_over(fixtures)
            self._emit("circadian_timeout", set(), 0.0, None, set(), republish=fixtures)

    # ---------------------------------------------------------------- internals
    def _check_supported(self, target: Target, members: list[int], command: LightCommand) -> None:
        models = [self._inst.fixtures[fid].model for fid in members]
        effect = command.effect
        if effect is not None and members and not any(supports_effect(m, effect) for m in models):
            raise InvalidCommandError(f"{target[0]} does not support the {effect} effect (no rgb)")
        if not command.sets_colour:
            return
        if members and not any(supports_command(m, command) for m in models):
            what = "colour temperature" if command.color is None else "colour"
            raise InvalidCommandError(f"{target[0]} does not support {what}")

    def _want_on(self, target: Target, members: list[int], command: LightCommand) -> bool | None:
        if command.state is None:
            return None
        if command.state == "TOGGLE":
            if target[0] == "group":
                return not self.group_light(target[1]).is_on
            return not self._fixtures[members[0]].is_on
        return command.state == "ON"

    def _transition(self, command: LightCommand) -> float:
        return self.default_transition_s if command.transition_s is None else command.transition_s

    def _groups_on(self, members: Iterable[int]) -> set[int]:
        groups: set[int] = set()
        for fid in members:
            groups |= self._inst.groups_of_fixture.get(fid, frozenset())
        fixtures, inst_groups = self._fixtures, self._inst.groups
        return {
            gid for gid in groups if any(fixtures[f].is_on for f in inst_groups[gid].fixture_ids)
        }

    def _move(
        self, target: Target, members: list[int], command: LightCommand, reason: str
    ) -> ChangeBatch:
        rate = command.brightness_move or 0
        flagged = self._update_suspension(members, command, reason, [])
        after: dict[int, FixtureState] = {}
        longest = 0.0
        for fid in members:
            state = self._fixtures[fid].copy()
            live = self._live(fid)
            now = live.brightness if live is not None else (state.brightness if state.is_on else 0)
            if rate == 0:
                if fid in self._moving:
                    state.brightness = max(1, round(now))
                    after[fid] = state
                continue
            if rate < 0 and not state.is_on:
                continue
            goal = 255 if rate > 0 else 1
            longest = max(longest, abs(goal - now) / abs(rate))
            state.is_on, state.brightness = True, goal
            state.effect = state.effect_seed = None  # dimming by hand stops an effect
            after[fid] = state
        if rate == 0:
            self._moving.difference_update(members)
            self._commit(after, reason)
            return self._emit(reason, set(after), 0.0, target, set(), republish=flagged)
        self._moving.update(after)
        self._commit(after, reason)
        # One duration for the whole batch keeps a group's members moving together.
        return self._emit(reason, set(after), longest, target, set(), republish=flagged)

    def _commit(self, after: Mapping[int, FixtureState], reason: str) -> None:
        for fid, state in after.items():
            state.source = reason
            self._fixtures[fid] = state

    def _update_suspension(
        self, members: list[int], command: LightCommand, reason: str, turned_on: list[int]
    ) -> set[int]:
        """Resume what turned on, then take over what a manual command chose (per the
        profile's `take_over`); returns the fixtures whose take-over changed."""
        flagged = {fid for fid in turned_on if resume(self._fixtures[fid])}
        if reason in ("command", "switch") and (command.sets_level or command.sets_colour):
            now = self._clock()
            for fid in members:
                profile = self.profile_of(fid)
                if profile is not None and take(
                    self._fixtures[fid], taken(command, profile.take_over), now
                ):
                    flagged.add(fid)
        self._record_group_take_over(flagged)
        return flagged

    def _record_group_take_over(self, fixture_ids: Iterable[int]) -> None:
        """`group_state.circadian_suspended` records that a profile group's brightness is
        taken over by hand on any fixture it governs (PRODUCT.md: "recorded in
        group_state/fixture_state"). The take-over itself lives per fixture; this is what
        the database and its readers see of it per group. The batch that follows carries
        the groups of these fixtures, so the writer stores the flag."""
        groups = {self.profile_group_of(fid) for fid in fixture_ids}
        now = self._clock()
        for gid in groups:
            flags = self._groups.get(gid) if gid is not None else None
            if gid is None or flags is None:
                continue
            suspended = any(
                self._fixtures[f].circadian_suspended
                for f in self._inst.groups[gid].fixture_ids
                if f in self._fixtures and self.profile_group_of(f) == gid
            )
            if suspended != flags.circadian_suspended:
                flags.circadian_suspended = suspended
                flags.suspended_at = now if suspended else None

    def profile_group_of(self, fixture_id: int) -> int | None:
        """The group whose circadian profile governs the fixture; None without one."""
        return self._circadian.profile_group_of(fixture_id) if self._circadian else None

    def profile_of(self, fixture_id: int) -> CircadianProfile | None:
        """The circadian profile governing the fixture; None without one."""
        return self._circadian.profile_of(fixture_id) if self._circadian else None

    def _profile_group_active(self, fixture_id: int) -> bool:
        gid = self.profile_group_of(fixture_id)
        if gid is None or gid not in self._groups:
            return False
        return self.circadian_switch_on(gid)

    def _land_on_circadian(self, fixture_ids: Iterable[int]) -> None:
        """Put what the profile still controls of each fixture at its level (or sleep's)."""
        if self._circadian is None:
            return
        for fid in fixture_ids:
            if not self.circadian_active(fid):
                continue
            goal = self._sleep_goal(fid) or self._circadian.target_for_fixture(fid)
            if goal is not None:
                land(self._fixtures[fid], self._inst.fixtures[fid].model, goal)

    def _sleep_goal(self, fixture_id: int) -> _Goal | None:
        """The sleep level when the fixture's profile group is in sleep mode."""
        gid = self.profile_group_of(fixture_id)
        profile = self.profile_of(fixture_id)
        flags = self._groups.get(gid) if gid is not None else None
        if flags is None or profile is None or not flags.sleep:
            return None
        return _Goal(*sleep_goal(profile, self._inst.fixtures[fixture_id].model))

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
