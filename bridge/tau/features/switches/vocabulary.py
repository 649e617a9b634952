"""Wall-switch vocabulary: normalise presses from any topic and map them to intents.

A press arrives on `tau/switch/<slug>/action` or the switch's `input_topic` in any
of these forms: `single`, `double`, `hold`, `release`, `on`, `off`,
`rotate:<delta>`, raw `press`/`release` (classified by `classifier.PressClassifier`),
a Zigbee2MQTT action string (`toggle`, `brightness_up_click`, `up_hold`, …) or
JSON `{"action": …}` (Zigbee2MQTT's full state JSON works too).

Each action maps to an intent (`toggle`, `on`, `off`, `full`, `dim_start`,
`dim_up`, `dim_down`, `dim_stop`, `step:<n>`, `rotate`, `scene:<slug>`,
`scene_index:<n>`, `none`): the per-switch `mapping` first, then the model's
`action_map`, then defaults per model kind. `trigger_types` names the Home
Assistant device triggers a switch offers. Pure functions, no state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator

from tau.core.commands import LightCommand, decode_text, load_json, problems
from tau.core.model import Switch
from tau.errors import ConfigurationError, InvalidCommandError

log = logging.getLogger(__name__)

Target = tuple[Literal["fixture", "group"], int]
EmitFn = Callable[[Target, LightCommand], None]

KIND_DEFAULTS: dict[str, dict[str, str]] = {
    "momentary": {"single": "toggle", "double": "full", "hold": "dim_start", "release": "dim_stop"},
    "latching": {"on": "on", "off": "off"},
    "rotary": {"rotate": "rotate", "single": "toggle"},
    "keypad": {},
}
# Zigbee2MQTT vocabulary that means the same on every remote.
GENERIC_INTENTS: dict[str, str] = {
    **KIND_DEFAULTS["momentary"],
    **KIND_DEFAULTS["latching"],
    "toggle": "toggle",
    "rotate": "rotate",
    "brightness_move_up": "dim_up",
    "brightness_move_down": "dim_down",
    "brightness_stop": "dim_stop",
    "brightness_step_up": "rotate",
    "brightness_step_down": "rotate",
}
STEP_ACTIONS = {"brightness_step_up": 1, "brightness_step_down": -1}
DEFAULT_STEP = 32  # brightness units for a click on a dim up/down button
DIM_LOW = 26  # ~10 %: a hold from here (or off) always dims up
DIM_HIGH = 250  # a hold from here always dims down

_ROTATE = re.compile(r"^rotate:([+-]?\d{1,6})$")
_BUTTON = re.compile(r"^(?:button_)?(\d{1,2})$")
_VERBS = {
    "click": "button_short_press",
    "press": "button_short_press",
    "single": "button_short_press",
    "short": "button_short_press",
    "press_release": "button_short_release",
    "short_release": "button_short_release",
    "double": "button_double_press",
    "triple": "button_triple_press",
    "hold": "button_long_press",
    "long": "button_long_press",
    "long_press": "button_long_press",
    "release": "button_long_release",
    "hold_release": "button_long_release",
    "long_release": "button_long_release",
}
_SUBJECT_ACTION = re.compile(r"^(?P<subject>.+?)_(?P<verb>" + "|".join(_VERBS) + r")$")
_SUBJECTS = {
    "on": "turn_on",
    "off": "turn_off",
    "up": "dim_up",
    "brightness_up": "dim_up",
    "dim_up": "dim_up",
    "down": "dim_down",
    "brightness_down": "dim_down",
    "dim_down": "dim_down",
    "left": "left",
    "arrow_left": "left",
    "right": "right",
    "arrow_right": "right",
}
_TRIGGERS: dict[str, tuple[str, str]] = {
    "single": ("button_short_press", "button_1"),
    "double": ("button_double_press", "button_1"),
    "triple": ("button_triple_press", "button_1"),
    "hold": ("button_long_press", "button_1"),
    "release": ("button_long_release", "button_1"),
    "on": ("button_short_press", "turn_on"),
    "off": ("button_short_press", "turn_off"),
    "toggle": ("button_short_press", "toggle"),
    "rotate": ("action", "rotate"),
    "brightness_move_up": ("button_long_press", "dim_up"),
    "brightness_move_down": ("button_long_press", "dim_down"),
    "brightness_step_up": ("button_short_press", "dim_up"),
    "brightness_step_down": ("button_short_press", "dim_down"),
    "brightness_stop": ("button_long_release", "dim"),
}


@dataclass(slots=True, frozen=True)
class Action:
    """A normalised action; `delta` (brightness units) only for rotary steps."""

    name: str
    delta: int | None = None


# --- vocabulary -----------------------------------------------------------------------


def _declared(switch: Switch) -> list[str]:
    names = [*switch.model.actions, *switch.model.action_map, *switch.mapping]
    if "press" in names:  # a raw input: what Home Assistant sees is the classified event
        names = [*KIND_DEFAULTS["momentary"], *names]
    names = [n for n in names if n != "press"]
    return list(dict.fromkeys(n.lower() for n in names))


def supported_actions(switch: Switch) -> list[str]:
    """Every action the switch can emit, in a stable order (model's declared order first)."""
    return _declared(switch) or list(KIND_DEFAULTS.get(switch.model.kind, {}))


def _accepts_raw(switch: Switch) -> bool:
    return switch.model.kind == "momentary" or "press" in switch.model.actions


def accepted_actions(switch: Switch) -> set[str]:
    accepted = set(supported_actions(switch)) | set(KIND_DEFAULTS.get(switch.model.kind, {}))
    if _accepts_raw(switch):
        accepted |= {"press", "release"}
    return accepted


def default_intent(kind: str, action: str) -> str:
    """The intent of an action no mapping mentions: per model kind, then Z2M vocabulary."""
    by_kind = KIND_DEFAULTS.get(kind, {})
    if action in by_kind:
        return by_kind[action]
    if action in GENERIC_INTENTS:
        return GENERIC_INTENTS[action]
    button = _BUTTON.match(action)
    if button:
        return f"scene_index:{int(button[1])}" if kind == "keypad" else "none"
    match = _SUBJECT_ACTION.match(action)
    if match is None:
        return "none"
    subject, verb = _SUBJECTS.get(match["subject"], match["subject"]), _VERBS[match["verb"]]
    return _subject_intent(kind, subject, verb)


def _subject_intent(kind: str, subject: str, trigger_type: str) -> str:
    released = trigger_type == "button_long_release"
    held = trigger_type == "button_long_press"
    short = trigger_type == "button_short_press"
    if subject in ("turn_on", "turn_off", "dim_up", "dim_down"):
        up = subject in ("turn_on", "dim_up")
        if held:
            return "dim_up" if up else "dim_down"
        if released:
            return "dim_stop"
        if short and subject.startswith("turn_"):
            return "on" if up else "off"
        if short:
            return f"step:{DEFAULT_STEP if up else -DEFAULT_STEP}"
        return "none"
    if subject == "toggle":
        return {"button_long_press": "dim_start", "button_long_release": "dim_stop"}.get(
            trigger_type, "toggle" if short else "none"
        )
    button = _BUTTON.match(subject)
    if button and kind == "keypad" and short:
        return f"scene_index:{int(button[1])}"
    return "none"


def intent_for(switch: Switch, action: str) -> str:
    """Per-switch mapping, then the model's action_map, then the defaults."""
    if action in switch.mapping:
        return switch.mapping[action]
    if action in switch.model.action_map:
        return switch.model.action_map[action]
    return default_intent(switch.model.kind, action)


_SIMPLE_INTENTS = frozenset(
    {"toggle", "on", "off", "full", "dim_start", "dim_up", "dim_down", "dim_stop", "rotate", "none"}
)


def parse_intent(intent: str) -> tuple[str, int | str | None]:
    """`'step:-32'` → ('step', -32); raises ConfigurationError for anything else unknown."""
    text = intent.strip().lower()
    if text in _SIMPLE_INTENTS:
        return text, None
    verb, _, arg = text.partition(":")
    if verb == "scene" and arg:
        return verb, arg
    if verb in ("step", "scene_index") and re.fullmatch(r"[+-]?\d{1,4}", arg):
        value = int(arg)
        if verb == "scene_index" and value < 1:
            raise ConfigurationError(f"intent {intent!r}: scene_index counts from 1")
        return verb, value
    raise ConfigurationError(
        f"unknown switch intent {intent[:40]!r}; use toggle, on, off, full, dim_start, dim_up, "
        "dim_down, dim_stop, step:<n>, rotate, scene:<slug>, scene_index:<n> or none"
    )


def _intent(intent: str) -> str:
    try:
        parse_intent(intent)
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    return intent


Intent = Annotated[str, AfterValidator(_intent)]


class SwitchConfig(BaseModel):
    """A switch's configuration as the engine needs it: its `mapping` and its model's
    `action_map` (action -> intent), and the double-tap window."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mapping: dict[str, Intent]
    action_map: dict[str, Intent]
    double_tap_ms: int

    @field_validator("double_tap_ms")
    @classmethod
    def _double_tap(cls, value: int) -> int:
        if not 200 <= value <= 900:
            raise ValueError("must be 200..900")
        return value


_SOURCE = {"mapping": "mapping", "action_map": "model action_map"}


def validate_switch(switch: Switch) -> list[str]:
    """Configuration problems of one switch (`SwitchConfig`), one user-facing line each."""
    try:
        SwitchConfig.model_validate(
            {
                "mapping": switch.mapping,
                "action_map": switch.model.action_map,
                "double_tap_ms": switch.double_tap_ms,
            }
        )
    except ValidationError as exc:
        lines = []
        for loc, msg in problems(exc):
            if len(loc) == 2 and loc[0] in _SOURCE:  # (table, action): an intent
                lines.append(f"switch {switch.slug!r} {_SOURCE[str(loc[0])]} {loc[1]!r}: {msg}")
            else:
                lines.append(f"switch {switch.slug!r}: {'.'.join(map(str, loc))} {msg}")
        return lines
    return []


# --- payloads -------------------------------------------------------------------------


def _from_json(data: Any) -> tuple[str | None, int | None]:
    if isinstance(data, str):
        return data, None
    if not isinstance(data, dict):
        raise InvalidCommandError('switch payload must be an action name or {"action": "..."}')
    if "action" not in data:
        if not data:
            raise InvalidCommandError('JSON switch payload needs an "action" key')
        return None, None  # a device state update (battery, linkquality…) without a press
    action = data["action"]
    if action is None:
        return None, None
    if not isinstance(action, str):
        raise InvalidCommandError(f'"action" must be a string, got {action!r:.40}')
    step = data.get("action_step_size", data.get("delta"))
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise InvalidCommandError(f"step size must be an integer, got {step!r:.40}")
    return action, step


def normalize_action(payload: bytes, switch: Switch) -> Action | None:
    """The action a payload carries, or None for the empty action Z2M sends after a press."""
    text = decode_text(payload).strip()
    delta: int | None = None
    if text.startswith(("{", "[", '"')):
        found, delta = _from_json(load_json(payload))
        if found is None:
            return None
        text = found.strip()
    if not text:
        return None
    name = text.lower()
    rotate = _ROTATE.match(name)
    if rotate:
        name, delta = "rotate", int(rotate[1])
    elif name == "rotate" and delta is not None:
        pass  # {"action": "rotate", "delta": n}: the step came as its own field
    elif name.startswith("rotate"):
        raise InvalidCommandError(f"malformed rotate {text[:40]!r}; send rotate:<signed integer>")
    if name not in accepted_actions(switch):
        known = ", ".join(sorted(accepted_actions(switch))) or "none"
        raise InvalidCommandError(
            f"switch {switch.slug!r} ({switch.model.manufacturer} {switch.model.model}) has no "
            f"action {text[:40]!r}; it accepts: {known}"
        )
    if name in STEP_ACTIONS:
        delta = STEP_ACTIONS[name] * abs(delta if delta is not None else DEFAULT_STEP)
    return Action(name, delta)


# --- Home Assistant device triggers ---------------------------------------------------


def _trigger(action: str) -> tuple[str, str]:
    if action in _TRIGGERS:
        return _TRIGGERS[action]
    button = _BUTTON.match(action)
    if button:
        return "button_short_press", f"button_{int(button[1])}"
    match = _SUBJECT_ACTION.match(action)
    if match:
        subject = _SUBJECTS.get(match["subject"], match["subject"])
        numbered = _BUTTON.match(subject)
        return _VERBS[match["verb"]], f"button_{int(numbered[1])}" if numbered else subject
    return "action", action


def trigger_types(switch: Switch) -> list[tuple[str, str, str]]:
    """(action, type, subtype) for every action the switch supports, for discovery up front.

    Types and subtypes follow Home Assistant's device-trigger vocabulary; a pair
    already taken (HA requires them unique per device) falls back to
    ('action', <action>), as Zigbee2MQTT does.
    """
    used: set[tuple[str, str]] = set()
    out = []
    for action in supported_actions(switch):
        pair = _trigger(action)
        if pair in used:
            pair = ("action", action)
        used.add(pair)
        out.append((action, *pair))
    return out
