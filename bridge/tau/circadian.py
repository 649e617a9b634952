"""Circadian profiles: keyframes that follow the clock and the sun, interpolated all day.

The pure core turns a profile's keyframes (PRODUCT.md §2) into targets:
`parse_keyframe` / `validate_profile` check them, `resolve_keyframes` places
them on a local date (sun times from `astral`, cached per date),
`interpolate` blends brightness linearly in time and colour temperature
linearly in mireds, wrapping midnight. `CircadianEngine` answers "what should
this fixture be now" for the state store; `CircadianScheduler` is the thin
APScheduler adapter that calls the store's tick every `tick_seconds`.

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
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from astral import Observer
from astral import sun as astral_sun

from tau.commands import MAX_KELVIN, MIN_KELVIN
from tau.errors import ConfigurationError
from tau.model import CircadianProfile, Installation
from tau.settings import LocationSettings

log = logging.getLogger(__name__)

DAY_S = 86_400
Anchor = Literal["clock", "sunrise", "sunset", "noon"]
_SUN_ANCHOR: dict[str, Anchor] = {"sunrise": "sunrise", "sunset": "sunset", "noon": "noon"}
# Without a sunrise/sunset (polar day or night) those keyframes sit this far from noon.
POLAR_FALLBACK_S = 6 * 3600

_AT = re.compile(
    r"^(?:(?P<clock>\d{1,2}:\d{2})|(?P<sun>sunrise|sunset|noon)(?:(?P<sign>[+-])(?P<off>\d{1,2}:\d{2}))?)$"
)
NO_LOCATION_HINT = "set TAU_LOCATION__LATITUDE, TAU_LOCATION__LONGITUDE and TAU_LOCATION__TIMEZONE"


@dataclass(slots=True, frozen=True)
class Keyframe:
    """One parsed keyframe; `offset_s` is seconds after midnight for `clock`, else
    a signed offset from the sun event."""

    anchor: Anchor
    offset_s: int
    brightness_pct: float
    kelvin: int
    at: str


@dataclass(slots=True, frozen=True)
class CircadianTarget:
    brightness: int  # 0-255, the MQTT scale
    kelvin: int


ResolvedKeyframe = tuple[float, float, float]  # (seconds since local midnight, pct, kelvin)


def _hhmm(text: str, *, max_hours: int) -> int:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours > max_hours or minutes > 59:
        raise ValueError
    return hours * 3600 + minutes * 60


def parse_at(at: str) -> tuple[Anchor, int]:
    """`'06:30'` → ('clock', 23400); `'sunset-01:00'` → ('sunset', -3600)."""
    match = _AT.match(at.strip().lower()) if isinstance(at, str) else None
    try:
        if match is None:
            raise ValueError
        if match["clock"]:
            return "clock", _hhmm(match["clock"], max_hours=23)
        anchor = _SUN_ANCHOR[match["sun"]]
        offset = _hhmm(match["off"], max_hours=23) if match["off"] else 0
        return anchor, -offset if match["sign"] == "-" else offset
    except ValueError:
        raise ValueError(
            f"'at' must be HH:MM (24 h) or sunrise/sunset/noon with an optional ±HH:MM offset, "
            f"got {str(at)[:40]!r}"
        ) from None


def _number(raw: Mapping[str, Any], key: str, low: float, high: float) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key!r} must be a number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{key!r} must be within {low:g}..{high:g}, got {value!r}")
    return float(value)


def parse_keyframe(raw: Any) -> Keyframe:
    """Parse one `{"at", "brightness", "kelvin"}` object; raises ValueError with the reason."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"a keyframe must be an object, got {raw!r}")
    anchor, offset = parse_at(raw.get("at"))  # type: ignore[arg-type]
    brightness = _number(raw, "brightness", 0, 100)
    kelvin = _number(raw, "kelvin", MIN_KELVIN, MAX_KELVIN)
    return Keyframe(anchor, offset, brightness, round(kelvin), str(raw["at"]).strip().lower())


