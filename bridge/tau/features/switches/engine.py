"""Switch presses → light commands and scene recalls; the asyncio timer for raw presses.

`SwitchEngine` turns a switch's actions (see `vocabulary`) into intents and the
intents into `LightCommand`s through the `emit` callback; it never touches state
itself. `PressTimer` fires the press classifiers' deadlines on the event loop.

Raw press/release inputs: a single tap is only known once the double-tap window
has closed, so on a switch that maps `double` to anything it is emitted
`double_tap_ms` after the release. Map `double` to `none` and single taps are
emitted at once on release.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from tau.core.commands import LightCommand
from tau.core.model import Installation, Switch
from tau.core.scenes import scenes_of_group
from tau.errors import InvalidCommandError, UnknownTargetError
from tau.features.switches.classifier import PressClassifier, same_timing
from tau.features.switches.vocabulary import (
    DIM_HIGH,
    DIM_LOW,
    Action,
    EmitFn,
    Target,
    intent_for,
    normalize_action,
    parse_intent,
    validate_switch,
)

log = logging.getLogger(__name__)


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
            if switch is not None and same_timing(old, self._new_classifier(switch)):
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
