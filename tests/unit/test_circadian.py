"""Circadian core: keyframe parsing, sun times, interpolation, assignment, engine, scheduler."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral import sun as astral_sun
from hypothesis import given
from hypothesis import strategies as st

from tau.core.model import CircadianProfile, Group, Installation
from tau.errors import ConfigurationError
from tau.features.circadian.engine import CircadianEngine, CircadianScheduler, assign_profiles
from tau.features.circadian.profile import (
    CircadianTarget,
    SunCalendar,
    interpolate,
    parse_at,
    parse_keyframe,
    resolve_keyframes,
    target_at,
    validate_profile,
)
from tau.settings import LocationSettings

UTC_ONLY = LocationSettings(timezone="UTC")
LONDON = LocationSettings(latitude=51.5072, longitude=-0.1276, timezone="Europe/London")
SVALBARD = LocationSettings(latitude=78.22, longitude=15.65, timezone="Arctic/Longyearbyen")
DAY = [
    {"at": "06:00", "brightness": 20, "kelvin": 2700},
    {"at": "12:00", "brightness": 100, "kelvin": 5000},
    {"at": "20:00", "brightness": 40, "kelvin": 2200},
]


def hms(h: int, m: int = 0, s: int = 0) -> int:
    return h * 3600 + m * 60 + s


def mired_mix(k1: float, k2: float, f: float) -> float:
    return 1e6 / (1e6 / k1 + (1e6 / k2 - 1e6 / k1) * f)


def profile(
    keyframes: list[dict[str, object]], pid: int = 1, name: str = "day"
) -> CircadianProfile:
    return CircadianProfile(pid, name, tuple(keyframes))


def group(
    gid: int,
    profile_id: int | None,
    direct: set[int] = frozenset(),  # type: ignore[assignment]
    children: set[int] = frozenset(),  # type: ignore[assignment]
) -> Group:
    return Group(gid, f"g{gid}", f"g{gid}", profile_id, frozenset(direct), frozenset(direct),
                 frozenset(children))  # fmt: skip


def resolved(frames: list[dict[str, object]]) -> list[tuple[float, float, float]]:
    return resolve_keyframes(profile(frames), date(2024, 3, 1), UTC_ONLY)


# --- parsing and validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06:30", ("clock", hms(6, 30))),
        ("0:00", ("clock", 0)),
        ("23:59", ("clock", hms(23, 59))),
        ("sunrise", ("sunrise", 0)),
        ("sunrise+00:30", ("sunrise", 1800)),
        ("Sunset-01:00", ("sunset", -3600)),
        ("noon+02:15", ("noon", hms(2, 15))),
    ],
)
def test_parse_at_accepts_clock_and_sun_times(text: str, expected: tuple[str, int]) -> None:
    assert parse_at(text) == expected


@pytest.mark.parametrize("text", ["24:00", "6:60", "sunrise+1", "dusk", "sunrise+-01:00", "", "6"])
def test_parse_at_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="'at' must be HH:MM"):
        parse_at(text)


def test_validate_profile_names_the_missing_location() -> None:
    daylight = profile(
        [{"at": "sunrise+00:30", "brightness": 100, "kelvin": 5000}], name="daylight"
    )
    assert validate_profile(daylight, None) == [
        "profile 'daylight' uses 'sunrise+00:30' but no location is configured: set "
        "TAU_LOCATION__LATITUDE, TAU_LOCATION__LONGITUDE and TAU_LOCATION__TIMEZONE"
    ]
    assert validate_profile(daylight, UTC_ONLY)  # a timezone alone is not a location
    assert validate_profile(daylight, LONDON) == []


@pytest.mark.parametrize(
    ("frame", "fragment"),
    [
        ({"at": "06:00", "brightness": 101, "kelvin": 2700}, "'brightness' must be within 0..100"),
        ({"at": "06:00", "brightness": -1, "kelvin": 2700}, "'brightness' must be within"),
        ({"at": "06:00", "brightness": 50, "kelvin": 999}, "'kelvin' must be within 1000..20000"),
        ({"at": "06:00", "brightness": 50, "kelvin": 20001}, "'kelvin' must be within"),
        ({"at": "06:00", "brightness": True, "kelvin": 2700}, "'brightness' must be a number"),
        ({"at": "06:00", "kelvin": 2700}, "'brightness' must be a number"),
        ({"at": "25:00", "brightness": 50, "kelvin": 2700}, "'at' must be"),
        ("06:00", "must be an object"),
    ],
)
def test_validate_profile_reports_bad_keyframes(frame: object, fragment: str) -> None:
    problems = validate_profile(CircadianProfile(3, "evening", (frame,)), LONDON)  # type: ignore[arg-type]
    assert len(problems) == 1
    assert problems[0].startswith("profile 'evening' keyframe 1: ")
    assert fragment in problems[0]


def test_a_keyframe_reports_every_problem_it_has_in_one_line() -> None:
    frame = {"at": "dusk", "brightness": "20", "kelvin": 500, "note": "ignored"}
    problems = validate_profile(CircadianProfile(3, "evening", (frame,)), LONDON)
    assert problems == [
        "profile 'evening' keyframe 1: 'at' must be HH:MM (24 h) or sunrise/sunset/noon with "
        "an optional ±HH:MM offset, got 'dusk'; 'brightness' must be a number, got '20'; "
        "'kelvin' must be within 1000..20000, got 500"
    ]


def test_keyframe_body_normalises_at_and_ignores_other_keys() -> None:
    frame = parse_keyframe({"at": " Sunset-01:00 ", "brightness": 40, "kelvin": 2700.4, "x": 1})
    assert (frame.anchor, frame.offset_s, frame.at) == ("sunset", -3600, "sunset-01:00")
    assert (frame.brightness_pct, frame.kelvin) == (40.0, 2700)


def test_validate_profile_rejects_empty_and_unknown_timezone() -> None:
    assert validate_profile(profile([]), None) == ["profile 'day' has no keyframes"]
    problems = validate_profile(profile(DAY), LocationSettings(timezone="Mars/Olympus"))
    assert problems == ["TAU_LOCATION__TIMEZONE 'Mars/Olympus' is not a known time zone"]


# --- interpolation ----------------------------------------------------------------------


def test_before_the_first_keyframe_wraps_from_yesterdays_last() -> None:
    # 20:00 (40 %, 2200 K) → 06:00 next day (20 %, 2700 K) spans 10 h; 03:00 is 7/10 of it.
    brightness, kelvin = interpolate(resolved(DAY), hms(3))
    assert brightness == pytest.approx(40 + (20 - 40) * 0.7)
    assert kelvin == pytest.approx(mired_mix(2200, 2700, 0.7))


def test_exactly_on_a_keyframe() -> None:
    assert interpolate(resolved(DAY), hms(12)) == pytest.approx((100, 5000))
    assert interpolate(resolved(DAY), hms(6)) == pytest.approx((20, 2700))
    assert interpolate(resolved(DAY), hms(20)) == pytest.approx((40, 2200))


def test_between_two_keyframes_brightness_is_linear_in_time() -> None:
    brightness, _ = interpolate(resolved(DAY), hms(7, 30))
    assert brightness == pytest.approx(20 + 80 * 0.25)


def test_kelvin_midpoint_is_the_mired_midpoint() -> None:
    _, kelvin = interpolate(resolved(DAY), hms(9))
    assert kelvin == pytest.approx(1e6 / ((1e6 / 2700 + 1e6 / 5000) / 2))
    assert kelvin < (2700 + 5000) / 2  # mireds favour the warm end, unlike a kelvin average


def test_across_midnight_is_continuous() -> None:
    frames = resolved(DAY)
    just_before = interpolate(frames, hms(23, 59, 59) + 0.999)
    at_midnight = interpolate(frames, 0)
    assert just_before == pytest.approx(at_midnight, abs=1e-3)
    assert interpolate(frames, hms(23)) == pytest.approx(
        (40 - 20 * 0.3, mired_mix(2200, 2700, 0.3))
    )


def test_one_keyframe_is_constant() -> None:
    frames = resolved([{"at": "10:00", "brightness": 55, "kelvin": 3000}])
    for seconds in (0, hms(10), hms(18), hms(23, 59)):
        assert interpolate(frames, seconds) == (55, 3000)


def test_keyframes_in_any_order_are_sorted() -> None:
    assert resolved(list(reversed(DAY))) == resolved(DAY)


@given(
    st.lists(
        st.tuples(st.integers(0, 1439), st.floats(0, 100), st.integers(1000, 20000)),
        min_size=1,
        max_size=8,
    ),
    st.floats(0, 86_399.999),
)
def test_interpolation_stays_within_the_keyframes(
    frames: list[tuple[int, float, int]], seconds: float
) -> None:
    keyframes = sorted((m * 60.0, b, float(k)) for m, b, k in frames)
    brightness, kelvin = interpolate(keyframes, seconds)
    assert min(f[1] for f in frames) - 1e-9 <= brightness <= max(f[1] for f in frames) + 1e-9
    assert min(f[2] for f in frames) - 1e-6 <= kelvin <= max(f[2] for f in frames) + 1e-6


# --- sun-relative keyframes -------------------------------------------------------------


def test_sun_relative_keyframes_match_astral() -> None:
    day = date(2024, 6, 21)
    zone = ZoneInfo("Europe/London")
    observer = Observer(LONDON.latitude, LONDON.longitude)  # type: ignore[arg-type]
    sunrise = astral_sun.sunrise(observer, day, zone)
    sunset = astral_sun.sunset(observer, day, zone)
    frames = [
        {"at": "sunrise+00:30", "brightness": 100, "kelvin": 5000},
        {"at": "sunset-01:00", "brightness": 60, "kelvin": 3000},
        {"at": "23:00", "brightness": 10, "kelvin": 2000},
    ]
    daylight = profile(frames)
    morning = sunrise + timedelta(minutes=30)
    evening = sunset - timedelta(hours=1)
    assert target_at(daylight, morning, LONDON) == CircadianTarget(255, 5000)
    assert target_at(daylight, evening.astimezone(UTC), LONDON) == CircadianTarget(153, 3000)
    halfway = morning + (evening - morning) / 2
    assert target_at(daylight, halfway, LONDON) == CircadianTarget(
        round(80 * 2.55), round(mired_mix(5000, 3000, 0.5))
    )


def test_resolve_keyframes_places_sun_events_on_the_date() -> None:
    frames = [
        {"at": "sunset+01:00", "brightness": 30, "kelvin": 2200},
        {"at": "noon", "brightness": 100, "kelvin": 5500},
        {"at": "07:00", "brightness": 50, "kelvin": 3000},
    ]
    day = date(2024, 12, 21)
    zone = ZoneInfo("Europe/London")
    observer = Observer(LONDON.latitude, LONDON.longitude)  # type: ignore[arg-type]
    noon = astral_sun.noon(observer, day, zone)
    sunset = astral_sun.sunset(observer, day, zone) + timedelta(hours=1)
    placed = resolve_keyframes(profile(frames), day, LONDON)
    assert [k[0] for k in placed] == pytest.approx(
        [hms(7), hms(noon.hour, noon.minute, noon.second) + noon.microsecond / 1e6,
         hms(sunset.hour, sunset.minute, sunset.second) + sunset.microsecond / 1e6]
    )  # fmt: skip
    assert [k[1:] for k in placed] == [(50, 3000), (100, 5500), (30, 2200)]


def test_sun_times_are_recomputed_per_date() -> None:
    sun = SunCalendar(LONDON)
    june, december = sun.times(date(2024, 6, 21)), sun.times(date(2024, 12, 21))
    assert june["sunrise"] < hms(5) < hms(8) < december["sunrise"]
    assert sun.times(date(2024, 6, 21)) is june  # cached


def test_polar_day_falls_back_to_noon_plus_minus_six_hours_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sun = SunCalendar(SVALBARD)
    with caplog.at_level(logging.DEBUG, logger="tau.features.circadian"):
        times = sun.times(date(2024, 6, 21))
        sun.times(date(2024, 6, 22))
    assert times["sunrise"] == pytest.approx(times["noon"] - 6 * 3600)
    assert times["sunset"] == pytest.approx(times["noon"] + 6 * 3600)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "circadian_polar" in warnings[0].getMessage()


def test_target_at_refuses_sun_keyframes_without_location() -> None:
    with pytest.raises(ConfigurationError, match="no location is configured"):
        target_at(
            profile([{"at": "noon", "brightness": 1, "kelvin": 3000}]), datetime.now(UTC), None
        )


# --- profile assignment -----------------------------------------------------------------


def test_nearest_group_with_a_profile_wins() -> None:
    inst = Installation(
        groups={
            1: group(1, 10, direct={2}, children={2}),  # house: profile A
            2: group(2, 20, direct={1}, children={3}),  # floor: profile B
            3: group(3, None, direct={3}),  # room without a profile
        },
        profiles={10: profile(DAY, 10), 20: profile(DAY, 20)},
    )
    assignment, ties = assign_profiles(inst)
    assert assignment == {1: (2, 20), 2: (1, 10), 3: (2, 20)}
    assert ties == []


def test_ties_go_to_the_lowest_group_id_and_are_reported() -> None:
    inst = Installation(
        groups={7: group(7, 20, direct={5}), 4: group(4, 10, direct={5}), 9: group(9, 10, {6})},
        profiles={10: profile(DAY, 10), 20: profile(DAY, 20)},
    )
    assignment, ties = assign_profiles(inst)
    assert assignment[5] == (4, 10)
    assert [(t.fixture_id, t.group_ids) for t in ties] == [(5, (4, 7))]


def test_same_profile_at_equal_distance_is_not_a_conflict() -> None:
    inst = Installation(
        groups={1: group(1, 10, direct={5}), 2: group(2, 10, direct={5})},
        profiles={10: profile(DAY, 10)},
    )
    assert assign_profiles(inst) == ({5: (1, 10)}, [])


def test_unknown_or_excluded_profiles_do_not_count() -> None:
    inst = Installation(
        groups={1: group(1, 10, direct={5}), 2: group(2, 99, children={1})},
        profiles={10: profile(DAY, 10)},
    )
    assert assign_profiles(inst, profile_ids=set())[0] == {}
    assert assign_profiles(inst)[0] == {5: (1, 10)}


# --- engine -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def simple_installation(fixtures_per_group: int = 3, groups: int = 2) -> Installation:
    members = {
        gid: set(range(gid * 1000, gid * 1000 + fixtures_per_group)) for gid in range(1, groups + 1)
    }
    return Installation(
        groups={gid: group(gid, 10 + gid % 3, direct=fids) for gid, fids in members.items()},
        profiles={pid: profile(DAY, pid) for pid in (10, 11, 12)},
    )


def test_tick_plan_skips_inactive_fixtures_and_targets_the_end_of_the_transition() -> None:
    clock = FakeClock(datetime(2024, 3, 1, 5, 59, 30, tzinfo=UTC))
    engine = CircadianEngine(clock, UTC_ONLY, tick_seconds=30)
    engine.set_installation(simple_installation())
    plan = engine.tick_plan(lambda fid: fid != 1001)
    assert [fid for fid, _ in plan] == [1000, 1002, 2000, 2001, 2002]
    assert {t for _, t in plan} == {CircadianTarget(51, 2700)}  # 06:00, not 05:59:30
    assert engine.transition_s == 30
    assert engine.target_for_fixture(1000) != CircadianTarget(51, 2700)  # now, not tick end
    assert engine.target_for_fixture(999) is None
    assert engine.target_for_group(1) == engine.target_for_fixture(1000)
    assert engine.target_for_group(3) is None


def test_engine_rejects_sun_profiles_without_location_and_reports_ties_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inst = Installation(
        groups={1: group(1, 10, direct={1}), 2: group(2, 20, direct={2}), 3: group(3, 30, {2})},
        profiles={
            10: profile([{"at": "sunset", "brightness": 50, "kelvin": 2700}], 10, "sunny"),
            20: profile(DAY, 20),
            30: profile(DAY, 30),
        },
    )
    engine = CircadianEngine(FakeClock(datetime(2024, 3, 1, tzinfo=UTC)), None, 30)
    with caplog.at_level(logging.WARNING, logger="tau.features.circadian"):
        problems = engine.set_installation(inst)
        engine.set_installation(inst)
    assert len(problems) == 1
    assert "profile 'sunny' uses 'sunset'" in problems[0]
    assert engine.target_for_fixture(1) is None
    assert engine.assignment[2] == (2, 20)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("circadian_profile_tie" in m for m in messages) == 1
    assert sum("circadian_profile_rejected" in m for m in messages) == 1


def test_a_simulated_day_is_monotonic_between_keyframes_and_continuous_at_midnight() -> None:
    clock = FakeClock(datetime(2024, 3, 1, 0, 0, tzinfo=UTC))
    engine = CircadianEngine(clock, UTC_ONLY, tick_seconds=30)
    engine.set_installation(simple_installation(1, 1))
    started = time.perf_counter()
    samples: list[tuple[datetime, CircadianTarget]] = []
    for _ in range(2 * 24 * 120):  # two days, every 30 s
        ((_, target),) = engine.tick_plan(lambda _fid: True)
        samples.append((clock.now + timedelta(seconds=30), target))
        clock.now += timedelta(seconds=30)
    elapsed = time.perf_counter() - started
    print(f"simulated two days ({len(samples)} ticks) in {elapsed * 1000:.1f} ms")
    assert elapsed < 2
    for (t0, a), (_, b) in itertools.pairwise(samples):
        hour = t0.hour + t0.minute / 60
        # largest slope: 80 % over 6 h ≈ 0.03 units per 30 s; kelvin 2300 K over 6 h
        assert abs(a.brightness - b.brightness) <= 1
        assert abs(a.kelvin - b.kelvin) <= 15
        if 6 <= hour < 12:
            assert b.brightness >= a.brightness
            assert b.kelvin >= a.kelvin
        elif 12 <= hour < 20:
            assert b.brightness <= a.brightness
            assert b.kelvin <= a.kelvin
    day_one, day_two = samples[: len(samples) // 2], samples[len(samples) // 2 :]
    assert [t for _, t in day_one] == [t for _, t in day_two]  # clock keyframes repeat daily


def test_tick_plan_for_ten_thousand_fixtures_is_fast() -> None:
    clock = FakeClock(datetime(2024, 3, 1, 9, 0, tzinfo=UTC))
    engine = CircadianEngine(clock, LONDON, tick_seconds=30)
    engine.set_installation(simple_installation(fixtures_per_group=1000, groups=10))
    engine.tick_plan(lambda _fid: True)  # warm the per-day cache
    started = time.perf_counter()
    plan = engine.tick_plan(lambda _fid: True)
    elapsed = time.perf_counter() - started
    print(f"tick_plan for {len(plan)} fixtures: {elapsed * 1000:.1f} ms")
    assert len(plan) == 10_000
    assert elapsed < 1


def test_location_timezone_shifts_clock_keyframes() -> None:
    when = datetime(2024, 1, 15, 11, 0, tzinfo=UTC)  # 12:00 in Paris (winter, UTC+1)
    paris = LocationSettings(timezone="Europe/Paris")
    assert target_at(profile(DAY), when, paris) == CircadianTarget(255, 5000)


# --- scheduler --------------------------------------------------------------------------


async def test_scheduler_ticks_with_sync_and_async_callbacks_and_survives_errors() -> None:
    calls: list[str] = []
    ticked = asyncio.Event()

    async def tick() -> None:
        calls.append("async")
        if len(calls) == 1:
            raise RuntimeError("first tick fails")
        if len(calls) >= 3:
            ticked.set()

    scheduler = CircadianScheduler(tick, tick_seconds=0.05)
    assert not scheduler.running
    scheduler.start()
    try:
        await asyncio.wait_for(ticked.wait(), timeout=5)
    finally:
        scheduler.stop()
    assert not scheduler.running

    sync_ticked = asyncio.Event()
    sync_scheduler = CircadianScheduler(sync_ticked.set, tick_seconds=0.05)
    sync_scheduler.start()
    try:
        await asyncio.wait_for(sync_ticked.wait(), timeout=5)
    finally:
        sync_scheduler.stop()


def test_clock_keyframes_follow_the_wall_clock_on_a_dst_day() -> None:
    london = ZoneInfo("Europe/London")
    london_clock = LocationSettings(timezone="Europe/London")
    for day in (date(2024, 3, 31), date(2024, 10, 27)):  # spring forward, fall back
        six = datetime(day.year, day.month, day.day, 6, 0, tzinfo=london)
        assert target_at(profile(DAY), six, london_clock) == CircadianTarget(51, 2700)


def test_an_unused_sun_profile_without_location_does_not_warn_until_a_group_follows_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sunny = profile([{"at": "sunset", "brightness": 50, "kelvin": 2700}], 10, "sunny")
    unused = Installation(groups={1: group(1, None, direct={1})}, profiles={10: sunny})
    engine = CircadianEngine(FakeClock(datetime(2024, 3, 1, tzinfo=UTC)), None, 30)
    with caplog.at_level(logging.DEBUG, logger="tau.features.circadian"):
        assert engine.set_installation(unused)  # still rejected, and said so to the caller
    assert [r.levelno for r in caplog.records if "sunny" in r.getMessage()] == [logging.DEBUG]
    caplog.clear()
    used = Installation(groups={1: group(1, 10, direct={1})}, profiles={10: sunny})
    with caplog.at_level(logging.DEBUG, logger="tau.features.circadian"):
        engine.set_installation(used)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "event=circadian_profile_rejected problem=\"profile 'sunny' uses 'sunset' but no location "
        "is configured: set TAU_LOCATION__LATITUDE, TAU_LOCATION__LONGITUDE and "
        'TAU_LOCATION__TIMEZONE"'
    ]
