"""A fixture's output level as the renderer holds it: 16-bit brightness plus colour."""

from __future__ import annotations

from dataclasses import dataclass

FULL16 = 65535


@dataclass(slots=True, frozen=True)
class Level:
    """Linear (pre-curve) brightness on a 16-bit scale, with an optional colour.

    `kelvin` is the colour temperature for tunable-white (and RGB in colour-temp
    mode); `rgb` is a colour on the MQTT 0-255 scale, (r, g, b) or with the white
    LEDs' own values (r, g, b, w) / (r, g, b, c, w), and wins over `kelvin` on
    colour fixtures.
    """

    level16: int
    kelvin: float | None = None
    rgb: tuple[float, ...] | None = None


OFF = Level(0)


def brightness_to_level16(brightness: float) -> int:
    """MQTT brightness 0-255 to 16-bit: 255 is full, and b * 257 keeps 8-bit bytes exact."""
    return max(0, min(FULL16, round(brightness * 257)))


def level16_to_brightness(level16: int) -> float:
    return level16 / 257