def location_configured(location: LocationSettings | None) -> bool:
    return (
        location is not None
        and location.latitude is not None
        and location.longitude is not None
        and location.timezone is not None
    )


def validate_profile(profile: CircadianProfile, location: LocationSettings | None) -> list[str]:
    """Every problem with a profile, one user-facing line each; empty when usable."""
    problems: list[str] = []
    if not profile.keyframes:
        return [f"profile {profile.name!r} has no keyframes"]
    for index, raw in enumerate(profile.keyframes, 1):
        try:
            frame = parse_keyframe(raw)
        except ValueError as exc:
            problems.append(f"profile {profile.name!r} keyframe {index}: {exc}")
            continue
        if frame.anchor != "clock" and not location_configured(location):
            problems.append(
                f"profile {profile.name!r} uses {frame.at!r} but no location is configured: "
                + NO_LOCATION_HINT
            )
    if location is not None and location.timezone is not None:
        try:
            ZoneInfo(location.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"TAU_LOCATION__TIMEZONE {location.timezone!r} is not a known time zone"
            )
    return problems


def parse_profile(profile: CircadianProfile, location: LocationSettings | None) -> list[Keyframe]:
    problems = validate_profile(profile, location)
    if problems:
        raise ConfigurationError("\n".join(problems))
    return [parse_keyframe(raw) for raw in profile.keyframes]


def local_zone(location: LocationSettings | None) -> tzinfo | None:
    """The configured zone, or None for the host's local time."""
    if location is None or location.timezone is None:
        return None
    return ZoneInfo(location.timezone)


