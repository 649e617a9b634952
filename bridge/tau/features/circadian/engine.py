"""Circadian engine and scheduler: which profile governs which fixture, and the tick.

`CircadianEngine` answers "what should this fixture be now" for the state store
(a fixture follows the profile of its nearest group that has one);
`CircadianScheduler` is the thin APScheduler adapter that calls the tick every
`tick_seconds`. The keyframe maths lives in `profile`.

Example::

    engine = CircadianEngine(clock=lambda: datetime.now(UTC), location=settings.location,
                             tick_seconds=settings.circadian.tick_seconds)
    engine.set_installation(installation)
    for fixture_id, target in engine.tick_plan(store.circadian_active):
        ...  # store applies target with transition engine.transition_s, reason 'circadian'
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tau.core.model import CircadianProfile, Installation
from tau.errors import InvalidCommandError
from tau.features.circadian.profile import (
    CircadianTarget,
    Keyframe,
    ResolvedKeyframe,
    SunCalendar,
    day_keyframes,
    interpolate,
    local_zone,
    parse_keyframe,
    to_target,
    validate_profile,
)
from tau.settings import LocationSettings

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class ProfileTie:
    """A fixture with several equally near groups carrying different profiles."""

    fixture_id: int
    distance: int
    group_ids: tuple[int, ...]  # the first one won


def _distances(installation: Installation, group_id: int) -> dict[int, int]:
    """Fixture id → hierarchy levels below `group_id` (direct members are 0)."""
    found: dict[int, int] = {}
    level, seen, frontier = 0, {group_id}, [group_id]
    while frontier:
        following: list[int] = []
        for gid in frontier:
            group = installation.groups.get(gid)
            if group is None:
                continue
            for fid in group.direct_fixture_ids:
                found.setdefault(fid, level)
            following.extend(c for c in sorted(group.child_group_ids) if c not in seen)
            seen.update(group.child_group_ids)
        frontier, level = following, level + 1
    return found


def assign_profiles(
    installation: Installation, *, profile_ids: Set[int] | None = None
) -> tuple[dict[int, tuple[int, int]], list[ProfileTie]]:
    """fixture id → (group id, profile id) of its nearest group with a profile.

    Ties at the same distance go to the lowest group id and are returned so the
    caller can report them. `profile_ids` restricts which profiles count (e.g.
    only the valid ones); by default every profile present in the installation.
    """
    usable = set(installation.profiles) if profile_ids is None else profile_ids
    best: dict[int, tuple[int, list[int]]] = {}  # fixture → (distance, group ids)
    for gid in sorted(installation.groups):
        pid = installation.groups[gid].circadian_profile_id
        if pid is None or pid not in usable:
            continue
        for fid, distance in _distances(installation, gid).items():
            current = best.get(fid)
            if current is None or distance < current[0]:
                best[fid] = (distance, [gid])
            elif distance == current[0]:
                current[1].append(gid)
    assignment: dict[int, tuple[int, int]] = {}
    ties: list[ProfileTie] = []
    for fid in sorted(best):
        distance, gids = best[fid]
        pid = installation.groups[gids[0]].circadian_profile_id
        assignment[fid] = (gids[0], pid)  # type: ignore[assignment]
        profiles = {installation.groups[g].circadian_profile_id for g in gids}
        if len(profiles) > 1:
            ties.append(ProfileTie(fid, distance, tuple(gids)))
    return assignment, ties


class CircadianEngine:
    """Targets for fixtures under groups with a profile; no I/O, no loop.

    `clock` returns aware datetimes and is injectable so tests run a whole day in
    milliseconds. The engine never turns anything on: `tick_plan` only returns
    targets for fixtures the store reports active.
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        location: LocationSettings | None,
        tick_seconds: float,
    ) -> None:
        self._clock = clock
        self._location = location
        self._tick_seconds = tick_seconds
        self._frames: dict[int, list[Keyframe]] = {}
        self._assignment: dict[int, tuple[int, int]] = {}
        self._group_profile: dict[int, int] = {}
        self._profiles: dict[int, CircadianProfile] = {}
        self._sun: SunCalendar | None = None
        self._days: dict[date, dict[int, list[ResolvedKeyframe]]] = {}
        self._reported: set[object] = set()

    @property
    def tick_seconds(self) -> float:
        return self._tick_seconds

    @property
    def transition_s(self) -> float:
        """Transition for each tick's move: one tick long, so the change is invisible."""
        return self._tick_seconds

    @property
    def assignment(self) -> Mapping[int, tuple[int, int]]:
        """fixture id → (governing group id, profile id)."""
        return self._assignment

    def profile_group_of(self, fixture_id: int) -> int | None:
        """The group whose profile governs the fixture; None without one."""
        found = self._assignment.get(fixture_id)
        return found[0] if found else None

    def profile_of(self, fixture_id: int) -> CircadianProfile | None:
        """The (valid) profile governing the fixture; None without one."""
        found = self._assignment.get(fixture_id)
        return self._profiles.get(found[1]) if found else None

    def resumes_after(self) -> bool:
        """Whether some profile hands manual changes back after `resume_after_s`."""
        return any(p.resume_after_s for p in self._profiles.values())

    def set_installation(self, installation: Installation) -> list[str]:
        """Swap in a new model; returns (and logs once) the problems of rejected profiles."""
        problems: list[str] = []
        rejected: dict[int, list[str]] = {}
        frames: dict[int, list[Keyframe]] = {}
        for pid, profile in installation.profiles.items():
            found = validate_profile(profile, self._location)
            if found:
                problems.extend(found)
                rejected[pid] = found
                continue
            frames[pid] = [parse_keyframe(raw) for raw in profile.keyframes]
        needs_sun = any(f.anchor != "clock" for fs in frames.values() for f in fs)
        if self._sun is None and needs_sun and self._location is not None:
            self._sun = SunCalendar(self._location)
        assignment, ties = assign_profiles(installation, profile_ids=frames.keys())
        self._frames, self._assignment, self._days = frames, assignment, {}
        self._profiles = {pid: installation.profiles[pid] for pid in frames}
        self._group_profile = {
            gid: g.circadian_profile_id
            for gid, g in installation.groups.items()
            if g.circadian_profile_id in frames
        }
        used = {g.circadian_profile_id for g in installation.groups.values()}
        for pid, found in rejected.items():
            for problem in found:
                if pid in used:
                    self._report(problem, "event=circadian_profile_rejected problem=%r", problem)
                else:  # nothing follows it: a note, not a warning (it warns once assigned)
                    log.debug("event=circadian_profile_unusable problem=%r", problem)
        for tie in ties:
            self._report(
                (tie.fixture_id, tie.group_ids),
                "event=circadian_profile_tie fixture_id=%d groups=%s distance=%d using_group=%d",
                tie.fixture_id, list(tie.group_ids), tie.distance, tie.group_ids[0],
            )  # fmt: skip
        return problems

    def _report(self, key: object, message: str, *args: object) -> None:
        if key not in self._reported:
            self._reported.add(key)
            log.warning(message, *args)

    def _keyframes(self, profile_id: int, day: date) -> list[ResolvedKeyframe]:
        per_day = self._days.get(day)
        if per_day is None:
            if len(self._days) > 3:
                self._days.clear()
            per_day = self._days[day] = {}
        resolved = per_day.get(profile_id)
        if resolved is None:
            resolved = per_day[profile_id] = day_keyframes(self._frames[profile_id], day, self._sun)
        return resolved

    def target_for_profile(self, profile_id: int, at: datetime | None = None) -> CircadianTarget:
        if profile_id not in self._frames:
            raise KeyError(f"profile {profile_id} is unknown or was rejected")
        local = (at or self._clock()).astimezone(local_zone(self._location))
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return to_target(*interpolate(self._keyframes(profile_id, local.date()), seconds))

    def target_for_fixture(
        self, fixture_id: int, at: datetime | None = None
    ) -> CircadianTarget | None:
        """The fixture's current target (for 'turn on at circadian values'); None without one."""
        assigned = self._assignment.get(fixture_id)
        return None if assigned is None else self.target_for_profile(assigned[1], at)

    def target_for_group(self, group_id: int, at: datetime | None = None) -> CircadianTarget | None:
        """The target of the group's own profile (its Circadian switch state); None without one."""
        pid = self._group_profile.get(group_id)
        return None if pid is None else self.target_for_profile(pid, at)

    def tick_plan(self, is_active: Callable[[int], bool]) -> list[tuple[int, CircadianTarget]]:
        """(fixture id, target) for each active fixture with a profile, computed for the
        moment the tick's transition ends (now + tick_seconds)."""
        at = self._clock() + timedelta(seconds=self._tick_seconds)
        targets: dict[int, CircadianTarget] = {}
        plan: list[tuple[int, CircadianTarget]] = []
        for fid, (_, pid) in self._assignment.items():
            if not is_active(fid):
                continue
            target = targets.get(pid)
            if target is None:
                target = targets[pid] = self.target_for_profile(pid, at)
            plan.append((fid, target))
        return plan


