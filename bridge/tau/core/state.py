"""The state store: the single owner of fixture and group state at run time.

Every change goes through here and leaves as one `ChangeBatch` published on the
bus (`tau.core.bus`), whose subscribers (renderer, MQTT state publisher,
persistence writer) each run isolated: an exception is logged with the
subscriber's name and never reaches the others. Features (circadian, switches,
scenes) only call the methods below.

The store is built in three parts: what it holds and how a batch leaves it
(`tau.core.state_base`), its circadian switches and take-over
(`tau.core.state_circadian`), and here the commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch
from tau.core.lights import FixtureState, apply_command, supports_command, supports_effect
from tau.core.state_base import Target
from tau.core.state_circadian import CircadianStore
from tau.core.takeover import take, taken
from tau.errors import InvalidCommandError, UnknownTargetError

__all__ = ["StateStore", "Target"]  # `Target`: what `command()` takes


class StateStore(CircadianStore):
    """The store's commands: a light command on a fixture or group, scene recall."""

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
