"""Inbound light commands: Home Assistant JSON schema plus Zigbee2MQTT-style extras.

`parse_light_command` turns a raw MQTT payload into a `LightCommand` or raises
`InvalidCommandError` with a message written for `tau/bridge/log`. It accepts the
plain payloads `ON`, `OFF`, `TOGGLE` and a bare number (brightness 0-255).

`color_temp` is read in the unit the discovery payload announces (kelvin, as
`color_temp_kelvin: true` makes Home Assistant send), but a value below 1000 is
taken as mireds so Zigbee2MQTT-style clients work too: valid mireds are 50..1000
and valid kelvins 1000..20000, and 1000 means the same colour in both units.
"""

from __future__ import annotations

import colorsys
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tau.dmx.effects import EFFECTS, STOP
from tau.errors import InvalidCommandError
from tau.units import MAX_KELVIN, MIN_KELVIN, kelvin_of_mired

MAX_PAYLOAD_BYTES = 64 * 1024

State = Literal["ON", "OFF", "TOGGLE"]


@dataclass(slots=True, frozen=True)
class LightCommand:
    """What a command asks for; every field is optional and None means 'leave as is'."""

    state: State | None = None
    brightness: int | None = None  # absolute, 0-255
    brightness_step: int | None = None  # relative, -255..255
    brightness_move: int | None = None  # units per second; 0 stops a running move
    kelvin: int | None = None
    mired_step: int | None = None  # color_temp_step: positive is warmer
    color: tuple[int, ...] | None = None  # (r, g, b), (r, g, b, w) or (r, g, b, c, w)
    transition_s: float | None = None
    effect: str | None = None  # an effect name, or `none` to stop one explicitly
    effect_seed: int | None = None  # the same seed on every member: flicker in unison

    @property
    def sets_level(self) -> bool:
        """True when the command explicitly chooses brightness (suspends circadian)."""
        return (
            self.brightness is not None
            or self.brightness_step is not None
            or self.brightness_move is not None
        )

    @property
    def sets_colour(self) -> bool:
        return self.kelvin is not None or self.mired_step is not None or self.color is not None


class Colour(BaseModel):
    """A colour as Home Assistant's JSON schema sends it, in commands and stored values:
    `{r, g, b}` (rgb), `{r, g, b, w}` (rgbw), `{r, g, b, c, w}` (rgbww: cold and warm
    white), 0-255 each; or `{h, s}` (hue 0-360, saturation 0-100) or `{x, y}` (CIE 1931),
    which are turned into rgb at full value."""

    model_config = ConfigDict(extra="ignore", strict=True)
    r: int | None = Field(None, ge=0, le=255)
    g: int | None = Field(None, ge=0, le=255)
    b: int | None = Field(None, ge=0, le=255)
    c: int | None = Field(None, ge=0, le=255)
    w: int | None = Field(None, ge=0, le=255)
    h: float | None = Field(None, ge=0, le=360)
    s: float | None = Field(None, ge=0, le=100)
    x: float | None = Field(None, ge=0, le=1)
    y: float | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _one_form(self) -> Colour:
        rgb = [self.r, self.g, self.b]
        if any(v is not None for v in rgb) and None in rgb:
            raise ValueError("an rgb colour needs r, g and b")
        if self.c is not None and self.w is None:
            raise ValueError('"c" (cold white) comes with "w" (warm white): {r, g, b, c, w}')
        if self.w is not None and None in rgb:
            raise ValueError('"w" (white) comes with r, g and b: {r, g, b, w}')
        if None not in rgb:
            return self
        if (self.h is None) != (self.s is None) or (self.x is None) != (self.y is None):
            raise ValueError("give h with s, or x with y")
        if self.h is None and self.x is None:
            raise ValueError("give r, g, b (with w, or c and w), h and s, or x and y")
        return self

    def as_tuple(self) -> tuple[int, ...]:
        """(r, g, b), (r, g, b, w) or (r, g, b, c, w); hs and xy as rgb at full value."""
        if self.r is not None and self.g is not None and self.b is not None:
            rgb = (self.r, self.g, self.b)
            if self.c is not None and self.w is not None:
                return (*rgb, self.c, self.w)
            return rgb if self.w is None else (*rgb, self.w)
        if self.h is not None and self.s is not None:
            rgb_f = colorsys.hsv_to_rgb(self.h / 360.0, self.s / 100.0, 1.0)
        else:  # the validator saw both x and y
            rgb_f = _xy_to_rgb(self.x or 0.0, self.y or 1.0)
        return tuple(round(c * 255) for c in rgb_f)


