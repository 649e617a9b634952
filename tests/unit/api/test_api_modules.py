"""The API layer's pure modules on plain data: topics, discovery, publishers, requests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tau.api.discovery import discovery_payloads
from tau.api.publisher import DiscoveryPublisher, StatePublisher
from tau.api.requests import BridgeRequests, parse_request
from tau.core.bus import Bus
from tau.core.commands import LightCommand
from tau.core.events import ChangeBatch
from tau.core.extension import Context, RequestBody
from tau.core.installation import build_installation
from tau.core.model import Fixture, FixtureModel, Group, Switch, SwitchModel
from tau.core.state import StateStore
from tau.core.topics import Topics
from tau.errors import InvalidCommandError
from tau.settings import Settings

TOPICS = Topics("home/tau", "homeassistant")
DIMMER = FixtureModel(1, "Acme", "Dimmer", ("dimmer",), 2700, 6500, "linear", 0.0)
TUNABLE = FixtureModel(2, "Acme", "Tunable", ("warm", "cool"), 2700, 6500, "linear", 0.0)
NARROW = FixtureModel(3, "Acme", "Narrow", ("warm", "cool"), 3000, 5000, "linear", 0.0)
BUTTON = SwitchModel(1, "Generic", "Push button", "momentary", ("single", "double"), {})


def _installation() -> Any:
    fixtures = {
        1: Fixture(1, "Desk", "desk", DIMMER, 1, 1),
        2: Fixture(2, "Ceiling", "ceiling", TUNABLE, 1, 2),
        3: Fixture(3, "Shelf", "shelf", NARROW, 1, 4),
    }
    groups = {
        10: Group(10, "Study", "study", 7, frozenset({1, 2, 3}), frozenset({1, 2, 3}), frozenset())
    }
    switch = Switch(5, "Wall", "wall", BUTTON, 10, None, None, {}, 500, 500, 2000)
    return build_installation(
        {1: DIMMER, 2: TUNABLE, 3: NARROW}, fixtures, groups, {}, {}, {1: BUTTON}, {5: switch}
    )


def test_topics_are_derived_once_from_the_base_topic() -> None:
    assert TOPICS.fixture("desk") == "home/tau/fixture/desk"
    assert TOPICS.circadian("study") == "home/tau/group/study/circadian"
    assert TOPICS.response("scene/store") == "home/tau/bridge/response/scene/store"
    assert TOPICS.switch_event("wall") == "home/tau/switch/wall/event"
    assert TOPICS.node_id == "home_tau"
    assert TOPICS.discovery("light", "fixture_1") == "homeassistant/light/home_tau/fixture_1/config"
    assert TOPICS.ha_status == "homeassistant/status"


def test_extensions_read_the_bridges_layout_and_publish_under_the_base_topic() -> None:
    settings = Settings(mqtt={"base_topic": "home/tau", "discovery_prefix": "ha"})
    ctx = Context(settings, StateStore(0.0), Bus(), lambda _t, _p: None)
    assert ctx.topics == Topics.of(settings) == Topics("home/tau", "ha")
    assert TOPICS.under_base(TOPICS.switch_event("wall")) == "switch/wall/event"
    with pytest.raises(ValueError, match="not under the base topic"):
        TOPICS.under_base("home/tauX/switch/wall/event")


def test_discovery_for_fixtures_groups_circadian_and_switch_triggers() -> None:
    inst = _installation()
    triggers = {5: [("single", "button_short_press", "button_1")]}
    payloads = discovery_payloads(TOPICS, inst, triggers)
    assert all("+" not in t and "#" not in t for t in payloads)
    ceiling = payloads["homeassistant/light/home_tau/fixture_2/config"]
    assert ceiling["command_topic"] == "home/tau/fixture/ceiling/set"
    assert ceiling["supported_color_modes"] == ["color_temp"]
    assert (ceiling["min_kelvin"], ceiling["max_kelvin"]) == (2700, 6500)
    assert ceiling["availability"] == [
        {"topic": "home/tau/bridge/state"},
        {"topic": f"home/tau/bridge/universe/{inst.fixtures[2].universe}/state"},
    ]
    assert ceiling["availability_mode"] == "all"
    assert "color_temp" not in ceiling and "color_mode" not in ceiling  # removed in HA 2025.3
    study = payloads["homeassistant/light/home_tau/group_10/config"]
    assert study["supported_color_modes"] == ["color_temp"]  # union, brightness dropped
    assert (study["min_kelvin"], study["max_kelvin"]) == (3000, 5000)  # intersection
    assert study["availability"] == [{"topic": "home/tau/bridge/state"}]
    assert "availability_mode" not in study
    assert len(study["group"]) == 3
    assert "homeassistant/switch/home_tau/group_10_circadian/config" in payloads
    trigger = payloads["homeassistant/device_automation/home_tau/switch_5_single/config"]
    assert (trigger["topic"], trigger["type"]) == (
        "home/tau/switch/wall/event",
        "button_short_press",
    )


def test_discovery_publisher_sends_only_differences_and_clears_what_vanished() -> None:
    sent: list[tuple[str, Any]] = []
    publisher = DiscoveryPublisher(lambda t, p, **_: sent.append((t, p)) or True)
    assert publisher.sync({"ha/a/config": {"x": 1}, "ha/b/config": {"x": 2}}) == 2
    assert publisher.sync({"ha/a/config": {"x": 1}, "ha/b/config": {"x": 2}}) == 0
    assert publisher.sync({"ha/a/config": {"x": 3}}) == 2
    assert sent[-2:] == [("ha/b/config", b""), ("ha/a/config", '{"x":3}')]
    before = len(sent)
    assert publisher.sync({"ha/+/config": {"x": 1}, "ha/a/config": {"x": 3}}) == 0
    assert len(sent) == before  # a wildcard topic is never published to


async def test_state_publisher_sends_a_commanded_group_before_its_members() -> None:
    bus, sent = Bus(), []
    store = StateStore(0.0, bus=bus)
    store.set_installation(_installation())
    publisher = StatePublisher(store, TOPICS, lambda t, p, **_: sent.append((t, p)) or True)
    bus.subscribe(ChangeBatch, "mqtt", publisher)
    store.command(("group", 10), LightCommand(state="ON", brightness=128))
    await asyncio.sleep(0)  # published on the next loop turn, coalesced
    topics = [t for t, _ in sent]
    members = [f"home/tau/fixture/{s}" for s in ("desk", "ceiling", "shelf")]
    assert set(members) <= set(topics)
    assert topics.index("home/tau/group/study") < min(topics.index(m) for m in members)
    desk = json.loads(dict(sent)["home/tau/fixture/desk"])
    assert (desk["state"], desk["brightness"]) == ("ON", 128)


def test_requests_validate_strictly_and_keep_the_transaction() -> None:
    # the built-in requests are an extension's like any other (no bridge needed to parse)
    extension_requests = {
        **BridgeRequests(None).requests(),  # type: ignore[arg-type]
        "circadian/tick": (RequestBody, lambda _b: {}),
    }
    assert "health_check" not in extension_requests  # the status extension's
    body, transaction = parse_request(
        "group/add", b'{"name": "Den", "slug": "den", "transaction": 7}', extension_requests
    )
    assert (body.slug, transaction) == ("den", 7)
    assert parse_request("circadian/tick", b"", extension_requests)[1] is None
    with pytest.raises(InvalidCommandError, match=r"known requests: .*circadian/tick"):
        parse_request("nope", b"{}", extension_requests)
    with pytest.raises(
        InvalidCommandError, match=r"invalid group/add request: colour: unknown key"
    ):
        parse_request("group/add", b'{"name": "x", "slug": "x", "colour": 1}', extension_requests)
    with pytest.raises(InvalidCommandError, match="must be a JSON object"):
        parse_request("group/add", b"[1]", extension_requests)


# Home Assistant's MQTT light, JSON schema (components/mqtt/light/schema_json.py): the
# options it accepts, the shared MQTT entity options, and its colour-mode rules.
HA_JSON_LIGHT_OPTIONS = {
    "brightness", "brightness_scale", "color_temp_kelvin", "effect", "effect_list", "flash",
    "flash_time_long", "flash_time_short", "max_kelvin", "max_mireds", "min_kelvin",
    "min_mireds", "optimistic", "qos", "retain", "schema", "state_topic", "command_topic",
    "supported_color_modes", "transition", "white_scale", "name",
}  # fmt: skip
HA_ENTITY_OPTIONS = {
    "availability", "availability_mode", "availability_template", "availability_topic",
    "default_entity_id", "device", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "group", "icon", "json_attributes_template", "json_attributes_topic",
    "object_id", "origin", "payload_available", "payload_not_available", "platform",
    "unique_id",
}  # fmt: skip
HA_COLOR_MODES = {"onoff", "brightness", "color_temp", "hs", "xy", "rgb", "rgbw", "rgbww", "white"}


def test_light_discovery_uses_only_home_assistants_json_schema_options() -> None:
    lights = {
        t: p for t, p in discovery_payloads(TOPICS, _installation(), {}).items() if "/light/" in t
    }
    assert len(lights) == 4  # three fixtures and the group
    for topic, payload in lights.items():
        assert set(payload) <= HA_JSON_LIGHT_OPTIONS | HA_ENTITY_OPTIONS, topic
        assert payload["schema"] == "json"
        assert payload["command_topic"].endswith("/set")
        modes = payload["supported_color_modes"]
        assert modes and set(modes) <= HA_COLOR_MODES and len(set(modes)) == len(modes)
        # HA refuses onoff/brightness next to any other mode, and white on its own
        assert len(modes) == 1 or not {"onoff", "brightness"} & set(modes), topic
        assert modes != ["white"]
        assert isinstance(payload["brightness_scale"], int) and payload["brightness_scale"] >= 1
        if "color_temp" in modes:
            assert payload["color_temp_kelvin"] is True
            assert 1000 <= payload["min_kelvin"] < payload["max_kelvin"] <= 20000
        else:
            assert "min_kelvin" not in payload and "max_kelvin" not in payload


HOME_ID = "1a2b3c4d-5e6f-4000-8000-aaaaaaaaaaaa"


def _identified(installation_id: str) -> Any:
    """The study with uids, read from "a database" of the given installation id."""
    fixtures = {
        1: Fixture(1, "Desk", "desk", DIMMER, 1, 1, "00000000-0000-4000-8000-000000000001"),
        2: Fixture(2, "Ceiling", "ceiling", TUNABLE, 1, 2, "00000000-0000-4000-8000-000000000002"),
    }
    groups = {
        10: Group(
            10,
            "Study",
            "study",
            7,
            frozenset({1, 2}),
            frozenset({2}),
            frozenset({11}),
            "00000000-0000-4000-8000-00000000000a",
            is_room=True,
        ),
        11: Group(
            11,
            "Desk corner",
            "desk-corner",
            None,
            frozenset({1}),
            frozenset({1}),
            frozenset(),
            "00000000-0000-4000-8000-00000000000b",
        ),
    }
    switch = Switch(5, "Wall", "wall", BUTTON, 10, None, None, {}, 500, 500, 2000, "5" * 32)
    return build_installation(
        {1: DIMMER, 2: TUNABLE},
        fixtures,
        groups,
        {},
        {},
        {1: BUTTON},
        {5: switch},
        installation_id=installation_id,
    )


def test_unique_ids_and_topics_come_from_the_installation_and_the_objects_uid() -> None:
    triggers = {5: [("single", "button_short_press", "button_1")]}
    home = discovery_payloads(TOPICS, _identified(HOME_ID), triggers)
    other = discovery_payloads(
        TOPICS, _identified("99999999-5e6f-4000-8000-bbbbbbbbbbbb"), triggers
    )
    desk = home["homeassistant/light/home_tau/fixture_00000000000040008000000000000001/config"]
    assert desk["unique_id"] == "tau_1a2b3c4d5e6f_fixture_00000000000040008000000000000001"
    assert desk["device"]["identifiers"] == [desk["unique_id"]]
    assert desk["device"]["via_device"] == "tau_bridge_1a2b3c4d5e6f"

    def ids(payloads: dict[str, dict[str, Any]]) -> set[str]:
        found = {p["unique_id"] for p in payloads.values() if "unique_id" in p}
        found |= {i for p in payloads.values() for i in p["device"]["identifiers"]}
        return found | {p["device"]["via_device"] for p in payloads.values()}

    # Another installation (another database) with the same objects shares no entity,
    # device or bridge; every unique id of one installation is distinct.
    assert ids(home) and not ids(home) & ids(other)
    unique = [p["unique_id"] for p in home.values() if "unique_id" in p]
    assert len(unique) == len(set(unique))
    study = home["homeassistant/light/home_tau/group_0000000000004000800000000000000a/config"]
    assert sorted(study["group"]) == sorted(
        p["unique_id"] for t, p in home.items() if "/fixture_" in t
    )
    assert any("/switch/home_tau/group_0000" in t and t.endswith("_circadian/config") for t in home)
    assert f"homeassistant/event/home_tau/switch_{'5' * 32}/config" in home


def test_suggested_area_is_the_innermost_room() -> None:
    payloads = discovery_payloads(TOPICS, _identified(HOME_ID), {})
    areas = {
        p["device"]["name"]: p["device"].get("suggested_area")
        for t, p in payloads.items()
        if "/light/" in t
    }
    # the room's own light, its fixtures, and a group inside it (not a room) are there
    assert areas == {
        "Study": "Study",
        "Desk": "Study",
        "Ceiling": "Study",
        "Desk corner": "Study",
    }
    circadian = next(p for t, p in payloads.items() if t.endswith("_circadian/config"))
    assert circadian["device"]["suggested_area"] == "Study"
    # no room, no suggestion
    plain = discovery_payloads(TOPICS, _installation(), {})
    assert not any("suggested_area" in p["device"] for p in plain.values())


def test_lights_offer_effects_and_profiled_groups_a_sleep_switch() -> None:
    payloads = discovery_payloads(TOPICS, _installation(), {})
    desk = payloads[TOPICS.discovery("light", "fixture_1")]
    assert desk["effect"] is True
    assert desk["effect_list"] == ["candle", "fireplace", "breathe", "pulse", "none"]
    sleep = payloads[TOPICS.discovery("switch", "group_10_sleep")]
    assert sleep["name"] == "Sleep"
    assert sleep["state_topic"] == "home/tau/group/study/sleep"
    assert sleep["command_topic"] == "home/tau/group/study/sleep/set"
    assert (
        sleep["unique_id"]
        != payloads[TOPICS.discovery("switch", "group_10_circadian")]["unique_id"]
    )
