"""The universes' bytes and what they are made of: each fixture's patch, level, fade
and effect, rendered into its slots (memoised per model and level).

`Universes` holds what a frame shows; `tau.dmx.render.Renderer` builds on it with the
clock (when frames go out), the outputs (where they go) and the commands. Call every
method from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterable

from tau.dmx.curves import parse_curve
from tau.dmx.drivers.base import SLOTS
from tau.dmx.effects import effect_frame, needs_rgb
from tau.dmx.fades import Fade
from tau.dmx.fixture import render_fixture, unknown_roles
from tau.dmx.level import FULL16, OFF, Level, level16_to_brightness
from tau.dmx.types import LiveLevel, Patch
from tau.units import mired

# The render loop's logger: these records are the renderer's, wherever the code sits.
log = logging.getLogger("tau.dmx.render")

_STEP_8BIT = 32.0  # input units (of 65535) an 8-bit fixture may lag behind a fade
_EFFECT_STEP_MASK = 63  # a brightness effect's level moves in steps of 64 (of 65535)
# Roles whose bytes are not linear in the fade's inputs (kelvin to rgb, cct in kelvin).
_COLOUR_ROLES = frozenset({"red", "green", "blue", "white", "amber", "cct"})


class Universes:
    """Each fixture's patch, level, fade and effect, and the 512 slots of each universe."""

    def __init__(
        self,
        universes: Iterable[int],
        clock: Callable[[], float],
        effect_clock: Callable[[], float],
    ) -> None:
        self._clock = clock
        self._patches: dict[int, Patch] = {}
        self._levels: dict[int, Level] = {}  # where each fixture is (or heads, mid-fade)
        self._fades: dict[int, Fade] = {}
        # Fixtures running an effect: (effect, seed), rendered every frame. Effects run on
        # wall-clock seconds (`effect_clock` at `clock`'s zero), so every universe, and
        # every bridge of an installation, shows a periodic effect in the same phase.
        self._effects: dict[int, tuple[str, int]] = {}
        self._effect_t0 = effect_clock() - clock()
        # Fading fixtures: (when to render next, interval), the interval fixed per fade.
        self._next_render: dict[int, tuple[float, float]] = {}
        self._buffers: dict[int, bytearray] = {u: bytearray(SLOTS) for u in universes}
        self._dirty: set[int] = set()  # fixtures to re-render at the next frame
        # Fixtures changed on a universe without an output here (another bridge sends
        # it): their bytes are rendered when it gets one, or its frame is asked for.
        self._deferred: set[int] = set()
        self._wake = asyncio.Event()  # set when there is something for the loop to do

    # -- the patch -----------------------------------------------------------------

    def set_patch(self, patches: Iterable[Patch]) -> None:
        """Replace the patch: removed or moved fixtures' old slots go to 0, the rest re-render."""
        new = {p.fixture_id: _checked(p) for p in patches}
        for fixture_id, old in self._patches.items():
            if new.get(fixture_id) != old:
                self._clear_slots(old)
        for fixture_id, patch in new.items():
            if self._patches.get(fixture_id) != patch:
                self._dirty.add(fixture_id)
                self._buffers.setdefault(patch.universe, bytearray(SLOTS))
                bad = unknown_roles(patch.channels)
                if bad:
                    log.warning(
                        "fixture %d has channel roles Tau does not know (%s); they stay at 0 "
                        "event=unknown_roles fixture=%d",
                        fixture_id,
                        ", ".join(bad),
                        fixture_id,
                    )
        self._patches = new
        self._effects = {f: e for f, e in self._effects.items() if f in new}
        self._wake.set()

    # -- queries -------------------------------------------------------------------

    def live(self, fixture_id: int) -> LiveLevel | None:
        """The fixture's output right now, mid-fade included; None if never set."""
        if fixture_id not in self._levels:
            return None
        level = self._current(fixture_id, self._clock())
        return LiveLevel(level16_to_brightness(level.level16), level.kelvin, level.rgb)

    def effect(self, fixture_id: int) -> str | None:
        """The effect the fixture is rendering, if any."""
        running = self._effects.get(fixture_id)
        return running[0] if running is not None else None

    def frame(self, universe: int) -> bytes:
        """The universe's current 512 slots (what the next frame sends, if it changed)."""
        now = self._clock()
        for fixture_id in self._deferred_on(universe):
            self._render(self._patches[fixture_id], self._shown(fixture_id, now))
        buffer = self._buffers.get(universe)
        return bytes(buffer) if buffer is not None else bytes(SLOTS)

    # -- rendering -----------------------------------------------------------------

    def _current(self, fixture_id: int, now: float) -> Level:
        fade = self._fades.get(fixture_id)
        if fade is not None:
            return fade.value_at(now)
        return self._levels.get(fixture_id, OFF)

    def _shown(self, fixture_id: int, now: float) -> Level:
        """What the fixture shows at `now`: its level, through its effect if it runs one."""
        level = self._current(fixture_id, now)
        running = self._effects.get(fixture_id)
        if running is None:
            return level
        frame = effect_frame(running[0], now + self._effect_t0, running[1])
        if frame.rgb is not None:
            return Level(round(level.level16 * frame.factor), level.kelvin, frame.rgb)
        # In 1/1024 steps (finer than an 8-bit slot, and than the eye at flicker speed), so
        # the bytes of a flickering level come from the render cache, shared by a model.
        level16 = round(level.level16 * frame.factor) & ~_EFFECT_STEP_MASK
        if level.level16 and not level16:
            level16 = _EFFECT_STEP_MASK + 1  # a flame flickers, it does not go out
        return Level(level16, level.kelvin, level.rgb)

    def _render_interval(self, fixture_id: int, fade: Fade) -> float:
        """How long a fade may go without re-rendering this fixture.

        A fade is linear in time, so the time its input takes to move by a fraction of
        the fixture's output step is known in advance. 8-bit fixtures re-render when the
        input has moved 1/8 of a byte step (32 of 65535; steep curves at most triple
        that, still under one byte), so a 30 s circadian fade over thousands of fixtures
        renders each a few dozen times, not 44 times a second; their bytes still move
        one step at a time, in order. 16-bit fixtures (any `_fine` role) and colour
        fixtures (kelvin to rgb is not linear) render every frame.
        """
        patch = self._patches.get(fixture_id)
        if patch is None or fade.duration_s <= 0:
            return 0.0
        if any(r.endswith("_fine") or r in _COLOUR_ROLES for r in patch.channels):
            return 0.0
        start, end = fade.start, fade.end
        steps = abs(end.level16 - start.level16) / _STEP_8BIT
        if start.kelvin is not None and end.kelvin is not None:
            span = abs(mired(patch.min_kelvin) - mired(patch.max_kelvin)) or 1.0
            moved = abs(mired(end.kelvin) - mired(start.kelvin)) / span
            steps = max(steps, moved * FULL16 / _STEP_8BIT)
        return fade.duration_s / max(steps, 1.0)

    def _deferred_on(self, universe: int) -> set[int]:
        """Take the deferred fixtures patched on `universe` (see `_deferred`)."""
        patches = self._patches
        mine = {
            f
            for f in self._deferred
            if (p := patches.get(f)) is not None and p.universe == universe
        }
        self._deferred -= mine
        return mine

    def _render(self, patch: Patch, level: Level) -> None:
        # A colour effect's colours rarely repeat: rendered directly, they would only
        # flush the cache the group commands and circadian ticks rely on.
        running = self._effects.get(patch.fixture_id)
        if running is not None and needs_rgb(running[0]):
            data = render_fixture(patch, level)
        else:
            data = _rendered(patch, level)
        start = patch.start_channel - 1
        buffer = self._buffers.setdefault(patch.universe, bytearray(SLOTS))
        buffer[start : start + len(data)] = data[: max(0, SLOTS - start)]

    def _clear_slots(self, patch: Patch) -> None:
        buffer = self._buffers.get(patch.universe)
        if buffer is not None:
            start = patch.start_channel - 1
            end = min(SLOTS, start + len(patch.channels))
            buffer[start:end] = bytes(max(0, end - start))


