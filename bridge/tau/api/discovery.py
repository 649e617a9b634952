"""Home Assistant MQTT discovery payloads, built from the installation model.

Pure functions: `discovery_payloads` returns {config topic: payload dict}. The
publisher compares stable JSON with what it last published, so only changes go
out, and topics that disappear are cleared with an empty retained payload.

Conventions (HA `light.mqtt` JSON schema, checked against HA 2025.x): no legacy
`color_mode`/`color_temp` flags, `color_temp_kelvin: true` with
`min_kelvin`/`max_kelvin`, `default_entity_id` instead of `object_id`, group
lights list member unique ids under `group`.

Identity: unique ids and device identifiers are `tau_<installation>_<kind>_<uid>`, the
installation's id (`installation.id`, shortened) and the object's own uid (never reused
for another object), so two installations on one broker never share an entity and a
rename keeps it. Config topics name the object by its uid too. A device's
`suggested_area` is its room (`tau.core.rooms`).
"""

from __future__ import annotations

import re
from typing import Any

from tau import __version__
from tau.core.lights import group_color_modes, group_kelvin_range
from tau.core.model import Fixture, FixtureModel, Group, Installation, Scene, Switch
from tau.core.rooms import rooms
from tau.core.topics import Topics
from tau.dmx.effects import effects_for

TriggerTypes = list[tuple[str, str, str]]  # (action, type, subtype)

ORIGIN = {
    "name": "Tau",
    "sw_version": __version__,
    "support_url": "https://github.com/tau-lighting/tau",
}


