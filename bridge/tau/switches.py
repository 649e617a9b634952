"""Wall switches: normalise presses from any topic, map them to intents, emit light commands.

A press arrives on `tau/switch/<slug>/action` or the switch's `input_topic` in any
of these forms: `single`, `double`, `hold`, `release`, `on`, `off`,
`rotate:<delta>`, raw `press`/`release` (classified here by `PressClassifier`),
a Zigbee2MQTT action string (`toggle`, `brightness_up_click`, `up_hold`, …) or
JSON `{"action": …}` (Zigbee2MQTT's full state JSON works too).

Each action maps to an intent (`toggle`, `on`, `off`, `full`, `dim_start`,
`dim_up`, `dim_down`, `dim_stop`, `step:<n>`, `rotate`, `scene:<slug>`,
`scene_index:<n>`, `none`): the per-switch `mapping` first, then the model's
`action_map`, then defaults per model kind. `SwitchEngine` turns intents into
`LightCommand`s through the `emit` callback; it never touches state itself.

Raw press/release inputs: a single tap is only known once the double-tap window
has closed, so on a switch that maps `double` to anything it is emitted
`double_tap_ms` after the release. Map `double` to `none` and single taps are
emitted at once on release.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tau.commands import MAX_PAYLOAD_BYTES, LightCommand, load_json
from tau.errors import ConfigurationError, InvalidCommandError, UnknownTargetError
from tau.model import Installation, Switch
from tau.scenes import scenes_of_group

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


def validate_switch(switch: Switch) -> list[str]:
    """Configuration problems of one switch, one user-facing line each."""
    problems = []
    for source, table in (
        ("mapping", switch.mapping),
        ("model action_map", switch.model.action_map),
    ):
        for action, intent in table.items():
            try:
                parse_intent(intent)
            except ConfigurationError as exc:
                problems.append(f"switch {switch.slug!r} {source} {action!r}: {exc}")
    if not 200 <= switch.double_tap_ms <= 900:
        problems.append(f"switch {switch.slug!r}: double_tap_ms must be 200..900")
    return problems


# --- payloads -------------------------------------------------------------------------


def _text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidCommandError(
            f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes"
        )
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidCommandError("payload is not valid UTF-8") from None


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
    text = _text(payload)
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


# --- raw press/release classification -------------------------------------------------


class PressClassifier:
    """Turns raw press/release edges into single / double / hold / release events.

    Pure: every call carries its timestamp (monotonic seconds) and returns the
    events due by then. The double-tap window runs from the first release to the
    second press; `hold` is emitted once the button stays down `hold_ms`.
    """

    def __init__(
        self, double_tap_ms: int = 500, hold_ms: int = 500, *, single_immediately: bool = False
    ) -> None:
        self.window_s = min(max(double_tap_ms, 200), 900) / 1000
        self.hold_s = max(hold_ms, 50) / 1000
        self.single_immediately = single_immediately
        self._state: Literal["idle", "pressed", "held", "released"] = "idle"
        self._since = 0.0
        self._taps = 0

    @property
    def pressed(self) -> bool:
        return self._state in ("pressed", "held")

    def next_deadline(self) -> float | None:
        if self._state == "pressed":
            return self._since + self.hold_s
        if self._state == "released":
            return self._since + self.window_s
        return None

    def poll(self, t: float) -> list[str]:
        deadline = self.next_deadline()
        if deadline is None or t < deadline:
            return []
        if self._state == "pressed":
            self._state = "held"
            # A tap followed by a hold: the tap still counts on its own.
            return ["single", "hold"] if self._taps == 2 else ["hold"]
        self._state = "idle"
        return ["single"]

    def press(self, t: float) -> list[str]:
        events = self.poll(t)
        if self._state in ("idle", "released"):
            self._taps = 2 if self._state == "released" else 1
            self._state, self._since = "pressed", t
        return events  # a press while already down is a bounce: ignored

    def release(self, t: float) -> list[str]:
        events = self.poll(t)
        if self._state == "held":
            self._state = "idle"
            events.append("release")
        elif self._state == "pressed":
            if self._taps == 2:
                self._state = "idle"
                events.append("double")
            elif self.single_immediately:
                self._state = "idle"
                events.append("single")
            else:
                self._state, self._since = "released", t
        return events  # a release while up is stray: ignored


# --- engine ---------------------------------------------------------------------------


class SwitchEngine:
    """Switch presses → light commands and scene recalls, through callbacks.

    `emit(target, command)` hands a command to the state store, `recall(scene_id)`
    recalls a scene, `level_of(target)` reads (is_on, brightness 0-255). Times are
    monotonic seconds (`loop.time()`).
    """

    def __init__(
        self,
        emit: EmitFn,
        recall: Callable[[int], None],
        level_of: Callable[[Target], tuple[bool, int]],
    ) -> None:
        self._emit = emit
        self._recall = recall
        self._level_of = level_of
        self._installation = Installation()
        self._classifiers: dict[int, PressClassifier] = {}
        self._dim_up_last: dict[int, bool] = {}

    def set_installation(self, installation: Installation) -> list[str]:
        """Swap in a new model; returns the switches' configuration problems."""
        self._installation = installation
        kept: dict[int, PressClassifier] = {}
        for sid, old in self._classifiers.items():
            switch = installation.switches.get(sid)
            if switch is not None and _same_timing(old, self._new_classifier(switch)):
                kept[sid] = old
        self._classifiers = kept
        return [p for s in installation.switches.values() for p in validate_switch(s)]

    def _new_classifier(self, switch: Switch) -> PressClassifier:
        immediate = intent_for(switch, "double").strip().lower() == "none"
        return PressClassifier(switch.double_tap_ms, switch.hold_ms, single_immediately=immediate)

    def _switch(self, switch_id: int) -> Switch:
        switch = self._installation.switches.get(switch_id)
        if switch is None:
            raise UnknownTargetError(f"switch {switch_id} does not exist")
        return switch

    def handle(self, switch_id: int, payload: bytes, now: float) -> list[str]:
        """Act on one inbound payload; returns the actions to re-emit for Home Assistant."""
        switch = self._switch(switch_id)
        action = normalize_action(payload, switch)
        classifier = self._classifiers.get(switch_id)
        events = [Action(n) for n in classifier.poll(now)] if classifier else []
        if action is not None and (
            action.name == "press"
            or (action.name == "release" and classifier and classifier.pressed)
        ):
            if classifier is None:
                classifier = self._classifiers[switch_id] = self._new_classifier(switch)
            edge = classifier.press if action.name == "press" else classifier.release
            events += [Action(n) for n in edge(now)]
        elif action is not None:
            events.append(action)
        for event in events:
            self._execute(switch, event)
        return [e.name for e in events]

    def poll(self, now: float) -> list[tuple[int, list[str]]]:
        """Emit what the classifiers decided by `now` (single after the window, hold)."""
        out = []
        for sid, classifier in list(self._classifiers.items()):
            names = classifier.poll(now)
            if not names:
                continue
            switch = self._installation.switches.get(sid)
            if switch is None:
                continue
            for name in names:
                try:
                    self._execute(switch, Action(name))
                except Exception:
                    log.exception("event=switch_action_failed switch_id=%d action=%s", sid, name)
            out.append((sid, names))
        return out

    def next_deadline(self) -> float | None:
        deadlines = [d for c in self._classifiers.values() if (d := c.next_deadline()) is not None]
        return min(deadlines, default=None)

    def _target(self, switch: Switch) -> Target | None:
        if switch.target_group_id is not None:
            return ("group", switch.target_group_id)
        if switch.target_fixture_id is not None:
            return ("fixture", switch.target_fixture_id)
        return None

    def _execute(self, switch: Switch, action: Action) -> None:
        verb, arg = parse_intent(intent_for(switch, action.name))
        if verb == "none":
            return
        if verb in ("scene", "scene_index"):
            self._recall(self._scene_id(switch, verb, arg))
            return
        target = self._target(switch)
        if target is None:
            log.debug("event=switch_without_target switch=%s action=%s", switch.slug, action.name)
            return
        command = self._command(switch, target, verb, arg, action)
        if command is not None:
            self._emit(target, command)

    def _command(
        self, switch: Switch, target: Target, verb: str, arg: int | str | None, action: Action
    ) -> LightCommand | None:
        simple = {
            "toggle": LightCommand(state="TOGGLE"),
            "on": LightCommand(state="ON"),
            "off": LightCommand(state="OFF"),
            "full": LightCommand(state="ON", brightness=255),
            "dim_stop": LightCommand(brightness_move=0),
        }
        if verb in simple:
            return simple[verb]
        if verb == "step":
            return self._step(target, int(arg))  # type: ignore[arg-type]
        if verb == "rotate":
            if action.delta is None:
                raise InvalidCommandError(
                    f"switch {switch.slug!r}: {action.name!r} maps to rotate but carries no "
                    "delta; send rotate:<signed integer>"
                )
            return self._step(target, action.delta)
        if verb == "dim_start":
            return self._move(switch, target, self._dim_direction(switch, target))
        return self._move(switch, target, verb == "dim_up")

    def _step(self, target: Target, delta: int) -> LightCommand | None:
        delta = min(max(delta, -255), 255)
        is_on, _ = self._level_of(target)
        if delta == 0 or (delta < 0 and not is_on):
            return None
        return LightCommand(state="ON" if not is_on else None, brightness_step=delta)

    def _dim_direction(self, switch: Switch, target: Target) -> bool:
        is_on, level = self._level_of(target)
        if not is_on or level <= DIM_LOW:
            up = True
        elif level >= DIM_HIGH:
            up = False
        else:
            up = not self._dim_up_last.get(switch.id, False)
        self._dim_up_last[switch.id] = up
        return up

    def _move(self, switch: Switch, target: Target, up: bool) -> LightCommand | None:
        rate = min(max(round(255_000 / max(switch.dim_speed_ms, 1)), 1), 1000)
        is_on, _ = self._level_of(target)
        if not is_on:
            # From off, start the ramp at the bottom rather than the remembered level.
            return (
                LightCommand(state="ON", brightness=1, brightness_move=rate, transition_s=0.0)
                if up
                else None
            )
        return LightCommand(brightness_move=rate if up else -rate)

    def _scene_id(self, switch: Switch, verb: str, arg: int | str | None) -> int:
        inst = self._installation
        if verb == "scene":
            sid = inst.scene_by_slug.get(str(arg))
            if sid is None:
                raise InvalidCommandError(f"switch {switch.slug!r}: no scene {arg!r}")
            return sid
        if switch.target_group_id is None:
            raise InvalidCommandError(
                f"switch {switch.slug!r}: scene_index needs a switch that targets a group"
            )
        scenes = scenes_of_group(inst, switch.target_group_id)
        index = int(arg)  # type: ignore[arg-type]
        if index > len(scenes):
            raise InvalidCommandError(
                f"switch {switch.slug!r}: scene {index} requested but the target group has "
                f"{len(scenes)} scene(s)"
            )
        return scenes[index - 1].id


