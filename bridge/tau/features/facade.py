"""Features that produce commands: circadian profiles, wall switches, scenes.

Each feature reads the installation and the store and asks the store for
changes; none of them touches DMX, SQL or MQTT. Everything they need is given
at construction: the store, the circadian engine and clock the store also
consults, and `publish_event(switch_slug, payload)` for switch presses (the API
layer decides the topic and QoS).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tau.core.commands import LightCommand, load_json
from tau.core.model import Installation
from tau.core.state import StateStore, Target
from tau.errors import InvalidCommandError, UnknownTargetError
from tau.features.circadian.engine import CircadianClock, CircadianEngine, CircadianScheduler
from tau.features.scenes import recall_targets
from tau.features.switches.engine import PressTimer, SwitchEngine
from tau.features.switches.vocabulary import trigger_types
from tau.settings import Settings

log = logging.getLogger("tau.features")

TriggerTypes = list[tuple[str, str, str]]  # (action, type, subtype)


class Features:
    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        circadian: CircadianEngine,
        clock: CircadianClock,
        publish_event: Callable[[str, str], None],
    ) -> None:
        self._settings = settings
        self._store = store
        self._publish_event = publish_event
        self._clock = clock
        self.circadian = circadian
        self._scheduler = CircadianScheduler(self.tick, settings.circadian.tick_seconds)
        self.switches = SwitchEngine(emit=self._emit, recall=self.recall, level_of=self._level_of)
        self._presses = PressTimer(self.switches, self._reemit)
        self._input_topics: frozenset[str] = frozenset()
        self._switch_by_input: dict[str, list[int]] = {}
        self.last_tick_s = 0.0

    # ------------------------------------------------------------- lifecycle
    def set_installation(self, inst: Installation) -> None:
        self.circadian.set_installation(inst)  # logs each problem once by itself
        for problem in self.switches.set_installation(inst):
            log.warning("event=switch_config_problem detail=%r", problem)
        by_input: dict[str, list[int]] = {}
        for switch in inst.switches.values():
            if switch.input_topic:
                by_input.setdefault(switch.input_topic, []).append(switch.id)
        self._switch_by_input = by_input
        self._input_topics = frozenset(by_input)

    async def start(self) -> None:
        self._presses.start()
        self._scheduler.start()

    async def stop(self) -> None:
        self._scheduler.stop()
        self._presses.stop()

    # ------------------------------------------------------------- circadian
    def now(self) -> datetime:
        """The circadian clock's time (real unless set through `set_clock`)."""
        return self._clock.now()

    def set_clock(self, when: datetime | None) -> None:
        self._clock.set(when)

    def tick(self) -> None:
        """One circadian tick: move every active fixture toward the profile."""
        started = time.perf_counter()
        timeout = self._settings.circadian.suspend_timeout_s
        if timeout is not None:
            self._store.expire_suspensions(timeout)
        plan = self.circadian.tick_plan(self._store.circadian_active)
        if plan:
            self._store.apply_circadian(
                ((fid, t.brightness, t.kelvin) for fid, t in plan), self.circadian.transition_s
            )
        self.last_tick_s = time.perf_counter() - started

    def circadian_set(self, slug: str, payload: bytes) -> None:
        gid = self._store.installation.group_by_slug.get(slug)
        if gid is None:
            raise UnknownTargetError(f"unknown group {slug!r}")
        if self._store.installation.groups[gid].circadian_profile_id is None:
            raise InvalidCommandError(f"group {slug!r} has no circadian profile")
        text = payload.decode("utf-8", "replace").strip().upper()
        if text not in ("ON", "OFF"):
            raise InvalidCommandError(f"circadian payload must be ON or OFF, got {text[:20]!r}")
        self._store.set_circadian(gid, text == "ON")

    # --------------------------------------------------------------- scenes
    def scene_set(self, slug: str, payload: bytes) -> None:
        sid = self._store.installation.scene_by_slug.get(slug)
        if sid is None:
            raise UnknownTargetError(f"unknown scene {slug!r}")
        text = payload.decode("utf-8", "replace").strip()
        transition: float | None = None
        if text.startswith("{"):
            data = load_json(payload)
            transition = _scene_transition(data)
        elif text.upper() != "ON":
            raise InvalidCommandError(f"scene payload must be ON, got {text[:20]!r}")
        self.recall(sid, transition)

    def recall(self, scene_id: int, transition_s: float | None = None) -> None:
        scene = self._store.installation.scenes.get(scene_id)
        if scene is None:
            raise UnknownTargetError(f"unknown scene id {scene_id}")
        self._store.apply_many(recall_targets(scene), "scene", transition_s)

    # ------------------------------------------------------------- switches
    def input_topics(self) -> frozenset[str]:
        return self._input_topics

    def trigger_types(self, inst: Installation) -> dict[int, TriggerTypes]:
        return {sid: trigger_types(s) for sid, s in inst.switches.items()}

    def switch_action(self, slug: str | None, input_topic: str | None, payload: bytes) -> None:
        inst = self._store.installation
        if slug is not None:
            sid = inst.switch_by_slug.get(slug)
            if sid is None:
                raise UnknownTargetError(f"unknown switch {slug!r}")
            ids = [sid]
        else:
            ids = self._switch_by_input.get(input_topic or "", [])
        for sid in ids:
            self._reemit(sid, self._presses.handle(sid, payload))

    def _reemit(self, switch_id: int, actions: list[str]) -> None:
        """Presses go back out as events, so HA device triggers see every press."""
        switch = self._store.installation.switches.get(switch_id)
        if switch is None:
            return
        for action in actions:
            self._publish_event(switch.slug, json.dumps({"event_type": action}))

    def _emit(self, target: Target, command: LightCommand) -> None:
        self._store.command(target, command, reason="switch")

    def _level_of(self, target: Target) -> tuple[bool, int]:
        kind, ident = target
        if kind == "fixture":
            state = self._store.fixture(ident)
            return state.is_on, state.brightness
        light = self._store.group_light(ident)
        return light.is_on, light.brightness


def _scene_transition(data: Any) -> float | None:
    if not isinstance(data, dict) or set(data) - {"state", "transition"}:
        raise InvalidCommandError('scene payload must be ON or {"state": "ON", "transition": s}')
    if data.get("state", "ON") != "ON":
        raise InvalidCommandError("a scene can only be recalled (state ON)")
    transition = data.get("transition")
    if transition is None:
        return None
    if isinstance(transition, bool) or not isinstance(transition, int | float):
        raise InvalidCommandError("transition must be a number of seconds")
    if not 0 <= transition <= 3600:
        raise InvalidCommandError("transition must be within 0..3600 seconds")
    return float(transition)
