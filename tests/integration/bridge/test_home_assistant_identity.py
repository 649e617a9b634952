"""One installation, its own Home Assistant entities; rooms as suggested areas.

Real bridges (testkit) on the real broker and PostgreSQL, read as Home Assistant reads
them: the retained discovery configs under one discovery prefix.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from testkit.db import sql
from testkit.mqtt import MqttProbe


def _configs(probe: MqttProbe, prefix: str) -> dict[str, dict[str, Any]]:
    return {t: m.json() for t, m in probe.retained(prefix).items()}


def _lights(configs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Light configs by "fixture/<slug>" / "group/<slug>"."""
    return {
        "/".join(c["state_topic"].split("/")[-2:]): c for t, c in configs.items() if "/light/" in t
    }


def _identifiers(configs: dict[str, dict[str, Any]]) -> set[str]:
    ids = {c["unique_id"] for c in configs.values() if "unique_id" in c}
    ids |= {i for c in configs.values() for i in c["device"]["identifiers"]}
    return ids | {
        c["device"]["via_device"] for c in configs.values() if "via_device" in c["device"]
    }


def test_two_installations_on_one_broker_keep_separate_entities(bridge_factory, mqtt_probe) -> None:
    # Home Assistant has one discovery prefix; the same demo home twice (two databases,
    # two base topics) on one broker: the demo next to a home that started from it.
    prefix = f"ha-{uuid.uuid4().hex[:8]}"
    one = bridge_factory(seeds=True, discovery_prefix=prefix)
    two = bridge_factory(seeds=True, discovery_prefix=prefix)
    configs = _configs(mqtt_probe, prefix)
    # each config names its bridge's topics (state, command or trigger topic)
    first, second = (
        {t: c for t, c in configs.items() if f'"{b.base_topic}/' in json.dumps(c)}
        for b in (one, two)
    )
    assert len(first) == len(second) >= 14 + 11  # fixtures and groups, and more
    assert len(configs) == len(first) + len(second)  # no config topic is shared
    assert not set(first) & set(second)
    assert not _identifiers(first) & _identifiers(second)
    # the same fixture in both, two entities and devices
    a = _lights(first)["fixture/kitchen-ceiling"]
    b = _lights(second)["fixture/kitchen-ceiling"]
    assert a["unique_id"] != b["unique_id"]
    assert a["device"]["identifiers"] != b["device"]["identifiers"]
    assert a["device"]["via_device"] != b["device"]["via_device"]
    # the ids come from each database's installation id and the fixture's own uid
    for bridge, light in ((one, a), (two, b)):
        row = sql(
            bridge.database_url,
            "SELECT replace(i.id::text, '-', '') AS installation, "
            "replace(f.uid::text, '-', '') AS uid "
            "FROM installation i, fixtures f WHERE f.slug = 'kitchen-ceiling'",
        )[0]
        assert light["unique_id"] == f"tau_{row['installation'][:12]}_fixture_{row['uid']}"