def _same_timing(a: PressClassifier, b: PressClassifier) -> bool:
    return (a.window_s, a.hold_s, a.single_immediately) == (
        b.window_s,
        b.hold_s,
        b.single_immediately,
    )


class PressTimer:
    """Asyncio driver: fires `SwitchEngine.poll` at the classifiers' deadlines.

    Feed inbound payloads through `handle` so the deadline is rescheduled;
    `on_actions(switch_id, actions)` receives what a deadline produced (single
    after the double-tap window, hold while still pressed) for re-emission.
    """

    def __init__(self, engine: SwitchEngine, on_actions: Callable[[int, list[str]], None]) -> None:
        self._engine = engine
        self._on_actions = on_actions
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None

    def handle(self, switch_id: int, payload: bytes) -> list[str]:
        if self._loop is None:
            raise RuntimeError("PressTimer.start() was not called")
        try:
            return self._engine.handle(switch_id, payload, self._loop.time())
        finally:
            self._reschedule()

    def _reschedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self._engine.next_deadline()
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._fire, deadline)

    def _fire(self, deadline: float) -> None:
        self._timer = None
        if self._loop is None:
            return
        # call_at may run up to one clock tick early; never poll before the deadline.
        for switch_id, actions in self._engine.poll(max(self._loop.time(), deadline)):
            try:
                self._on_actions(switch_id, actions)
            except Exception:
                log.exception("event=switch_reemit_failed switch_id=%d", switch_id)
        self._reschedule()
