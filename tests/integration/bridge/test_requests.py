"""Bridge requests: managing the installation over MQTT, as a dashboard would."""

from __future__ import annotations

import pytest
from testkit.bridge import request
from testkit.db import object_key, sql


@pytest.fixture
def home(bridge_factory, mqtt_probe):
    bridge = bridge_factory(seeds=True, default_transition=0)
    mqtt_probe.subscribe(bridge.topic("#"))
    mqtt_probe.subscribe(f"{bridge.discovery_prefix}/#")
    return bridge


def test_health_check(home, mqtt_probe) -> None:
    reply = request(mqtt_probe, home, "health_check", {})
    assert reply["status"] == "ok"
    assert reply["data"]["healthy"] is True
    assert reply["data"]["database"]["status"] == "ok"
    assert reply["data"]["node"]["leader"] is True  # a bridge alone leads


def test_fixture_lifecycle(home, mqtt_probe) -> None:
    model = sql(
        home.database_url,
        "SELECT manufacturer, model FROM fixture_models "
        "WHERE channels = '[\"dimmer\"]'::jsonb LIMIT 1",
    )[0]
    reply = request(
        mqtt_probe,
        home,
        "fixture/add",
        {
            "name": "Porch light",
            "slug": "porch",
            "model": f"{model['manufacturer']} {model['model']}",
            "universe": 2,
            "start_channel": 200,
        },
    )
    assert reply["status"] == "ok", reply
    fid = reply["data"]["id"]
    key = object_key(home.database_url, "fixtures", fid)
    mqtt_probe.wait_json(f"{home.discovery_prefix}/light/+/fixture_{key}/config", timeout=3)
    # usable at once: the response comes after the reload
    mqtt_probe.publish(home.topic("fixture", "porch", "set"), "ON")
    mqtt_probe.wait_json(home.topic("fixture", "porch"), lambda d: d["state"] == "ON", 3)

    clash = request(
        mqtt_probe,
        home,
        "fixture/add",
        {
            "name": "Clash",
            "slug": "clash",
            "model": model["model"],
            "universe": 2,
            "start_channel": 200,
        },
    )
    assert clash["status"] == "error"
    assert "DMX collision" in clash["error"] and "porch" in clash["error"]

    renamed = request(
        mqtt_probe,
        home,
        "fixture/rename",
        {"slug": "porch", "new_slug": "front-porch", "name": "Front porch"},
    )
    assert renamed["status"] == "ok" and renamed["data"]["slug"] == "front-porch"
    cfg = mqtt_probe.wait_json(
        f"{home.discovery_prefix}/light/+/fixture_{key}/config",
        lambda d: d["command_topic"].endswith("/front-porch/set"),
        3,
    )
    assert cfg["device"]["name"] == "Front porch"
    mqtt_probe.wait_for(home.topic("fixture", "porch"), lambda m: m.payload == b"", 3)

    moved = request(
        mqtt_probe, home, "fixture/update", {"slug": "front-porch", "start_channel": 513}
    )
    assert moved["status"] == "error" and "512" in moved["error"]
    moved = request(
        mqtt_probe, home, "fixture/update", {"slug": "front-porch", "start_channel": 300}
    )
    assert moved["status"] == "ok"

    removed = request(mqtt_probe, home, "fixture/remove", {"slug": "front-porch"})
    assert removed["status"] == "ok"
    mqtt_probe.wait_for(
        f"{home.discovery_prefix}/light/+/fixture_{key}/config", lambda m: m.payload == b"", 3
    )
    assert (
        sql(home.database_url, "SELECT count(*) AS n FROM fixtures WHERE id=$1", fid)[0]["n"] == 0
    )
    missing = request(mqtt_probe, home, "fixture/remove", {"slug": "front-porch"})
    assert missing["status"] == "error" and "unknown fixture" in missing["error"]