def test_leftovers_under_the_node_id_are_cleared_at_start(bridge_factory, mqtt_probe) -> None:
    bridge = bridge_factory(seeds=True)
    prefix, node = bridge.discovery_prefix, bridge.base_topic  # the node id is the base topic
    before = _configs(mqtt_probe, prefix)
    assert bridge.topic("fixture", "study-desk") in mqtt_probe.retained(bridge.topic("fixture"))
    removed = next(t for t, c in before.items() if c.get("state_topic", "").endswith("/study-desk"))
    # what an earlier installation on this base topic left, and another bridge's config
    leftover = f"{prefix}/light/{node}/fixture_0123456789abcdef0123456789abcdef/config"
    foreign = f"{prefix}/light/someone-else/fixture_1/config"
    for topic in (leftover, foreign):
        mqtt_probe.publish(topic, json.dumps({"name": "old", "unique_id": topic}), retain=True)
    try:
        assert bridge.terminate() == 0
        # a fixture removed while Tau was stopped
        sql(bridge.database_url, "DELETE FROM fixtures WHERE slug = 'study-desk'")
        mqtt_probe.subscribe(f"{prefix}/#")
        state = bridge.topic("fixture", "study-desk")
        mqtt_probe.subscribe(state)
        mark = mqtt_probe.mark()
        bridge.start()
        bridge.wait_online()
        # cleared with an empty retained payload, before the bridge said `online`
        for topic in (removed, leftover, state):  # its retained state too
            mqtt_probe.wait_for(topic, lambda m: m.payload == b"", timeout=5, after=mark)
        assert state not in mqtt_probe.retained(bridge.topic("fixture"))
        after = _configs(mqtt_probe, prefix)
        assert removed not in after and leftover not in after
        assert foreign in after  # another node id's configs are not Tau's to clear
        assert set(after) - {foreign} == set(before) - {removed}
        cleared = {m.topic for m in mqtt_probe.messages(f"{prefix}/#", after=mark) if not m.payload}
        assert cleared == {removed, leftover}  # nothing of the installation was cleared
    finally:
        mqtt_probe.publish(foreign, b"", retain=True)


def _areas(probe: MqttProbe, prefix: str) -> dict[str, str | None]:
    return {
        k: c["device"].get("suggested_area") for k, c in _lights(_configs(probe, prefix)).items()
    }


def _request(probe: MqttProbe, bridge: Any, name: str, body: dict[str, Any]) -> dict[str, Any]:
    mark = probe.mark()
    probe.publish(bridge.topic("bridge", "request", name), json.dumps(body))
    reply: dict[str, Any] = probe.wait_json(bridge.topic("bridge", "response", name), after=mark)
    assert reply["status"] == "ok", reply
    return reply["data"]


def test_suggested_area_is_the_room_a_fixture_is_in(bridge_factory, mqtt_probe) -> None:
    bridge = bridge_factory(seeds=True)
    prefix = bridge.discovery_prefix
    mqtt_probe.subscribe(bridge.topic("bridge", "response", "#"))
    areas = _areas(mqtt_probe, prefix)
    # the demo home's rooms: a fixture's room, a room's own light; groups above rooms none
    assert areas["fixture/kitchen-ceiling"] == "Kitchen"
    assert areas["fixture/study-desk"] == "Study"
    assert areas["group/kitchen"] == "Kitchen"
    assert areas["group/downstairs"] is None and areas["group/house"] is None
    # Kitchen is no room any more, Downstairs is one: the kitchen is downstairs now
    assert (
        _request(mqtt_probe, bridge, "group/update", {"slug": "kitchen", "room": False})["room"]
        is False
    )
    _request(mqtt_probe, bridge, "group/update", {"slug": "downstairs", "room": True})
    areas = _areas(mqtt_probe, prefix)
    assert areas["fixture/kitchen-ceiling"] == "Downstairs"
    assert areas["group/kitchen"] == "Downstairs" == areas["group/downstairs"]
    assert areas["fixture/dining-pendant"] == "Dining"  # the innermost room wins
    # a change of the room's name is published again
    mark = mqtt_probe.mark()
    mqtt_probe.subscribe(f"{prefix}/light/#")
    _request(mqtt_probe, bridge, "group/rename", {"slug": "downstairs", "name": "Ground floor"})
    mqtt_probe.wait_json(
        f"{prefix}/light/#",
        lambda c: (
            c["device"]["name"] == "Kitchen ceiling"
            and c["device"].get("suggested_area") == "Ground floor"
        ),
        after=mark,
    )
    # a new room by request
    added = _request(
        mqtt_probe, bridge, "group/add", {"name": "Porch", "slug": "porch", "room": True}
    )
    assert added["room"] is True
    assert _areas(mqtt_probe, prefix)["group/porch"] == "Porch"
