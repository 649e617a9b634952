"""Parsing of light command payloads: every accepted form and clear refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tau.core.commands import LightCommand, parse_light_command
from tau.errors import InvalidCommandError


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"ON", LightCommand(state="ON")),
        (b"off", LightCommand(state="OFF")),
        (b" TOGGLE\n", LightCommand(state="TOGGLE")),
        (b"128", LightCommand(state="ON", brightness=128)),
        (b"0", LightCommand(state="OFF")),
        (b'"ON"', LightCommand(state="ON")),
        (b'{"state":"ON","brightness":200}', LightCommand(state="ON", brightness=200)),
        (b'{"brightness_pct":50}', LightCommand(brightness=128)),
        (b'{"color_temp_kelvin":2700}', LightCommand(kelvin=2700)),
        (b'{"color_temp":4000}', LightCommand(kelvin=4000)),
        (b'{"color_temp":370}', LightCommand(kelvin=2703)),  # mireds from Z2M-style clients
        (b'{"color":{"r":255,"g":10,"b":0}}', LightCommand(color=(255, 10, 0))),
        (b'{"state":"ON","transition":2}', LightCommand(state="ON", transition_s=2.0)),
        (b'{"brightness_step":-20}', LightCommand(brightness_step=-20)),
        (b'{"brightness_step_pct":10}', LightCommand(brightness_step=26)),
        (b'{"brightness_move":40}', LightCommand(brightness_move=40)),
        (b'{"brightness_move":"stop"}', LightCommand(brightness_move=0)),
        (b'{"color_temp_step":50}', LightCommand(mired_step=50)),
    ],
)
def test_accepted_payloads(payload: bytes, expected: LightCommand) -> None:
    assert parse_light_command(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty payload"),
        (b"{", "malformed JSON"),
        (b"[1,2]", "must be a JSON object"),
        (b'{"brightness":256}', "brightness"),
        (b'{"brightness":-1}', "brightness"),
        (b'{"brightness":"high"}', "brightness"),
        (b'{"brightness":true}', "brightness"),
        (b'{"brightnes":3}', "unknown key"),
        (b'{"state":"MAYBE"}', "state must be ON, OFF or TOGGLE"),
        (b'{"transition":NaN}', "malformed JSON"),
        (b'{"transition":-1}', "transition"),
        (b'{"color_temp_kelvin":100}', "color_temp_kelvin"),
        (b'{"color":{"r":300,"g":0,"b":0}}', "color.r"),
        (b'{"brightness":10,"brightness_pct":10}', "not both"),
        (b'{"color_temp":3000,"color":{"r":1,"g":2,"b":3}}', "not both"),
        (b'{"brightness_move":"fast"}', "brightness_move"),
        (b"300", "out of range"),
        (b"inf", "out of range"),
        (b"\xff\xfe", "UTF-8"),
        (b"{}", "changes nothing"),
        (b"x" * (64 * 1024 + 1), "limit"),
    ],
)
def test_refused_payloads(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidCommandError, match=reason):
        parse_light_command(payload)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_raise_invalid_command(payload: bytes) -> None:
    try:
        command = parse_light_command(payload)
    except InvalidCommandError as exc:
        message = str(exc)
        command = None
    if command is None:
        assert message
    else:
        assert command != LightCommand()


def test_effects_as_home_assistant_sends_them() -> None:
    command = parse_light_command(b'{"state": "ON", "effect": "Candle"}')
    assert (command.state, command.effect) == ("ON", "candle")
    assert parse_light_command(b'{"effect": "off"}').effect == "none"
    assert parse_light_command(b'{"effect": "rainbow", "effect_seed": 4}').effect_seed == 4
    with pytest.raises(InvalidCommandError, match="unknown effect 'disco'; known: candle"):
        parse_light_command(b'{"effect": "disco"}')
    with pytest.raises(InvalidCommandError, match="effect_seed needs an effect"):
        parse_light_command(b'{"state": "ON", "effect_seed": 4}')
