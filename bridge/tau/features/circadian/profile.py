"""Circadian profiles: keyframes that follow the clock and the sun, interpolated all day.

Pure functions on a profile's keyframes (PRODUCT.md §2): `parse_keyframe` /
`validate_profile` check them (each keyframe against the `KeyframeBody` model),
`resolve_keyframes` places them on a local date (sun times from `astral`, cached
per date), `interpolate` blends brightness linearly in time and colour
temperature linearly in mireds, wrapping midnight.
The engine that applies them to fixtures is `tau.features.circadian.engine`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from astral import Observer
from astral import sun as astral_sun
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tau.core.commands import describe_problems
from tau.core.model import CircadianProfile
from tau.errors import ConfigurationError
from tau.settings import LocationSettings
from tau.units import MAX_KELVIN, MIN_KELVIN, blend_kelvin

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


def _parse_at(at: Any) -> tuple[Anchor, int]:
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
            "must be HH:MM (24 h) or sunrise/sunset/noon with an optional ±HH:MM offset, "
            f"got {str(at)[:40]!r}"
        ) from None


def parse_at(at: str) -> tuple[Anchor, int]:
    """`'06:30'` → ('clock', 23400); `'sunset-01:00'` → ('sunset', -3600)."""
    try:
        return _parse_at(at)
    except ValueError as exc:
        raise ValueError(f"'at' {exc}") from None


def _number(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {value!r:.40}")
    if not low <= value <= high:
        raise ValueError(f"must be within {low:g}..{high:g}, got {value!r:.40}")
    return float(value)


class KeyframeBody(BaseModel):
    """One element of a profile's `keyframes`: `{"at", "brightness" (%), "kelvin"}`.

    Other keys are ignored. A missing value is reported as that value being wrong
    (`'kelvin' must be a number, got None`), with every problem of the keyframe.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    at: str = Field(None, validate_default=True)
    brightness: float = Field(None, validate_default=True)
    kelvin: float = Field(None, validate_default=True)

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: Any) -> str:
        _parse_at(value)
        return str(value).strip().lower()

    @field_validator("brightness", mode="before")
    @classmethod
    def _brightness(cls, value: Any) -> float:
        return _number(value, 0, 100)

    @field_validator("kelvin", mode="before")
    @classmethod
    def _kelvin(cls, value: Any) -> float:
        return _number(value, MIN_KELVIN, MAX_KELVIN)


def parse_keyframe(raw: Any) -> Keyframe:
    """Parse one `{"at", "brightness", "kelvin"}` object; raises ValueError with the reasons."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"a keyframe must be an object, got {raw!r}")
    try:
        body = KeyframeBody.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(describe_problems(exc, "keyframe", "'{loc}' {msg}")) from None
    anchor, offset = _parse_at(body.at)
    return Keyframe(anchor, offset, body.brightness, round(body.kelvin), body.at)


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
    return brightness, blend_kelvin(a[2], b[2], f)


def to_target(brightness_pct: float, kelvin: float) -> CircadianTarget:
    return CircadianTarget(round(brightness_pct * 255 / 100), round(kelvin))


def day_keyframes(
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
    return to_target(*interpolate(day_keyframes(frames, local.date(), sun), seconds))