class CircadianClock:
    """The circadian clock: real time unless a test or demo has set it.

    Setting it (the `circadian/clock` bridge request) is allowed only when
    `settable` (TAU_CIRCADIAN__CLOCK_CONTROL).
    """

    def __init__(self, *, settable: bool, real: Callable[[], datetime] | None = None) -> None:
        self._settable = settable
        self._real = real or (lambda: datetime.now().astimezone())
        self._override: datetime | None = None

    def now(self) -> datetime:
        return self._override or self._real()

    def set(self, when: datetime | None) -> None:
        if not self._settable:
            raise InvalidCommandError(
                "setting the circadian clock is disabled (TAU_CIRCADIAN__CLOCK_CONTROL)"
            )
        if when is not None and when.tzinfo is None:
            raise InvalidCommandError(
                "give the time with a UTC offset, e.g. 2026-06-21T12:00+02:00"
            )
        self._override = when


TickCallback = Callable[[], Awaitable[None] | None]


class CircadianScheduler:
    """One APScheduler interval job calling `callback` every `tick_seconds`.

    Missed ticks are coalesced into one and never overlap; an exception in the
    callback is logged and the next tick still runs.
    """

    def __init__(
        self,
        callback: TickCallback,
        tick_seconds: float,
        *,
        misfire_grace_s: float | None = None,
        job_id: str = "circadian-tick",
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._callback = callback
        self._on_error = on_error
        self._tick_seconds = tick_seconds
        self._misfire_grace_s = misfire_grace_s if misfire_grace_s is not None else tick_seconds
        self._job_id = job_id
        self._scheduler: AsyncIOScheduler | None = None

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    async def _tick(self) -> None:
        try:
            result = self._callback()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            if self._on_error is not None:  # the supervisor logs, shows and counts it
                self._on_error(exc)
            else:
                log.exception("event=circadian_tick_failed")

    def start(self) -> None:
        """Start ticking; call from the running event loop."""
        if self._scheduler is not None:
            return
        scheduler = AsyncIOScheduler()
        scheduler.add_job(
            self._tick,
            "interval",
            seconds=self._tick_seconds,
            id=self._job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, round(self._misfire_grace_s)),
        )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
