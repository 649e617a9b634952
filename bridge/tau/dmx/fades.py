"""Per-fixture fades: brightness on a 16-bit scale, kelvin in mireds, rgb per component.

Pure: a `Fade` is plain data and `value_at(t)` a function of time. Values are
monotonic along the fade, exact at both ends, and never more than half a 16-bit
step from the straight path.
"""

from __future__ import annotations

from dataclasses import dataclass

from tau.dmx.level import Level
from tau.dmx.mixing import kelvin_to_rgb
from tau.units import blend_kelvin

RGB = tuple[float, ...]


@dataclass(slots=True, frozen=True)
class Fade:
    start: Level
    end: Level
    start_t: float
    duration_s: float

    @property
    def end_t(self) -> float:
        return self.start_t + self.duration_s

    def progress(self, t: float) -> float:
        if self.duration_s <= 0 or t >= self.end_t:
            return 1.0
        if t <= self.start_t:
            return 0.0
        return (t - self.start_t) / self.duration_s

    def done(self, t: float) -> bool:
        return self.progress(t) >= 1.0

    def value_at(self, t: float) -> Level:
        p = self.progress(t)
        if p >= 1.0:
            return self.end
        if p <= 0.0:
            return self.start
        s, e = self.start, self.end
        level16 = round(s.level16 + (e.level16 - s.level16) * p)
        return Level(level16, _kelvin_at(s.kelvin, e.kelvin, p), _rgb_at(s, e, p))


def _kelvin_at(start: float | None, end: float | None, p: float) -> float | None:
    if start is None or end is None:
        return end if end is not None else start
    return blend_kelvin(start, end, p)


def _rgb_of(level: Level) -> RGB | None:
    if level.rgb is not None:
        return level.rgb
    if level.kelvin is not None:
        r, g, b = kelvin_to_rgb(level.kelvin)
        return (r * 255.0, g * 255.0, b * 255.0)
    return None


def _rgb_at(s: Level, e: Level, p: float) -> RGB | None:
    if s.rgb is None and e.rgb is None:
        return None
    a, b = _rgb_of(s), _rgb_of(e)
    if a is None or b is None:
        return b if b is not None else a
    if len(a) != len(b):
        # rgb and the white LEDs' own values (rgbw/rgbww): blend the rgb, the whites
        # of the longer one fade from or to 0.
        n = max(len(a), len(b))
        a, b = (*a, *(0.0,) * (n - len(a))), (*b, *(0.0,) * (n - len(b)))
    return tuple(x + (y - x) * p for x, y in zip(a, b, strict=True))


def start_fade(current: Level, target: Level, now: float, duration_s: float) -> Fade:
    """A fade from where the fixture is now to `target`.

    From off, colour jumps straight to the target's (only brightness fades in);
    to off, the colour is kept (the light fades out in the colour it had).
    """
    start, end = current, target
    if current.level16 == 0:
        start = Level(0, target.kelvin, target.rgb)
    elif target.level16 == 0:
        end = Level(
            0,
            current.kelvin if current.kelvin is not None else target.kelvin,
            current.rgb if current.rgb is not None else target.rgb,
        )
    return Fade(start, end, now, max(0.0, duration_s))