def _xy_to_rgb(x: float, y: float) -> tuple[float, float, float]:
    """CIE 1931 xy (at full luminance) to sRGB 0-1, the brightest component at 1."""
    big_x, big_z = x / y, (1.0 - x - y) / y
    linear = (
        3.2406 * big_x - 1.5372 - 0.4986 * big_z,
        -0.9689 * big_x + 1.8758 + 0.0415 * big_z,
        0.0557 * big_x - 0.2040 + 1.0570 * big_z,
    )
    top = max(max(linear), 1e-9)
    out = []
    for value in (max(0.0, v / top) for v in linear):
        out.append(12.92 * value if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055)
    return (out[0], out[1], out[2])


class _LightPayload(BaseModel):
    """The JSON body; unknown keys are rejected so typos don't silently do nothing."""

    model_config = ConfigDict(extra="forbid", strict=True)

    state: str | None = None
    brightness: int | None = Field(None, ge=0, le=255)
    brightness_pct: float | None = Field(None, ge=0, le=100)
    brightness_step: int | None = Field(None, ge=-255, le=255)
    brightness_step_pct: float | None = Field(None, ge=-100, le=100)
    brightness_move: int | str | None = None
    color_temp: int | None = Field(None, ge=50, le=MAX_KELVIN)
    color_temp_kelvin: int | None = Field(None, ge=MIN_KELVIN, le=MAX_KELVIN)
    color_temp_step: int | None = Field(None, ge=-1000, le=1000)
    color: Colour | None = None
    transition: float | None = Field(None, ge=0, le=3600)
    color_mode: str | None = None  # HA may echo it; informational only
    effect: str | None = None
    effect_seed: int | None = Field(None, ge=0, le=2**31 - 1)

    @field_validator("transition", "brightness_pct", "brightness_step_pct", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true/false")
        if isinstance(value, int):
            try:
                return float(value)
            except OverflowError:  # an integer beyond any float (JSON allows 4300 digits)
                raise ValueError("must be a finite number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One strict JSON decoder for every payload (json.loads with a hook builds one per call).
_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def check_size(payload: bytes) -> None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidCommandError(
            f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes"
        )


def decode_text(payload: bytes) -> str:
    """The one inbound decoder (with `load_json` for JSON): size limit, strict UTF-8."""
    check_size(payload)
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCommandError("payload is not valid UTF-8") from None


def load_json(payload: bytes) -> Any:
    """Decode a JSON payload strictly (no NaN/Infinity), with user-facing errors."""
    text = decode_text(payload)
    try:
        return _JSON.decode(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidCommandError(f"malformed JSON: {exc}") from None


def parse_light_command(payload: bytes) -> LightCommand:
    """Parse a `/set` payload into a `LightCommand`."""
    text = decode_text(payload).strip()
    upper = text.upper()
    if upper in ("ON", "OFF", "TOGGLE"):
        return LightCommand(state=upper)  # type: ignore[arg-type]
    if not text:
        raise InvalidCommandError("empty payload; send ON, OFF, TOGGLE, a number or JSON")
    if not text.startswith(("{", "[", '"')):
        return _bare_number(text)
    data = load_json(payload)
    if isinstance(data, str) and data.upper() in ("ON", "OFF", "TOGGLE"):
        return LightCommand(state=data.upper())  # type: ignore[arg-type]
    if not isinstance(data, dict):
        raise InvalidCommandError("payload must be a JSON object, ON, OFF, TOGGLE or a number")
    try:
        body = _LightPayload.model_validate(data)
    except ValidationError as exc:
        raise InvalidCommandError("invalid command: " + describe_problems(exc)) from None
    return _to_command(body)


def _bare_number(text: str) -> LightCommand:
    try:
        value = float(text)
    except ValueError:
        raise InvalidCommandError(
            f"unknown payload {text[:40]!r}; send ON, OFF, TOGGLE, a number or JSON"
        ) from None
    if not math.isfinite(value) or not 0 <= value <= 255:
        raise InvalidCommandError(f"brightness {text[:40]} is out of range 0..255")
    level = round(value)
    return LightCommand(state="ON" if level > 0 else "OFF", brightness=level if level else None)


def problems(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """(location, message) of each validation error of a payload model: an unknown key
    is named so, and a validator's own message is kept without pydantic's prefix."""
    found = []
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        found.append((tuple(err["loc"]), msg))
    return found


def describe_problems(
    exc: ValidationError, whole: str = "payload", template: str = "{loc}: {msg}"
) -> str:
    """A payload model's validation errors as one line: `key: problem; ...` (`template`
    places the dotted key and the problem; `whole` names a problem of the whole value)."""
    return "; ".join(
        template.format(loc=".".join(str(p) for p in loc) or whole, msg=msg)
        for loc, msg in problems(exc)
    )


def _state(raw: str | None) -> State | None:
    if raw is None:
        return None
    upper = raw.upper()
    if upper not in ("ON", "OFF", "TOGGLE"):
        raise InvalidCommandError(f"state must be ON, OFF or TOGGLE, got {raw[:20]!r}")
    return upper  # type: ignore[return-value]


def _move(raw: int | str | None) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw.lower() == "stop":
            return 0
        raise InvalidCommandError(f"brightness_move must be a number or 'stop', got {raw[:20]!r}")
    if not -1000 <= raw <= 1000:
        raise InvalidCommandError("brightness_move must be within -1000..1000 units per second")
    return raw


def _kelvin(body: _LightPayload) -> int | None:
    if body.color_temp_kelvin is not None:
        return body.color_temp_kelvin
    if body.color_temp is None:
        return None
    if body.color_temp <= 1000:
        return round(kelvin_of_mired(body.color_temp))
    return body.color_temp


def parse_effect(raw: str | None) -> str | None:
    """An effect name as given in a command or scene: a known effect, `none` (stop), or
    None when absent."""
    if raw is None:
        return None
    name = raw.strip().lower()
    if name in STOP:
        return "none"
    if name not in EFFECTS:
        raise InvalidCommandError(
            f"unknown effect {raw[:40]!r}; known: {', '.join(EFFECTS)} (or none to stop)"
        )
    return name


def _to_command(body: _LightPayload) -> LightCommand:
    brightness = body.brightness
    if body.brightness_pct is not None:
        if brightness is not None:
            raise InvalidCommandError("give brightness or brightness_pct, not both")
        brightness = round(body.brightness_pct * 255 / 100)
    step = body.brightness_step
    if body.brightness_step_pct is not None:
        if step is not None:
            raise InvalidCommandError("give brightness_step or brightness_step_pct, not both")
        step = round(body.brightness_step_pct * 255 / 100)
    kelvin = _kelvin(body)
    if kelvin is not None and body.color is not None:
        raise InvalidCommandError("give a colour temperature or an rgb colour, not both")
    color = body.color.as_tuple() if body.color else None
    effect = parse_effect(body.effect)
    if body.effect_seed is not None and (effect is None or effect in STOP):
        raise InvalidCommandError("effect_seed needs an effect")
    command = LightCommand(
        state=_state(body.state),
        brightness=brightness,
        brightness_step=step,
        brightness_move=_move(body.brightness_move),
        kelvin=kelvin,
        mired_step=body.color_temp_step,
        color=color,
        transition_s=body.transition,
        effect=effect,
        effect_seed=body.effect_seed,
    )
    if command == LightCommand():
        raise InvalidCommandError(
            "command changes nothing; give state, brightness, colour or effect"
        )
    return command