class SunCalendar:
    """Sunrise, solar noon and sunset in local seconds after midnight, cached per date."""

    def __init__(self, location: LocationSettings) -> None:
        lat, lon, zone = location.latitude, location.longitude, location.timezone
        if lat is None or lon is None or zone is None:
            raise ConfigurationError("sun-relative keyframes need a location: " + NO_LOCATION_HINT)
        self._observer = Observer(lat, lon)
        self._zone = ZoneInfo(zone)
        self._cache: dict[date, dict[str, float]] = {}
        self._polar_logged = False

    def times(self, day: date) -> dict[str, float]:
        cached = self._cache.get(day)
        if cached is None:
            if len(self._cache) > 8:
                self._cache.clear()
            cached = self._cache[day] = self._compute(day)
        return cached

    def _compute(self, day: date) -> dict[str, float]:
        midnight = datetime(day.year, day.month, day.day, tzinfo=self._zone)
        noon = astral_sun.noon(self._observer, day, self._zone)
        noon_s = _wall_seconds(noon, midnight)
        result = {"noon": noon_s}
        for name, fallback in (("sunrise", -POLAR_FALLBACK_S), ("sunset", POLAR_FALLBACK_S)):
            try:
                event = getattr(astral_sun, name)(self._observer, day, self._zone)
                result[name] = _wall_seconds(event, midnight)
            except ValueError as exc:  # polar day or night: no such event today
                result[name] = noon_s + fallback
                level = logging.DEBUG if self._polar_logged else logging.WARNING
                log.log(level, "event=circadian_polar date=%s sun=%s using=noon%+dh reason=%r",
                        day, name, fallback // 3600, str(exc))  # fmt: skip
                self._polar_logged = True
        return result


def _wall_seconds(moment: datetime, midnight: datetime) -> float:
    """Local wall-clock seconds of `moment` after `midnight`, wrapped into one day."""
    local = moment.astimezone(midnight.tzinfo)
    days = (local.date() - midnight.date()).days
    seconds = days * DAY_S + local.hour * 3600 + local.minute * 60 + local.second
    return (seconds + local.microsecond / 1e6) % DAY_S


def place_keyframes(
    frames: Iterable[Keyframe], day: date, sun: SunCalendar | None
) -> list[ResolvedKeyframe]:
    """Place keyframes on `day`: sorted (seconds since local midnight, brightness %, kelvin)."""
    out: list[ResolvedKeyframe] = []
    for frame in frames:
        if frame.anchor == "clock":
            seconds = float(frame.offset_s)
        else:
            if sun is None:
                raise ConfigurationError(
                    f"keyframe {frame.at!r} is sun-relative but no location is configured: "
                    + NO_LOCATION_HINT
                )
            seconds = (sun.times(day)[frame.anchor] + frame.offset_s) % DAY_S
        out.append((seconds, frame.brightness_pct, float(frame.kelvin)))
    out.sort(key=lambda k: k[0])
    return out


def resolve_keyframes(
    profile: CircadianProfile, day: date, location: LocationSettings | None
) -> list[ResolvedKeyframe]:
    """A profile's keyframes on a local date, sorted; raises ConfigurationError if invalid."""
    frames = parse_profile(profile, location)
    needs_sun = any(f.anchor != "clock" for f in frames)
    sun = SunCalendar(location) if needs_sun and location is not None else None
    return place_keyframes(frames, day, sun)


def interpolate(keyframes: list[ResolvedKeyframe], seconds: float) -> tuple[float, float]:
    """(brightness %, kelvin) at `seconds`; wraps midnight when outside the keyframes' span.

    Brightness is linear in time, colour temperature linear in mireds (what the eye
    sees as even steps). One keyframe is a constant.
    """
    if not keyframes:
        raise ValueError("no keyframes to interpolate")
    first, last = keyframes[0], keyframes[-1]
    if len(keyframes) == 1:
        return first[1], first[2]
    if seconds < first[0] or seconds >= last[0]:
        before = (last[0] - DAY_S, last[1], last[2]) if seconds < first[0] else last
        after = first if seconds < first[0] else (first[0] + DAY_S, first[1], first[2])
        return _blend(before, after, seconds)
    low, high = 0, len(keyframes) - 1  # invariant: keyframes[low].t <= seconds < keyframes[high].t
    while high - low > 1:
        mid = (low + high) // 2
        if keyframes[mid][0] <= seconds:
            low = mid
        else:
            high = mid
    return _blend(keyframes[low], keyframes[high], seconds)


def _blend(a: ResolvedKeyframe, b: ResolvedKeyframe, seconds: float) -> tuple[float, float]:
    span = b[0] - a[0]
    f = 0.0 if span <= 0 else min(max((seconds - a[0]) / span, 0.0), 1.0)
    brightness = a[1] + (b[1] - a[1]) * f
    mired = 1e6 / a[2] + (1e6 / b[2] - 1e6 / a[2]) * f
    return brightness, 1e6 / mired


def to_target(brightness_pct: float, kelvin: float) -> CircadianTarget:
    return CircadianTarget(round(brightness_pct * 255 / 100), round(kelvin))


def _day_keyframes(
    frames: list[Keyframe], day: date, sun: SunCalendar | None
) -> list[ResolvedKeyframe]:
    """Today's keyframes bracketed by yesterday's last and tomorrow's first, so the
    wrap across midnight uses each day's own sun times and stays continuous."""
    today = place_keyframes(frames, day, sun)
    before = place_keyframes(frames, day - timedelta(days=1), sun)[-1]
    after = place_keyframes(frames, day + timedelta(days=1), sun)[0]
    return [(before[0] - DAY_S, *before[1:]), *today, (after[0] + DAY_S, *after[1:])]


def target_at(
    profile: CircadianProfile, when: datetime, location: LocationSettings | None
) -> CircadianTarget:
    """The profile's target at the aware datetime `when` (one-off; the engine caches)."""
    frames = parse_profile(profile, location)
    needs_sun = any(f.anchor != "clock" for f in frames)
    sun = SunCalendar(location) if needs_sun and location is not None else None
    local = when.astimezone(local_zone(location))
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return to_target(*interpolate(_day_keyframes(frames, local.date(), sun), seconds))


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
            resolved = per_day[profile_id] = _day_keyframes(
                self._frames[profile_id], day, self._sun
            )
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
    ) -> None:
        self._callback = callback
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
        except Exception:
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
