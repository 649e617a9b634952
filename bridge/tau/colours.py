"""Home Assistant's colour modes that carry a `color`, in one place: their JSON keys.

A shared leaf (imports nothing of Tau): the command parser, the state publisher, the
database writer and the installation loader all read and write colours this way.
A colour is a tuple in its mode's order: (r, g, b), (r, g, b, w) or (r, g, b, c, w),
`c` the cold white and `w` the (warm) white, 0-255 each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COLOUR_KEYS: dict[str, tuple[str, ...]] = {
    "rgb": ("r", "g", "b"),
    "rgbw": ("r", "g", "b", "w"),
    "rgbww": ("r", "g", "b", "c", "w"),
}
_MODE_OF_LENGTH = {len(keys): mode for mode, keys in COLOUR_KEYS.items()}


def colour_mode_of(color: tuple[int, ...]) -> str:
    """`rgb`, `rgbw` or `rgbww`: what a colour of this length is."""
    return _MODE_OF_LENGTH[len(color)]


def colour_json(color: tuple[int, ...]) -> dict[str, int]:
    """A colour as Home Assistant's JSON schema writes it: {r, g, b[, w] | [, c, w]}."""
    return dict(zip(COLOUR_KEYS[colour_mode_of(color)], color, strict=True))


def colour_from_json(data: Mapping[str, Any]) -> tuple[int, ...]:
    """The tuple of a JSON colour: rgbww when it has `c` and `w`, rgbw with `w` alone."""
    mode = "rgbww" if "c" in data else "rgbw" if "w" in data else "rgb"
    return tuple(int(data[key]) for key in COLOUR_KEYS[mode])