def test_groups_and_membership(home, mqtt_probe) -> None:
    added = request(mqtt_probe, home, "group/add", {"name": "Cellar", "slug": "cellar"})
    assert added["status"] == "ok", added
    gid = object_key(home.database_url, "groups", added["data"]["id"])
    member = request(
        mqtt_probe, home, "group/members/add", {"group": "cellar", "fixture": "study-desk"}
    )
    assert member["status"] == "ok"
    nested = request(
        mqtt_probe, home, "group/members/add", {"group": "cellar", "child_group": "garden"}
    )
    assert nested["status"] == "ok"
    cfg = mqtt_probe.wait_json(
        f"{home.discovery_prefix}/light/+/group_{gid}/config",
        lambda d: len(d.get("group", [])) == 2,
        3,
    )
    assert cfg["command_topic"].endswith("/group/cellar/set")
    mqtt_probe.publish(home.topic("group", "cellar", "set"), "ON")
    mqtt_probe.wait_json(home.topic("fixture", "garden-spot"), lambda d: d["state"] == "ON", 3)
    mqtt_probe.wait_json(home.topic("fixture", "study-desk"), lambda d: d["state"] == "ON", 3)
    # house > upstairs > study ... adding house under study would be a cycle
    cycle = request(
        mqtt_probe, home, "group/members/add", {"group": "kitchen", "child_group": "house"}
    )
    assert cycle["status"] == "error" and "cycle" in cycle["error"]
    dup = request(mqtt_probe, home, "group/add", {"name": "Again", "slug": "cellar"})
    assert dup["status"] == "error" and "already exists" in dup["error"]
    out = request(
        mqtt_probe, home, "group/members/remove", {"group": "cellar", "fixture": "study-desk"}
    )
    assert out["status"] == "ok"
    renamed = request(mqtt_probe, home, "group/rename", {"slug": "cellar", "new_slug": "basement"})
    assert renamed["status"] == "ok"
    removed = request(mqtt_probe, home, "group/remove", {"slug": "basement"})
    assert removed["status"] == "ok"
    mqtt_probe.wait_for(
        f"{home.discovery_prefix}/light/+/group_{gid}/config", lambda m: m.payload == b"", 3
    )


def test_scene_store_and_remove(home, mqtt_probe) -> None:
    mqtt_probe.publish(
        home.topic("fixture", "living-lamp", "set"),
        '{"state":"ON","brightness":40,"color_temp_kelvin":3000}',
    )
    mqtt_probe.wait_json(home.topic("fixture", "living-lamp"), lambda d: d["brightness"] == 40, 3)
    stored = request(
        mqtt_probe, home, "scene/store", {"group": "living", "slug": "cosy", "name": "Cosy"}
    )
    assert stored["status"] == "ok" and stored["data"]["fixtures"] == 3
    rows = sql(
        home.database_url,
        "SELECT v.is_on, v.brightness, v.kelvin FROM scene_values v "
        "JOIN scenes s ON s.id=v.scene_id JOIN fixtures f ON f.id=v.fixture_id "
        "WHERE s.slug='cosy' AND f.slug='living-lamp'",
    )
    assert rows == [{"is_on": True, "brightness": 40, "kelvin": 3000}]
    sid = object_key(home.database_url, "scenes", stored["data"]["id"])
    mqtt_probe.wait_json(f"{home.discovery_prefix}/scene/+/scene_{sid}/config", timeout=3)
    removed = request(mqtt_probe, home, "scene/remove", {"slug": "cosy"})
    assert removed["status"] == "ok"
    mqtt_probe.wait_for(
        f"{home.discovery_prefix}/scene/+/scene_{sid}/config", lambda m: m.payload == b"", 3
    )


def test_names_with_sql_metacharacters_are_stored_verbatim(home, mqtt_probe) -> None:
    name = "Robert'); DROP TABLE fixtures;--"
    added = request(mqtt_probe, home, "group/add", {"name": name, "slug": "bobby"})
    assert added["status"] == "ok"
    assert sql(home.database_url, "SELECT name FROM groups WHERE slug='bobby'") == [{"name": name}]
    assert sql(home.database_url, "SELECT count(*) AS n FROM fixtures")[0]["n"] == 14
    bad = request(mqtt_probe, home, "group/add", {"name": "x", "slug": "x'; DROP TABLE groups;--"})
    assert bad["status"] == "error" and "slug" in bad["error"]


def test_dmx_frame_replies_with_every_slot_of_the_universe(home, mqtt_probe) -> None:
    # kitchen-ceiling is the dimmer on channel 1 of universe 1; nothing else is on
    mqtt_probe.publish(home.topic("fixture", "kitchen-ceiling", "set"), '{"brightness": 255}')
    mqtt_probe.wait_json(home.topic("fixture", "kitchen-ceiling"), lambda d: d["state"] == "ON")
    whole = request(mqtt_probe, home, "dmx/frame", {"universe": 1})
    assert whole["status"] == "ok", whole
    slots = whole["data"]["slots"]
    assert len(slots) == 512 and slots[0] == 255
    last = max(i for i, value in enumerate(slots) if value)
    assert last < 511 and not any(slots[last + 1 :])  # the zeros after it are there too
    assert whole["data"]["output"]["driver"]
    first = request(mqtt_probe, home, "dmx/frame", {"universe": 1, "length": 3})
    assert first["data"]["slots"] == slots[:3]
    mqtt_probe.publish(home.topic("group", "house", "set"), "OFF")
    mqtt_probe.wait_json(home.topic("group", "house"), lambda d: d["state"] == "OFF")
    dark = request(mqtt_probe, home, "dmx/frame", {"universe": 1})
    assert dark["data"]["slots"][0] == 0 and len(dark["data"]["slots"]) == 512
    for bad in (0, 513, "8"):
        refused = request(mqtt_probe, home, "dmx/frame", {"universe": 1, "length": bad})
        assert refused["status"] == "error" and "length" in refused["error"], refused
