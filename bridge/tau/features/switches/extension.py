"""The wall-switch extension: `switch/<slug>/action`, external input topics, device triggers.

Presses become light commands (through the state store, reason `switch`) or
scene recalls, and go back out on `switch/<slug>/event` so Home Assistant's
device triggers see every press.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

from tau.core.commands import LightCommand
from tau.core.events import InstallationReloaded
from tau.core.extension import EXTERNAL, Context, EventHandler, Extension, TriggerTypes
from tau.core.model import Installation
from tau.core.scenes import recall_targets
from tau.core.state import Target
from tau.errors import UnknownTargetError
from tau.features.switches.engine import PressTimer, SwitchEngine
from tau.features.switches.vocabulary import trigger_types

log = logging.getLogger("tau.features")


class SwitchesExtension(Extension):
    name = "switches"
    topics = {"switch/+/action": "switch_action"}

    def __init__(self, ctx: Context) -> None:
        self._store = ctx.store
        self._decide = ctx.decide
        self._publish = ctx.publish
        self._topics = ctx.topics
        self.engine = SwitchEngine(emit=self._emit, recall=self._recall, level_of=self._level_of)
        self._presses = PressTimer(self.engine, self._reemit)
        self._by_input: dict[str, list[int]] = {}
        self._inputs: frozenset[str] = frozenset()

    def events(self) -> Iterable[EventHandler]:
        return [(InstallationReloaded, self._reloaded)]

    def _reloaded(self, event: InstallationReloaded) -> None:
        inst = event.installation
        for problem in self.engine.set_installation(inst):
            log.warning("event=switch_config_problem detail=%r", problem)
        by_input: dict[str, list[int]] = {}
        for switch in inst.switches.values():
            if switch.input_topic:
                by_input.setdefault(switch.input_topic, []).append(switch.id)
        self._by_input, self._inputs = by_input, frozenset(by_input)

    async def start(self) -> None:
        self._presses.start()

    async def stop(self) -> None:
        self._presses.stop()

    def external_topics(self) -> frozenset[str]:
        return self._inputs

    def device_triggers(self, installation: Installation) -> Mapping[int, TriggerTypes]:
        return {sid: trigger_types(s) for sid, s in installation.switches.items()}

    def on_message(self, kind: str, name: str, payload: bytes) -> None:
        if kind == EXTERNAL:
            ids = self._by_input.get(name, [])
        else:
            sid = self._store.installation.switch_by_slug.get(name)
            if sid is None:
                raise UnknownTargetError(f"unknown switch {name!r}")
            ids = [sid]
        for sid in ids:
            self._reemit(sid, self._presses.handle(sid, payload))

    def _reemit(self, switch_id: int, actions: list[str]) -> None:
        switch = self._store.installation.switches.get(switch_id)
        if switch is None:
            return
        for action in actions:
            topic = self._topics.under_base(self._topics.switch_event(switch.slug))
            self._publish(topic, json.dumps({"event_type": action}))

    def _emit(self, target: Target, command: LightCommand) -> None:
        self._decide.command(target, command, reason="switch")

    def _recall(self, scene_id: int) -> None:
        scene = self._store.installation.scenes.get(scene_id)
        if scene is None:
            raise UnknownTargetError(f"unknown scene id {scene_id}")
        self._decide.apply_many(recall_targets(scene), "scene", None)

    def _level_of(self, target: Target) -> tuple[bool, int]:
        kind, ident = target
        if kind == "fixture":
            state = self._store.fixture(ident)
            return state.is_on, state.brightness
        light = self._store.group_light(ident)
        return light.is_on, light.brightness
