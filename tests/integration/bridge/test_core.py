"""The bridge core over real MQTT, PostgreSQL and emulated Enttec widgets.

The bridge runs as a subprocess on the seeded home (tests/../database/seeds):
universe 1 and 2 each on an emulated DMX USB Pro. Tests talk to it only over
MQTT and SQL, as users do.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from testkit.db import sql
from testkit.mqtt import MqttProbe

UNIVERSE_1 = {  # slug -> channels (seeds/04-test-fixtures.sql)
    "kitchen-ceiling": [1],
    "kitchen-island": [2, 3],
    "kitchen-counter": [4, 5],
    "dining-pendant": [10, 11, 12, 13],
    "dining-wall": [14, 15],
    "living-ceiling": [20, 21],
    "living-lamp": [22, 23],
    "living-strip": [30, 31, 32],
    "hallway-downlight": [40],
}
UNIVERSE_2 = {
    "bedroom-ceiling": [1, 2, 3, 4],
    "bedroom-bedside": [5, 6],
    "bathroom-mirror": [10, 11],
    "study-desk": [20, 21],
    "garden-spot": [30, 31, 32, 33],
}
DOWNSTAIRS = ["kitchen-", "dining-", "living-", "hallway-"]


@pytest.fixture
def home(bridge_factory, widgets):
    one, two = widgets
    return bridge_factory(
        seeds=True,
        default_transition=0,
        universes={
            "1": {"driver": "enttec_pro", "port": one.port},
            "2": {"driver": "enttec_pro", "port": two.port},
        },
    )


def state(probe: MqttProbe, topic: str, predicate=None, timeout: float = 5) -> dict[str, Any]:
    return probe.wait_json(topic, predicate, timeout=timeout)


# ------------------------------------------------------------------ discovery
def _check_light_config(cfg: dict[str, Any], base: str) -> None:
    assert cfg["schema"] == "json"
    assert cfg["command_topic"] == cfg["state_topic"] + "/set"
    assert cfg["state_topic"].startswith(base + "/")
    assert cfg["unique_id"] and cfg["default_entity_id"].startswith("light.")
    assert "object_id" not in cfg
    if cfg["state_topic"].startswith(f"{base}/fixture/"):
        # the bridges, and whichever of them outputs the fixture's universe
        assert cfg["availability"][0] == {"topic": f"{base}/bridge/state"}
        assert re.fullmatch(
            re.escape(base) + r"/bridge/universe/\d+/state", cfg["availability"][1]["topic"]
        )
        assert len(cfg["availability"]) == 2 and cfg["availability_mode"] == "all"
    else:
        assert cfg["availability"] == [{"topic": f"{base}/bridge/state"}]
    assert cfg["brightness"] is True and cfg["brightness_scale"] == 255
    modes = cfg["supported_color_modes"]
    assert modes and set(modes) <= {"brightness", "color_temp", "rgb", "rgbw"}
    assert "brightness" not in modes or modes == ["brightness"]  # HA rejects mixing
    # legacy flags removed in HA 2025.3
    assert "color_mode" not in cfg and "color_temp" not in cfg
    if "color_temp" in modes:
        assert cfg["color_temp_kelvin"] is True
        assert 1000 <= cfg["min_kelvin"] < cfg["max_kelvin"] <= 20000
    else:
        assert "min_kelvin" not in cfg
    assert cfg["origin"]["name"] == "Tau"
    assert cfg["device"]["identifiers"]


def test_discovery_for_every_seeded_fixture_and_group(home, mqtt_probe) -> None:
    configs = mqtt_probe.retained(home.discovery_prefix)
    lights = {t: m.json() for t, m in configs.items() if "/light/" in t}
    fixtures = {
        c["state_topic"].rsplit("/", 1)[1]: c
        for c in lights.values()
        if "/fixture/" in c["state_topic"]
    }
    groups = {
        c["state_topic"].rsplit("/", 1)[1]: c
        for c in lights.values()
        if "/group/" in c["state_topic"]
    }
    assert set(fixtures) == set(UNIVERSE_1) | set(UNIVERSE_2)
    assert {"house", "downstairs", "upstairs", "kitchen", "bedroom", "garden"} <= set(groups)
    for cfg in lights.values():
        _check_light_config(cfg, home.base_topic)
    dimmer = fixtures["kitchen-ceiling"]
    assert dimmer["supported_color_modes"] == ["brightness"]
    assert dimmer["device"]["via_device"].startswith("tau_bridge_")
    assert dimmer["device"]["manufacturer"] and dimmer["device"]["model"]
    assert fixtures["kitchen-island"]["supported_color_modes"] == ["color_temp"]
    assert "rgb" in fixtures["living-strip"]["supported_color_modes"]
    kitchen = groups["kitchen"]
    assert set(kitchen["group"]) == {
        fixtures[s]["unique_id"] for s in ("kitchen-ceiling", "kitchen-island", "kitchen-counter")
    }
    assert kitchen["supported_color_modes"] == ["color_temp"]
    # circadian switch for profiled groups, scenes, switch triggers
    assert any(t.endswith("_circadian/config") for t in configs)
    scenes = [m.json() for t, m in configs.items() if "/scene/" in t]
    assert {s["command_topic"].split("/")[-2] for s in scenes} == {"evening", "movie"}
    triggers = [m.json() for t, m in configs.items() if "/device_automation/" in t]
    assert {t["type"] for t in triggers} >= {"button_short_press", "button_long_press"}
    mqtt_probe.subscribe(home.topic("bridge", "info"))
    info = mqtt_probe.wait_json(home.topic("bridge", "info"))
    assert info["counts"]["fixtures"] == 14
    assert info["universes"]["1"]["driver"] == "enttec_pro"
    assert info["database"]["status"] == "ok"


# ------------------------------------------------------------------- groups
def test_nested_group_turns_on_exactly_its_members_in_one_frame(home, widgets, mqtt_probe) -> None:
    one, two = widgets
    mqtt_probe.subscribe(home.topic("#"))
    before_2 = two.wait_for_frames(1, timeout=3)[-1].data  # restored frame (CCT slots hold colour)
    mark = mqtt_probe.mark()
    one.clear()
    two.clear()
    mqtt_probe.publish(home.topic("group", "downstairs", "set"), '{"state":"ON","brightness":255}')
    downstairs = [c[0] for s, c in UNIVERSE_1.items()]
    frame = one.wait_for_slots({ch: 255 for ch in downstairs if ch in (1, 4, 20, 40)}, timeout=3)
    # all members light up in the same frame: the first frame that shows any change shows all
    first = next(f for f in one.frames if any(f.slot(ch) for ch in downstairs))
    assert all(first.slot(ch) > 0 for ch in downstairs), first.data[:40]
    assert frame.slot(1) == 255
    # universe 2 (upstairs, garden) untouched
    assert all(f.data == before_2 for f in two.frames)
    for slug in UNIVERSE_1:
        s = state(mqtt_probe, home.topic("fixture", slug), lambda d: d["state"] == "ON", 3)
        assert s["brightness"] == 255
    for slug in UNIVERSE_2:
        retained = list(mqtt_probe.messages(home.topic("fixture", slug), after=mark))
        assert all(m.json()["state"] == "OFF" for m in retained)
    for group in ("downstairs", "kitchen", "living", "house"):
        state(mqtt_probe, home.topic("group", group), lambda d: d["state"] == "ON", 3)
    assert mqtt_probe.wait_json(home.topic("group", "upstairs"))["state"] == "OFF"
    # a direct fixture command updates every enclosing group's derived state
    mqtt_probe.publish(home.topic("group", "downstairs", "set"), "OFF")
    state(mqtt_probe, home.topic("group", "house"), lambda d: d["state"] == "OFF", 3)
    mark = mqtt_probe.mark()
    mqtt_probe.publish(
        home.topic("fixture", "kitchen-counter", "set"), '{"state":"ON","brightness":77}'
    )
    for group in ("kitchen", "downstairs", "house"):
        got = mqtt_probe.wait_json(
            home.topic("group", group), lambda d: d["state"] == "ON", 3, after=mark
        )
        assert got["brightness"] == 77
    assert mqtt_probe.wait_json(home.topic("group", "living"))["state"] == "OFF"


# -------------------------------------------------------------- bad inputs
BAD_INPUTS: list[tuple[str, bytes]] = [
    ("fixture/kitchen-ceiling/set", b"{"),
    ("fixture/kitchen-ceiling/set", b"[]"),
    ("fixture/kitchen-ceiling/set", b""),
    ("fixture/kitchen-ceiling/set", b"MAYBE"),
    ("fixture/kitchen-ceiling/set", b"256"),
    ("fixture/kitchen-ceiling/set", b"-3"),
    ("fixture/kitchen-ceiling/set", b'{"brightness":300}'),
    ("fixture/kitchen-ceiling/set", b'{"brightness":"full"}'),
    ("fixture/kitchen-ceiling/set", b'{"brightness":true}'),
    ("fixture/kitchen-ceiling/set", b'{"state":"SIDEWAYS"}'),
    ("fixture/kitchen-ceiling/set", b'{"transition":NaN,"state":"ON"}'),
    ("fixture/kitchen-ceiling/set", b'{"transition":-2,"state":"ON"}'),
    ("fixture/kitchen-ceiling/set", b'{"colour":"red"}'),
    ("fixture/kitchen-ceiling/set", b'{"color_temp_kelvin":3000}'),  # a dimmer has no CCT
    ("fixture/kitchen-island/set", b'{"color_temp_kelvin":50}'),
    ("fixture/kitchen-island/set", b'{"color":{"r":1,"g":2,"b":3}}'),  # no rgb on white
    ("fixture/living-strip/set", b'{"color":{"r":256,"g":0,"b":0}}'),
    ("fixture/kitchen-ceiling/set", b"\xff\xfe\xfd"),
    ("fixture/kitchen-ceiling/set", b'{"state":"ON",' + b'"x":"' + b"a" * 70000 + b'"}'),
    ("fixture/no-such-fixture/set", b"ON"),
    ("group/no-such-group/set", b"ON"),
    ("group/kitchen/set", b'{"brightness_step":999}'),
    ("group/kitchen/set", b'{"brightness_move":"fast"}'),
    ("group/kitchen/set", b"{}"),
    ("group/kitchen/circadian/set", b"MAYBE"),
    ("group/living/circadian/set", b"ON"),  # living has no profile
    ("scene/no-such-scene/set", b"ON"),
    ("scene/evening/set", b"OFF"),
    ("switch/no-such-switch/action", b"single"),
    ("switch/kitchen-wall/action", b"explode"),
]


def test_bad_inputs_log_once_and_change_nothing(home, widgets, mqtt_probe) -> None:
    one, two = widgets
    log_topic = home.topic("bridge", "log")
    mqtt_probe.subscribe(log_topic)
    mqtt_probe.subscribe(home.topic("bridge", "response", "#"))
    mqtt_probe.subscribe(home.topic("fixture", "#"))
    mqtt_probe.subscribe(home.topic("group", "#"))
    time.sleep(0.3)  # retained states arrive first; only later messages count
    before_1, before_2 = one.latest(), two.latest()
    for suffix, payload in BAD_INPUTS:
        mark = mqtt_probe.mark()
        topic = home.topic(*suffix.split("/"))
        mqtt_probe.publish(topic, payload)
        entry = mqtt_probe.wait_json(log_topic, timeout=3, after=mark)
        assert entry["level"] == "error" and entry["message"], entry
        assert entry["topic"] == topic
        # a marker command proves the bridge is alive and that nothing else was logged
        marker = mqtt_probe.mark()
        mqtt_probe.publish(home.topic("bridge", "request", "health_check"), "{}")
        mqtt_probe.wait_json(
            home.topic("bridge", "response", "health_check"), timeout=3, after=marker
        )
        logs = mqtt_probe.messages(log_topic, after=mark)
        assert len(logs) == 1, [m.text for m in logs]
        changes = [
            m
            for m in mqtt_probe.messages(home.topic("#"), after=mark)
            if ("/fixture/" in m.topic or "/group/" in m.topic) and not m.topic.endswith("/set")
        ]
        assert changes == [], (suffix, [m.topic for m in changes])
    assert one.latest() == before_1 or one.latest().data == before_1.data
    assert (two.latest() is None and before_2 is None) or two.latest().data == before_2.data


# every topic kind that takes a payload, with one target that exists
DECODED_TOPICS = [
    "fixture/kitchen-ceiling/set",
    "group/kitchen/set",
    "scene/evening/set",
    "group/kitchen/circadian/set",
    "switch/kitchen-wall/action",
]
OVERSIZE = b'{"state":"ON","x":"' + b"a" * 70000 + b'"}'


def test_every_topic_refuses_undecodable_payloads_through_the_one_decoder(
    home, widgets, mqtt_probe
) -> None:
    """Invalid UTF-8 and oversize payloads get the light commands' words on every topic;
    malformed JSON too wherever JSON is accepted (everywhere but the circadian switch)."""
    log_topic = home.topic("bridge", "log")
    mqtt_probe.subscribe(log_topic)
    cases = [(t, b"ON\xff\xfe", "payload is not valid UTF-8") for t in DECODED_TOPICS]
    cases += [
        (t, OVERSIZE, "payload is 70021 bytes; the limit is 65536 bytes") for t in DECODED_TOPICS
    ]
    cases += [
        (t, b'{"state": "ON",', "malformed JSON: Expecting property name enclosed in double quotes")
        for t in DECODED_TOPICS
        if "circadian" not in t
    ]
    for suffix, payload, message in cases:
        mark = mqtt_probe.mark()
        topic = home.topic(*suffix.split("/"))
        mqtt_probe.publish(topic, payload)
        entry = mqtt_probe.wait_json(log_topic, timeout=3, after=mark)
        assert entry["topic"] == topic
        assert entry["message"].startswith(message), (suffix, entry["message"])


def test_bad_request_answers_on_the_response_topic(home, mqtt_probe) -> None:
    for name, body in [
        (
            "fixture/add",
            {"name": "X", "slug": "Bad Slug", "model": 1, "start_channel": 1, "transaction": "t1"},
        ),
        ("nope", {"transaction": "t2"}),
        (
            "fixture/add",
            {
                "name": "X",
                "slug": "clash",
                "model": 1,
                "universe": 1,
                "start_channel": 1,
                "transaction": "t3",
            },
        ),
        ("group/members/add", {"group": "kitchen", "child_group": "house", "transaction": "t4"}),
    ]:
        mark = mqtt_probe.mark()
        mqtt_probe.subscribe(home.topic("bridge", "response", "#"))
        mqtt_probe.publish(home.topic("bridge", "request", *name.split("/")), json.dumps(body))
        reply = mqtt_probe.wait_json(
            home.topic("bridge", "response", "#"),
            lambda d, t=body["transaction"]: d.get("transaction") == t,
            5,
            after=mark,
        )
        assert reply["status"] == "error" and reply["error"], reply
    log = mqtt_probe.messages(home.topic("bridge", "log"))
    assert log is not None


# ---------------------------------------------------------- live SQL changes
def test_sql_changes_reach_discovery_within_a_second(home, mqtt_probe) -> None:
    prefix = home.discovery_prefix
    mqtt_probe.subscribe(f"{prefix}/#")
    time.sleep(0.3)
    url = home.database_url
    mark = mqtt_probe.mark()
    t0 = time.monotonic()
    row = sql(
        url,
        "INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel) "
        "SELECT 'Porch', 'porch', fixture_model_id, 2, 100 FROM fixtures "
        "WHERE slug='kitchen-ceiling' "
        "RETURNING id, replace(uid::text, '-', '') AS uid",
    )[0]
    config = f"{prefix}/light/+/fixture_{row['uid']}/config"
    cfg = mqtt_probe.wait_json(config, timeout=1.0, after=mark)
    assert cfg["name"] is None and cfg["device"]["name"] == "Porch"
    assert time.monotonic() - t0 < 1.0
    mark = mqtt_probe.mark()
    sql(url, "UPDATE fixtures SET slug='front-porch', name='Front porch' WHERE id=$1", row["id"])
    renamed = mqtt_probe.wait_json(
        config,
        lambda d: d["command_topic"].endswith("/front-porch/set"),
        timeout=1.0,
        after=mark,
    )
    assert renamed["unique_id"] == cfg["unique_id"]  # rename keeps the entity
    assert renamed["unique_id"].endswith(f"fixture_{row['uid']}")
    mark = mqtt_probe.mark()
    sql(url, "DELETE FROM fixtures WHERE id=$1", row["id"])
    gone = mqtt_probe.wait_for(config, lambda m: m.payload == b"", 1.0, after=mark)
    assert gone.retain or gone.payload == b""
    mark = mqtt_probe.mark()
    group = sql(
        url,
        "INSERT INTO groups (name, slug) VALUES ('Attic', 'attic') "
        "RETURNING id, replace(uid::text, '-', '') AS uid",
    )[0]
    config = f"{prefix}/light/+/group_{group['uid']}/config"
    mqtt_probe.wait_json(config, timeout=1.0, after=mark)
    sql(url, "DELETE FROM groups WHERE id=$1", group["id"])
    mqtt_probe.wait_for(config, lambda m: m.payload == b"", 1.0, after=mark)


def test_home_assistant_birth_republishes_discovery_and_state(home, mqtt_probe) -> None:
    prefix = home.discovery_prefix
    mqtt_probe.subscribe(f"{prefix}/light/#")
    mqtt_probe.subscribe(home.topic("fixture", "#"))
    time.sleep(0.5)
    mark = mqtt_probe.mark()
    mqtt_probe.publish(f"{prefix}/status", "online")
    mqtt_probe.wait_for(f"{prefix}/light/#", timeout=3, after=mark)
    mqtt_probe.wait_for(home.topic("fixture", "kitchen-ceiling"), timeout=3, after=mark)
    configs = {m.topic for m in mqtt_probe.messages(f"{prefix}/light/#", after=mark)}
    assert len(configs) >= 14


# ---------------------------------------------------------------- persistence
def test_state_rows_appear_within_250_ms(home, mqtt_probe) -> None:
    url = home.database_url
    mqtt_probe.publish(
        home.topic("fixture", "study-desk", "set"), '{"state":"ON","brightness":123}'
    )
    deadline = time.monotonic() + 5
    seen_at = None
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        rows = sql(url, "SELECT is_on, brightness FROM v_fixture_status WHERE slug='study-desk'")
        if rows and rows[0]["is_on"] and rows[0]["brightness"] == 123:
            seen_at = time.monotonic()
            break
    assert seen_at is not None
    # includes the MQTT hop and this polling query's own round trips
    assert seen_at - t0 < 0.5


def test_sigterm_after_burst_loses_nothing_and_restart_restores_before_first_frame(
    home, widgets, mqtt_probe
) -> None:
    one, _ = widgets
    mqtt_probe.subscribe(home.topic("fixture", "#"))
    for level in range(1, 101):
        mqtt_probe.publish(home.topic("fixture", "kitchen-ceiling", "set"), str(level), qos=1)
    mqtt_probe.publish(
        home.topic("fixture", "hallway-downlight", "set"), '{"state":"ON","brightness":200}'
    )
    state(mqtt_probe, home.topic("fixture", "hallway-downlight"), lambda d: d["state"] == "ON")
    state(mqtt_probe, home.topic("fixture", "kitchen-ceiling"), lambda d: d["brightness"] == 100)
    assert home.terminate() == 0
    rows = sql(
        home.database_url,
        "SELECT slug, is_on, brightness FROM v_fixture_status "
        "WHERE slug IN ('kitchen-ceiling','hallway-downlight') ORDER BY slug",
    )
    assert [(r["slug"], r["is_on"], r["brightness"]) for r in rows] == [
        ("hallway-downlight", True, 200),
        ("kitchen-ceiling", True, 100),
    ]
    lit = one.latest()
    assert lit is not None and lit.slot(40) > 0
    one.clear()
    home.start()
    home.wait_online(30)
    first = one.wait_for_frames(1, timeout=10)[0]
    assert first.slot(40) == lit.slot(40) and first.slot(1) == lit.slot(1)
