"""Home Assistant MQTT discovery payloads, built from the installation model.

Pure functions: `discovery_payloads` returns {config topic: payload dict}. The
publisher compares stable JSON with what it last published, so only changes go
out, and topics that disappear are cleared with an empty retained payload.

Conventions (HA `light.mqtt` JSON schema, checked against HA 2025.x): no legacy
`color_mode`/`color_temp` flags, `color_temp_kelvin: true` with
`min_kelvin`/`max_kelvin`, `default_entity_id` instead of `object_id`, group
lights list member unique ids under `group`.
"""

from __future__ import annotations

import re
from typing import Any

from tau import __version__
from tau.core.lights import group_color_modes, group_kelvin_range
from tau.core.model import Fixture, FixtureModel, Group, Installation, Scene, Switch
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


def unique_id(topics: Topics, kind: str, ident: int, suffix: str = "") -> str:
    return f"tau_{topics.node_id}_{kind}_{ident}{suffix}"


def bridge_device(topics: Topics) -> dict[str, Any]:
    return {
        "identifiers": [f"tau_bridge_{topics.node_id}"],
        "name": "Tau bridge" if topics.base == "tau" else f"Tau bridge ({topics.base})",
        "manufacturer": "Tau",
        "model": "DMX bridge",
        "sw_version": __version__,
    }


def _via(topics: Topics) -> str:
    return f"tau_bridge_{topics.node_id}"


def fixture_device(topics: Topics, fixture: Fixture) -> dict[str, Any]:
    model = fixture.model
    return {
        "identifiers": [unique_id(topics, "fixture", fixture.id)],
        "name": fixture.name,
        "manufacturer": model.manufacturer or "Generic",
        "model": model.model,
        "hw_version": f"universe {fixture.universe}, channel {fixture.start_channel}",
        "via_device": _via(topics),
    }


def group_device(topics: Topics, group: Group) -> dict[str, Any]:
    return {
        "identifiers": [unique_id(topics, "group", group.id)],
        "name": group.name,
        "manufacturer": "Tau",
        "model": "Group",
        "via_device": _via(topics),
    }


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


def fixture_light(topics: Topics, fixture: Fixture) -> dict[str, Any]:
    model: FixtureModel = fixture.model
    return _light(
        topics,
        topics.fixture(fixture.slug),
        unique_id(topics, "fixture", fixture.id),
        fixture.slug,
        list(model.color_modes),
        (model.min_kelvin, model.max_kelvin),
        fixture_device(topics, fixture),
        fixture.universe,
    )


def group_light(topics: Topics, inst: Installation, group: Group) -> dict[str, Any]:
    models = [inst.fixtures[f].model for f in sorted(group.fixture_ids)]
    payload = _light(
        topics,
        topics.group(group.slug),
        unique_id(topics, "group", group.id),
        group.slug,
        group_color_modes(models),
        group_kelvin_range(models),
        group_device(topics, group),
    )
    payload["group"] = [unique_id(topics, "fixture", f) for f in sorted(group.fixture_ids)]
    return payload


def circadian_switch(topics: Topics, group: Group) -> dict[str, Any]:
    state_topic = topics.circadian(group.slug)
    return {
        "name": "Circadian",
        "unique_id": unique_id(topics, "group", group.id, "_circadian"),
        "default_entity_id": f"switch.{entity_id_part(group.slug)}_circadian",
        "state_topic": state_topic,
        "command_topic": f"{state_topic}/set",
        "payload_on": "ON",
        "payload_off": "OFF",
        "icon": "mdi:theme-light-dark",
        "availability": [{"topic": topics.bridge_state}],
        "device": group_device(topics, group),
        "origin": ORIGIN,
    }


def sleep_switch(topics: Topics, group: Group) -> dict[str, Any]:
    """Sleep mode of a group that follows a profile (Adaptive Lighting's sleep mode)."""
    state_topic = topics.sleep(group.slug)
    return {
        "name": "Sleep",
        "unique_id": unique_id(topics, "group", group.id, "_sleep"),
        "default_entity_id": f"switch.{entity_id_part(group.slug)}_sleep",
        "state_topic": state_topic,
        "command_topic": f"{state_topic}/set",
        "payload_on": "ON",
        "payload_off": "OFF",
        "icon": "mdi:sleep",
        "availability": [{"topic": topics.bridge_state}],
        "device": group_device(topics, group),
        "origin": ORIGIN,
    }


def scene_entity(topics: Topics, inst: Installation, scene: Scene) -> dict[str, Any]:
    group = inst.groups.get(scene.group_id) if scene.group_id is not None else None
    return {
        "name": scene.name,
        "unique_id": unique_id(topics, "scene", scene.id),
        "default_entity_id": f"scene.{entity_id_part(scene.slug)}",
        "command_topic": topics.scene_set(scene.slug),
        "payload_on": "ON",
        "availability": [{"topic": topics.bridge_state}],
        "device": group_device(topics, group) if group else bridge_device(topics),
        "origin": ORIGIN,
    }


def switch_device(topics: Topics, switch: Switch) -> dict[str, Any]:
    return {
        "identifiers": [unique_id(topics, "switch", switch.id)],
        "name": switch.name,
        "manufacturer": switch.model.manufacturer or "Generic",
        "model": switch.model.model,
        "via_device": _via(topics),
    }


def switch_payloads(
    topics: Topics, switch: Switch, triggers: TriggerTypes
) -> dict[str, dict[str, Any]]:
    """One device trigger per supported action (discovered up front) and an event entity."""
    event_topic = topics.switch_event(switch.slug)
    device = switch_device(topics, switch)
    out: dict[str, dict[str, Any]] = {}
    for action, trigger_type, subtype in triggers:
        object_id = f"switch_{switch.id}_{re.sub(r'[^a-zA-Z0-9_-]', '_', action)}"
        out[topics.discovery("device_automation", object_id)] = {
            "automation_type": "trigger",
            "topic": event_topic,
            "value_template": "{{ value_json.event_type }}",
            "payload": action,
            "type": trigger_type,
            "subtype": subtype,
            "device": device,
            "origin": ORIGIN,
        }
    out[topics.discovery("event", f"switch_{switch.id}")] = {
        "name": "Action",
        "unique_id": unique_id(topics, "switch", switch.id, "_action"),
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
    for fixture in inst.fixtures.values():
        out[topics.discovery("light", f"fixture_{fixture.id}")] = fixture_light(topics, fixture)
    for group in inst.groups.values():
        out[topics.discovery("light", f"group_{group.id}")] = group_light(topics, inst, group)
        if group.circadian_profile_id is not None:
            out[topics.discovery("switch", f"group_{group.id}_circadian")] = circadian_switch(
                topics, group
            )
            out[topics.discovery("switch", f"group_{group.id}_sleep")] = sleep_switch(topics, group)
    for scene in inst.scenes.values():
        out[topics.discovery("scene", f"scene_{scene.id}")] = scene_entity(topics, inst, scene)
    for switch in inst.switches.values():
        out.update(switch_payloads(topics, switch, trigger_types.get(switch.id, [])))
    return out