_RENDER_CACHE: dict[tuple[object, ...], bytes] = {}
# Bounded tight: what the cache saves is one frame's many fixtures of one model at one
# level (a group command, a circadian tick, an effect's 1/1024 steps). Fades make a new
# key nearly every render; at 16,384 entries (~4 MiB) the bridge's memory grew for tens
# of minutes under steady load before the first clear (the freed blocks stay mapped);
# 4,096 (~1 MiB) fill within the first minutes and hold an effect's steps of a model.
_RENDER_CACHE_MAX = 4096


def _rendered(patch: Patch, level: Level) -> bytes:
    """`render_fixture`, memoised on what the bytes depend on (not where they go): a
    group command or a circadian tick gives thousands of fixtures of one model the
    same level, so each distinct (model, level) is rendered once."""
    key = (
        patch.channels,
        patch.fixed,
        patch.spans,
        patch.ctc,
        patch.constant_output,
        patch.min_kelvin,
        patch.max_kelvin,
        patch.dimming_curve,
        patch.min_level,
        level.level16,
        level.kelvin,
        level.rgb,
    )
    data = _RENDER_CACHE.get(key)
    if data is None:
        if len(_RENDER_CACHE) >= _RENDER_CACHE_MAX:
            _RENDER_CACHE.clear()
        data = _RENDER_CACHE[key] = render_fixture(patch, level)
    return data


def _checked(patch: Patch) -> Patch:
    """The patch, with an unusable dimming curve replaced by linear (and said so)."""
    try:
        parse_curve(patch.dimming_curve)
    except ValueError as exc:
        log.warning(
            "fixture %d: %s; rendering it linear event=bad_curve fixture=%d",
            patch.fixture_id,
            exc,
            patch.fixture_id,
        )
        return dataclasses.replace(patch, dimming_curve="linear")
    return patch
