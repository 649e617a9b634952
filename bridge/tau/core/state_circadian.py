"""The state store's circadian half: the profile governing each fixture, the
Circadian and Sleep switches, circadian moves, and take-over by hand (what a manual
command takes from the profile, what hands it back, and the per-group record of it).

`CircadianStore` extends `tau.core.state_base.StoreBase`;
`tau.core.state.StateStore` builds the commands on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch
from tau.core.lights import FixtureState
from tau.core.model import CircadianProfile
from tau.core.state_base import StoreBase
from tau.core.takeover import follow, fully_taken, land, resume, resume_due, sleep_goal, take, taken
from tau.errors import UnknownTargetError


class _Goal:
    __slots__ = ("brightness", "kelvin")

    def __init__(self, brightness: int, kelvin: int) -> None:
        self.brightness, self.kelvin = brightness, kelvin


class CircadianStore(StoreBase):
    """The store's circadian switches, moves and take-over bookkeeping."""

    # ---------------------------------------------------------------- reading
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

    # --------------------------------------------------------------- changing
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
