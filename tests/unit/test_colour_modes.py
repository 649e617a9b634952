"""Home Assistant colour modes follow the emitters: rgbw / rgbww where the fixture has
white LEDs, color_temp with the library's kelvin range, rgb otherwise; each mode's
commands, states and discovery (HA `light.mqtt` JSON schema: `color` is {r,g,b},
{r,g,b,w}, {r,g,b,c,w}, {h,s} or {x,y})."""

from __future__ import annotations

import pytest

from tau.api.discovery import fixture_light
from tau.api.publisher import light_payload
from tau.core.commands import parse_light_command
from tau.core.lights import FixtureState, apply_command, group_color_modes
from tau.core.model import Fixture, FixtureModel
from tau.core.topics import Topics
from tau.dmx.types import CtcScale
from tau.errors import InvalidCommandError

RGB = FixtureModel(1, "Acme", "RGB", ("red", "green", "blue"), 2700, 6500, "linear", 0.0)
RGBW = FixtureModel(2, "Acme", "RGBW", ("red", "green", "blue", "white"), 2700, 6500, "linear", 0.0)
RGBWW = FixtureModel(
    3, "Acme", "RGBWW", ("red", "green", "blue", "warm", "cool"), 2700, 6500, "linear", 0.0
)
CTC = FixtureModel(
    4,
    "GLP",
    "Impression FR1 TM",
    ("dimmer", "red", "green", "blue", "white", "cct"),
    2500,
    10000,
    "linear",
    0.0,
    ctc=CtcScale((16, 255), (10000, 2500), 0),
)


def test_colour_modes_follow_the_emitters() -> None:
    assert RGB.color_modes == ("color_temp", "rgb")
    assert RGBW.color_modes == ("color_temp", "rgbw")
    assert RGBWW.color_modes == ("color_temp", "rgbww")
    assert CTC.color_modes == ("color_temp", "rgbw")
    assert group_color_modes([RGB, RGBW, RGBWW]) == ["color_temp", "rgb", "rgbw", "rgbww"]


def test_discovery_announces_the_mode_and_the_librarys_kelvin_range() -> None:
    topics = Topics("tau", "homeassistant")
    payload = fixture_light(topics, Fixture(9, "Wash", "wash", CTC, 1, 1))
    assert payload["supported_color_modes"] == ["color_temp", "rgbw"]
    assert (payload["min_kelvin"], payload["max_kelvin"]) == (2500, 10000)


@pytest.mark.parametrize(
    ("payload", "color"),
    [
        ('{"color": {"r": 255, "g": 0, "b": 0}}', (255, 0, 0)),
        ('{"color": {"r": 255, "g": 0, "b": 0, "w": 128}}', (255, 0, 0, 128)),
        ('{"color": {"r": 1, "g": 2, "b": 3, "c": 40, "w": 50}}', (1, 2, 3, 40, 50)),
        ('{"color": {"h": 0, "s": 100}}', (255, 0, 0)),
        ('{"color": {"h": 240, "s": 50}}', (128, 128, 255)),
        ('{"color": {"x": 0.3127, "y": 0.329}}', (255, 255, 255)),  # D65 white
    ],
)
def test_every_json_schema_colour_is_read(payload: str, color: tuple[int, ...]) -> None:
    assert parse_light_command(payload.encode()).color == color


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"color": {"r": 255, "g": 0}}', "needs r, g and b"),
        ('{"color": {"r": 1, "g": 2, "b": 3, "c": 40}}', '"c" .* comes with "w"'),
        ('{"color": {"w": 40}}', '"w" .* comes with r, g and b'),
        ('{"color": {"h": 40}}', "h with s"),
        ('{"color": {}}', "give r, g, b"),
        ('{"color": {"r": 1, "g": 2, "b": 3, "w": 256}}', "less than or equal to 255"),
    ],
)
def test_bad_colours_are_refused_with_a_reason(payload: str, message: str) -> None:
    with pytest.raises(InvalidCommandError, match=message):
        parse_light_command(payload.encode())


def on(model: FixtureModel, payload: str) -> FixtureState:
    return apply_command(FixtureState(), model, parse_light_command(payload.encode()), True)


def test_each_mode_is_stored_in_the_models_own_format() -> None:
    # An rgbw command on an RGBW fixture drives the white LED directly.
    state = on(RGBW, '{"color": {"r": 255, "g": 0, "b": 0, "w": 128}}')
    assert (state.color_mode, state.color) == ("rgbw", (255, 0, 0, 128))
    # A plain rgb command: the white LED takes its white part, as the renderer does.
    state = on(RGBW, '{"color": {"r": 255, "g": 128, "b": 64}}')
    assert (state.color_mode, state.color) == ("rgbw", (191, 64, 0, 64))
    # On warm + cool LEDs the white part is a neutral (6500 K: all cool) white.
    state = on(RGBWW, '{"color": {"r": 255, "g": 255, "b": 255}}')
    assert (state.color_mode, state.color) == ("rgbww", (0, 0, 0, 255, 0))
    # White LEDs a fixture lacks become rgb light: red + white is pink.
    state = on(RGB, '{"color": {"r": 255, "g": 0, "b": 0, "w": 255}}')
    assert (state.color_mode, state.color) == ("rgb", (255, 128, 128))


def test_the_state_reports_the_colour_in_its_mode() -> None:
    state = on(RGBWW, '{"color": {"r": 1, "g": 2, "b": 3, "c": 40, "w": 50}}')
    payload = light_payload(state, None, None)
    assert payload["color_mode"] == "rgbww"
    assert payload["color"] == {"r": 1, "g": 2, "b": 3, "c": 40, "w": 50}
    state = on(RGBW, '{"color_temp_kelvin": 2700}')
    assert light_payload(state, None, None)["color_mode"] == "color_temp"
