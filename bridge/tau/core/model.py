"""The installation model held in memory: plain data loaded from PostgreSQL.

Nothing here does I/O. `Installation` is immutable once built; a reload builds a
new one and swaps it in, so readers never see a half-applied change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tau.colours import COLOUR_KEYS
from tau.dmx.colour import colour_format
from tau.dmx.types import CtcScale

COLOR_ROLES = frozenset({"red", "green", "blue"})
WHITE_PAIR_ROLES = frozenset({"warm", "cool"})


@dataclass(slots=True, frozen=True)
class FixtureModel:
    id: int
    manufacturer: str
    model: str
    channels: tuple[str, ...]
    min_kelvin: int
    max_kelvin: int
    dimming_curve: str
    min_level: float  # percent of full output for the lowest non-zero level
    # Per channel, the DMX value a `fixed` channel always sends (0 for the other roles);
    # empty when the model has no fixed channel.
    fixed: tuple[int, ...] = ()
    # Per channel, a dimmer's (value at 0 %, value at 100 %, value when off) where it
    # shares its channel with other functions, else None; empty when no channel has one.
    spans: tuple[tuple[int, int, int] | None, ...] = ()
    # The scale of the `cct` channels as the library gives it (None: 0-255 spans
    # min_kelvin..max_kelvin), and whether mixes keep a constant sum (`tau.dmx.colour`).
    ctc: CtcScale | None = None
    constant_output: bool = False
    # 1-based channel positions of each head of a multi-head mode (empty: one head).
    heads: tuple[tuple[int, ...], ...] = ()

    @property
    def footprint(self) -> int:
        return len(self.channels)

    @property
    def color_modes(self) -> tuple[str, ...]:
        """Home Assistant `supported_color_modes` for this model."""
        roles = set(self.channels)
        if roles >= COLOR_ROLES:
            # Colour fixtures also render colour temperatures (from their whites and CTC,
            # else approximated in RGB), so a white scene can include them. With white
            # LEDs the colour mode says so (`rgbw`, `rgbww`): they can be set directly.
            return ("color_temp", colour_format(roles))
        if roles >= WHITE_PAIR_ROLES or "cct" in roles:
            return ("color_temp",)
        return ("brightness",)

    @property
    def colour_mode(self) -> str | None:
        """The colour mode (`rgb`, `rgbw`, `rgbww`) this model takes colours in, if any."""
        return next((m for m in self.color_modes if m in COLOUR_KEYS), None)

    @property
    def tunable(self) -> bool:
        return "color_temp" in self.color_modes


@dataclass(slots=True, frozen=True)
class Fixture:
    id: int
    name: str
    slug: str
    model: FixtureModel
    universe: int
    start_channel: int
    # Never reused for another fixture (`fixtures.uid`); names it in Home Assistant.
    uid: str = ""


@dataclass(slots=True, frozen=True)
class Group:
    id: int
    name: str
    slug: str
    circadian_profile_id: int | None
    fixture_ids: frozenset[int]  # every fixture, nested groups included
    direct_fixture_ids: frozenset[int]
    child_group_ids: frozenset[int]
    uid: str = ""
    is_room: bool = False  # a room: Home Assistant's suggested area of what it contains


@dataclass(slots=True, frozen=True)
class CircadianProfile:
    id: int
    name: str
    keyframes: tuple[dict[str, Any], ...]
    # What a manual change takes over: `changed` (only the aspect it changed: brightness,
    # or colour) or `all`; handed back at the next off -> on, or after `resume_after_s`.
    take_over: str = "changed"
    resume_after_s: float | None = None
    sleep_brightness_pct: float = 1.0
    sleep_kelvin: int | None = None  # None: each fixture's warmest


class SceneValue(NamedTuple):
    fixture_id: int
    is_on: bool
    brightness: int
    kelvin: int | None
    color: tuple[int, ...] | None
    effect: str | None = None


@dataclass(slots=True, frozen=True)
class Scene:
    id: int
    name: str
    slug: str
    group_id: int | None
    values: tuple[SceneValue, ...]
    uid: str = ""


@dataclass(slots=True, frozen=True)
class SwitchModel:
    id: int
    manufacturer: str
    model: str
    kind: str
    actions: tuple[str, ...]
    action_map: dict[str, str]


@dataclass(slots=True, frozen=True)
class Switch:
    id: int
    name: str
    slug: str
    model: SwitchModel
    target_group_id: int | None
    target_fixture_id: int | None
    input_topic: str | None
    mapping: dict[str, str]
    double_tap_ms: int
    hold_ms: int
    dim_speed_ms: int
    uid: str = ""


@dataclass(slots=True, frozen=True)
class Installation:
    # `installation.id`: this installation among others on one broker (Home Assistant
    # unique ids); empty for a model not read from a database.
    id: str = ""
    fixture_models: dict[int, FixtureModel] = field(default_factory=dict)
    fixtures: dict[int, Fixture] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    profiles: dict[int, CircadianProfile] = field(default_factory=dict)
    scenes: dict[int, Scene] = field(default_factory=dict)
    switch_models: dict[int, SwitchModel] = field(default_factory=dict)
    switches: dict[int, Switch] = field(default_factory=dict)
    # slug indexes, built once per load
    fixture_by_slug: dict[str, int] = field(default_factory=dict)
    group_by_slug: dict[str, int] = field(default_factory=dict)
    scene_by_slug: dict[str, int] = field(default_factory=dict)
    switch_by_slug: dict[str, int] = field(default_factory=dict)
    # fixture id -> ids of every group containing it (nested included)
    groups_of_fixture: dict[int, frozenset[int]] = field(default_factory=dict)

    @property
    def universes(self) -> frozenset[int]:
        return frozenset(f.universe for f in self.fixtures.values())
