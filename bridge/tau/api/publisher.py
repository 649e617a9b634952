"""Publishing retained state and discovery, coalesced so storms never block anything.

The store's batches only mark objects dirty; a publish pass scheduled with
`call_soon` runs right after the current message is handled, so state reaches
MQTT within the same loop iteration while a burst of commands still becomes
one message per object.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from tau.colours import COLOUR_KEYS, colour_json
from tau.core.events import ChangeBatch
from tau.core.lights import FixtureState, GroupLight
from tau.core.model import Installation
from tau.core.state import StateStore
from tau.core.takeover import paused
from tau.core.topics import Topics

log = logging.getLogger(__name__)

Publish = Callable[..., bool]

# States, request replies, log entries and switch events go out at QoS 0, as
# Zigbee2MQTT does. A QoS 1 publish makes the broker answer with a 4-byte PUBACK;
# the bridge's kernel delays the TCP ACK for it, and a broker with Nagle on
# (Mosquitto's default) then holds the next command back until that ACK: 20-40 ms
# on every command at a steady rate. Nothing is lost: each state message is the
# complete retained state, and every state is re-published on (re)connect.
STATE_QOS = 0


def stable_json(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def light_payload(
    light: FixtureState | GroupLight,
    circadian: str | None,
    source: str | None,
    paused: list[str] | None = None,
) -> dict[str, Any]:
    """HA JSON-schema light state; `color_temp` is in kelvin as discovery announces."""
    payload: dict[str, Any] = {
        "state": "ON" if light.is_on else "OFF",
        "brightness": light.brightness,
        "color_mode": light.color_mode,
    }
    if light.color_mode == "color_temp" and light.kelvin is not None:
        payload["color_temp"] = light.kelvin
        payload["color_temp_kelvin"] = light.kelvin
    if light.color_mode in COLOUR_KEYS and light.color is not None:
        payload["color"] = colour_json(light.color)
    payload["effect"] = light.effect if light.is_on else None  # null clears it in HA
    if circadian is not None:
        payload["circadian"] = circadian
        # What a manual change took over from the profile (Adaptive Lighting's
        # "manual control"): brightness, colour, both or nothing.
        payload["circadian_paused"] = paused or []
    if source is not None:
        payload["source"] = source
    return payload


# A big group's derived state costs a pass over all its members. When such a group only
# *contains* what changed (a fixture command somewhere below a house-wide group), its
# state is published at most every BIG_GROUP_DELAY_S instead of after every command; a
# command addressed to the group itself is still answered at once.
BIG_GROUP = 200
BIG_GROUP_DELAY_S = 0.1


class StatePublisher:
    """Subscribe it to the batches this bridge speaks for (`Scope.narrowed`); `mine`
    picks this bridge's fixtures when everything is re-published."""

    def __init__(
        self,
        store: StateStore,
        topics: Topics,
        publish: Publish,
        mine: Callable[[Iterable[int]], frozenset[int]] = frozenset,
    ) -> None:
        self._store = store
        self._topics = topics
        self._publish = publish
        self._mine = mine
        self._fixtures: set[int] = set()
        self._groups: set[int] = set()
        self._slow_groups: set[int] = set()
        self._commanded: set[int] = set()
        self._scheduled = False
        self._slow_scheduled = False

    def __call__(self, batch: ChangeBatch) -> None:
        self._fixtures |= batch.fixture_ids
        self._commanded |= batch.commanded_groups
        groups = self._store.installation.groups
        for gid in batch.group_ids:
            group = groups.get(gid)
            big = group is not None and len(group.fixture_ids) > BIG_GROUP
            if big and gid not in batch.commanded_groups:
                self._slow_groups.add(gid)
            else:
                self._groups.add(gid)
        loop = asyncio.get_running_loop()
        if not self._scheduled and (self._fixtures or self._groups):
            self._scheduled = True
            loop.call_soon(self.flush)
        if not self._slow_scheduled and self._slow_groups:
            self._slow_scheduled = True
            loop.call_later(BIG_GROUP_DELAY_S, self._flush_slow)

    def _flush_slow(self) -> None:
        self._slow_scheduled = False
        self._groups |= self._slow_groups
        self._slow_groups = set()
        self.flush()

    def publish_all(self, groups: bool = True) -> None:
        """Every state this bridge speaks for: its fixtures and (`groups`) every group."""
        inst = self._store.installation
        self._fixtures |= self._mine(inst.fixtures)
        if groups:
            self._groups |= set(inst.groups) | self._slow_groups
            self._slow_groups = set()
        self.flush()

    def publish_fixtures(self, fixture_ids: Iterable[int]) -> None:
        self._fixtures |= set(fixture_ids)
        self.flush()

    def flush(self) -> None:
        self._scheduled = False
        fixtures, groups, first = self._fixtures, self._groups, self._commanded
        self._fixtures, self._groups, self._commanded = set(), set(), set()
        self._slow_groups -= groups  # published now: nothing left to catch up on
        inst = self._store.installation
        # A group command's reply is the group's state: it goes ahead of its members'.
        for gid in sorted(groups & first):
            self._send_group(inst, gid)
        for fid in sorted(fixtures):
            fixture = inst.fixtures.get(fid)
            if fixture is not None:
                self._send(self._topics.fixture(fixture.slug), self._fixture_payload(inst, fid))
        for gid in sorted(groups - first):
            self._send_group(inst, gid)

    def _send_group(self, inst: Installation, gid: int) -> None:
        group = inst.groups.get(gid)
        if group is None:
            return
        light = self._store.group_light(gid)
        circadian, paused = None, None
        if group.circadian_profile_id is not None:
            circadian = "ON" if self._store.circadian_switch_on(gid) else "OFF"
            sleep = "ON" if self._store.sleeping(gid) else "OFF"
            self._publish(self._topics.circadian(group.slug), circadian, retain=True, qos=STATE_QOS)
            self._publish(self._topics.sleep(group.slug), sleep, retain=True, qos=STATE_QOS)
            paused = self._group_paused(group.fixture_ids, gid)
        self._send(self._topics.group(group.slug), light_payload(light, circadian, None, paused))

    def _group_paused(self, members: Iterable[int], gid: int) -> list[str]:
        """What is taken over on any member the group's profile governs."""
        found: set[str] = set()
        for fid in members:
            if self._store.profile_group_of(fid) == gid:
                found.update(paused(self._store.fixture(fid)))
        return [a for a in ("brightness", "colour") if a in found]

    def _fixture_payload(self, inst: Installation, fid: int) -> dict[str, Any]:
        state = self._store.fixture(fid)
        circadian = self._store.fixture_circadian(fid)
        if circadian is None:
            return light_payload(state, None, state.source)
        return light_payload(state, "ON" if circadian else "OFF", state.source, paused(state))

    def _send(self, topic: str, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        self._publish(topic, text, retain=True, qos=STATE_QOS)


class DiscoveryPublisher:
    """Keeps HA's retained configs equal to `payloads`, publishing only differences."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._sent: dict[str, str] = {}

    def sync(self, payloads: dict[str, dict[str, Any]], force: bool = False) -> int:
        """Publish new/changed configs, clear vanished ones; returns messages sent."""
        sent = 0
        for topic in sorted(set(self._sent) - set(payloads)):
            if self._publish(topic, b"", retain=True, qos=1):
                sent += 1
                del self._sent[topic]
        for topic, payload in payloads.items():
            if "+" in topic or "#" in topic:
                log.error("event=discovery_topic_invalid topic=%s", topic)
                continue
            text = stable_json(payload)
            changed = force or self._sent.get(topic) != text
            if changed and self._publish(topic, text, retain=True, qos=1):
                self._sent[topic] = text
                sent += 1
        return sent