def entity_id_part(slug: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", slug)


Identified = Fixture | Group | Scene | Switch
# Hex digits of the installation id in unique ids: 48 random bits tell installations apart.
INSTALLATION_DIGITS = 12


def object_key(obj: Identified) -> str:
    """The object's never-reused uid (its database id in a model not read from one)."""
    return obj.uid.replace("-", "") or str(obj.id)


def installation_key(inst: Installation) -> str:
    return inst.id.replace("-", "")[:INSTALLATION_DIGITS] or "local"


def unique_id(inst: Installation, kind: str, obj: Identified, suffix: str = "") -> str:
    return f"tau_{installation_key(inst)}_{kind}_{object_key(obj)}{suffix}"


def object_id(kind: str, obj: Identified, suffix: str = "") -> str:
    """The `<object_id>` level of the object's config topic."""
    return f"{kind}_{object_key(obj)}{suffix}"


def _via(inst: Installation) -> str:
    return f"tau_bridge_{installation_key(inst)}"


def _area(device: dict[str, Any], room: Group | None) -> dict[str, Any]:
    if room is not None:
        device["suggested_area"] = room.name
    return device


def bridge_device(topics: Topics, inst: Installation) -> dict[str, Any]:
    return {
        "identifiers": [_via(inst)],
        "name": "Tau bridge" if topics.base == "tau" else f"Tau bridge ({topics.base})",
        "manufacturer": "Tau",
        "model": "DMX bridge",
        "sw_version": __version__,
    }


def fixture_device(inst: Installation, fixture: Fixture, room: Group | None) -> dict[str, Any]:
    model = fixture.model
    device = {
        "identifiers": [unique_id(inst, "fixture", fixture)],
        "name": fixture.name,
        "manufacturer": model.manufacturer or "Generic",
        "model": model.model,
        "hw_version": f"universe {fixture.universe}, channel {fixture.start_channel}",
        "via_device": _via(inst),
    }
    return _area(device, room)


def group_device(inst: Installation, group: Group, room: Group | None) -> dict[str, Any]:
    device = {
        "identifiers": [unique_id(inst, "group", group)],
        "name": group.name,
        "manufacturer": "Tau",
        "model": "Group",
        "via_device": _via(inst),
    }
    return _area(device, room)


def _light(
    topics: Topics,
    state_topic: str,
    uid: str,
    slug: str,
    modes: list[str],
    kelvin_range: tuple[int, int] | None,
    device: dict[str, Any],
    universe: int | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": None,  # the entity takes the device's name
        "unique_id": uid,
        "default_entity_id": f"light.{entity_id_part(slug)}",
        "schema": "json",
        "state_topic": state_topic,
        "command_topic": f"{state_topic}/set",
        "json_attributes_topic": state_topic,
        "availability": [{"topic": topics.bridge_state}],
        "brightness": True,
        "brightness_scale": 255,
        "supported_color_modes": modes,
        "effect": True,
        "effect_list": effects_for(modes),
        "device": device,
        "origin": ORIGIN,
    }
    if universe is not None:
        # A fixture is there while the bridges are and some bridge outputs its universe.
        payload["availability"].append({"topic": topics.universe_state(universe)})
        payload["availability_mode"] = "all"
    if "color_temp" in modes and kelvin_range is not None:
        payload["color_temp_kelvin"] = True
        payload["min_kelvin"], payload["max_kelvin"] = kelvin_range
    return payload


def fixture_light(
    topics: Topics,
    fixture: Fixture,
    inst: Installation | None = None,
    room: Group | None = None,
) -> dict[str, Any]:
    """A fixture's light; `inst` names its installation (a model not read from a
    database has none)."""
    inst = inst if inst is not None else Installation()
    model: FixtureModel = fixture.model
    return _light(
        topics,
        topics.fixture(fixture.slug),
        unique_id(inst, "fixture", fixture),
        fixture.slug,
        list(model.color_modes),
        (model.min_kelvin, model.max_kelvin),
        fixture_device(inst, fixture, room),
        fixture.universe,
    )


def group_light(
    topics: Topics, inst: Installation, group: Group, room: Group | None = None
) -> dict[str, Any]:
    members = [inst.fixtures[f] for f in sorted(group.fixture_ids)]
    payload = _light(
        topics,
        topics.group(group.slug),
        unique_id(inst, "group", group),
        group.slug,
        group_color_modes([f.model for f in members]),
        group_kelvin_range([f.model for f in members]),
        group_device(inst, group, room),
    )
    payload["group"] = [unique_id(inst, "fixture", f) for f in members]
    return payload


def circadian_switch(
    topics: Topics, group: Group, inst: Installation | None = None, room: Group | None = None
) -> dict[str, Any]:
    inst = inst if inst is not None else Installation()
    state_topic = topics.circadian(group.slug)
    return {
        "name": "Circadian",
        "unique_id": unique_id(inst, "group", group, "_circadian"),
        "default_entity_id": f"switch.{entity_id_part(group.slug)}_circadian",
        "state_topic": state_topic,
        "command_topic": f"{state_topic}/set",
        "payload_on": "ON",
        "payload_off": "OFF",
        "icon": "mdi:theme-light-dark",
        "availability": [{"topic": topics.bridge_state}],
        "device": group_device(inst, group, room),
        "origin": ORIGIN,
    }


def sleep_switch(
    topics: Topics, group: Group, inst: Installation | None = None, room: Group | None = None
) -> dict[str, Any]:
    """Sleep mode of a group that follows a profile (Adaptive Lighting's sleep mode)."""
    inst = inst if inst is not None else Installation()
    state_topic = topics.sleep(group.slug)
    return {
        "name": "Sleep",
        "unique_id": unique_id(inst, "group", group, "_sleep"),
        "default_entity_id": f"switch.{entity_id_part(group.slug)}_sleep",
        "state_topic": state_topic,
        "command_topic": f"{state_topic}/set",
        "payload_on": "ON",
        "payload_off": "OFF",
        "icon": "mdi:sleep",
        "availability": [{"topic": topics.bridge_state}],
        "device": group_device(inst, group, room),
        "origin": ORIGIN,
    }


def scene_entity(
    topics: Topics, inst: Installation, scene: Scene, room: Group | None = None
) -> dict[str, Any]:
    group = inst.groups.get(scene.group_id) if scene.group_id is not None else None
    return {
        "name": scene.name,
        "unique_id": unique_id(inst, "scene", scene),
        "default_entity_id": f"scene.{entity_id_part(scene.slug)}",
        "command_topic": topics.scene_set(scene.slug),
        "payload_on": "ON",
        "availability": [{"topic": topics.bridge_state}],
        "device": group_device(inst, group, room) if group else bridge_device(topics, inst),
        "origin": ORIGIN,
    }


def switch_device(inst: Installation, switch: Switch) -> dict[str, Any]:
    return {
        "identifiers": [unique_id(inst, "switch", switch)],
        "name": switch.name,
        "manufacturer": switch.model.manufacturer or "Generic",
        "model": switch.model.model,
        "via_device": _via(inst),
    }


def switch_payloads(
    topics: Topics, switch: Switch, triggers: TriggerTypes, inst: Installation | None = None
) -> dict[str, dict[str, Any]]:
    """One device trigger per supported action (discovered up front) and an event entity."""
    inst = inst if inst is not None else Installation()
    event_topic = topics.switch_event(switch.slug)
    device = switch_device(inst, switch)
    out: dict[str, dict[str, Any]] = {}
    for action, trigger_type, subtype in triggers:
        action_id = object_id("switch", switch, "_" + re.sub(r"[^a-zA-Z0-9_-]", "_", action))
        out[topics.discovery("device_automation", action_id)] = {
            "automation_type": "trigger",
            "topic": event_topic,
            "value_template": "{{ value_json.event_type }}",
            "payload": action,
            "type": trigger_type,
            "subtype": subtype,
            "device": device,
            "origin": ORIGIN,
        }
    out[topics.discovery("event", object_id("switch", switch))] = {
        "name": "Action",
        "unique_id": unique_id(inst, "switch", switch, "_action"),
        "default_entity_id": f"event.{entity_id_part(switch.slug)}_action",
        "state_topic": event_topic,
        "event_types": sorted({a for a, _, _ in triggers}),
        "availability": [{"topic": topics.bridge_state}],
        "device": device,
        "origin": ORIGIN,
    }
    return out


def discovery_payloads(
    topics: Topics,
    inst: Installation,
    trigger_types: dict[int, TriggerTypes],
) -> dict[str, dict[str, Any]]:
    """Every retained config Tau owns for this installation."""
    out: dict[str, dict[str, Any]] = {}
    fixture_rooms, group_rooms = rooms(inst)
    for fixture in inst.fixtures.values():
        out[topics.discovery("light", object_id("fixture", fixture))] = fixture_light(
            topics, fixture, inst, fixture_rooms.get(fixture.id)
        )
    for group in inst.groups.values():
        room = group_rooms.get(group.id)
        out[topics.discovery("light", object_id("group", group))] = group_light(
            topics, inst, group, room
        )
        if group.circadian_profile_id is not None:
            out[topics.discovery("switch", object_id("group", group, "_circadian"))] = (
                circadian_switch(topics, group, inst, room)
            )
            out[topics.discovery("switch", object_id("group", group, "_sleep"))] = sleep_switch(
                topics, group, inst, room
            )
    for scene in inst.scenes.values():
        room = group_rooms.get(scene.group_id) if scene.group_id is not None else None
        out[topics.discovery("scene", object_id("scene", scene))] = scene_entity(
            topics, inst, scene, room
        )
    for switch in inst.switches.values():
        out.update(switch_payloads(topics, switch, trigger_types.get(switch.id, []), inst))
    return out
