"""The topic router: the bridge's own topics and the extensions' patterns."""

from __future__ import annotations

import pytest

from tau.api.router import Route, patterns, route, subscriptions
from tau.core.topics import Topics

TOPICS = Topics("tau", "homeassistant")
OWNED = patterns(
    [
        {"group/+/circadian/set": "circadian_set"},
        {"scene/+/set": "scene_set"},
        {"switch/+/action": "switch_action"},
    ]
)
INPUTS = frozenset({"zigbee2mqtt/remote/action"})


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("tau/fixture/desk/set", Route("fixture_set", "desk")),
        ("tau/group/kitchen/set", Route("group_set", "kitchen")),
        ("tau/group/kitchen/circadian/set", Route("circadian_set", "kitchen")),
        ("tau/scene/reading/set", Route("scene_set", "reading")),
        ("tau/switch/wall/action", Route("switch_action", "wall")),
        ("tau/bridge/request/group/members/add", Route("request", "group/members/add")),
        ("tau/bridge/request", Route("request", "")),
        ("homeassistant/status", Route("ha_status", "")),
        ("tau/bridge/state", Route("bridge_state", "")),
        ("tau/bridge/nodes/sync", Route("node_sync", "")),
        ("tau/bridge/nodes/database", Route("node_database", "")),
        ("$SYS/broker/publish/messages/dropped", Route("broker_dropped", "")),
        ("$SYS/broker/publish/messages/sent", None),
        ("tau/bridge/universe/3/state", None),  # our own availability topic
        ("zigbee2mqtt/remote/action", Route("input_topic", "zigbee2mqtt/remote/action")),
        ("tau/fixture/desk", None),  # our own state topic
        ("tau/group/kitchen/circadian", None),
        ("tau/scene/reading/set/more", None),
        ("tau/switch/wall/event", None),
        ("other/fixture/desk/set", None),
    ],
)
def test_route(topic: str, expected: Route | None) -> None:
    assert route(TOPICS, topic, INPUTS, OWNED) == expected


def test_subscriptions_keep_their_order_and_add_inputs_once() -> None:
    assert subscriptions(TOPICS, OWNED, ["b/x", "a/y", "b/x"]) == [
        "tau/fixture/+/set",
        "tau/group/+/set",
        "tau/group/+/circadian/set",
        "tau/scene/+/set",
        "tau/switch/+/action",
        "tau/bridge/request/#",
        "tau/bridge/state",
        "tau/bridge/nodes/sync",
        "tau/bridge/nodes/database",
        "homeassistant/status",
        "$SYS/broker/publish/messages/dropped",
        "a/y",
        "b/x",
    ]


@pytest.mark.parametrize("bad", ["scene/set", "+/x/set", "a/+/+/set"])
def test_a_pattern_needs_one_slug_level_after_a_fixed_one(bad: str) -> None:
    with pytest.raises(ValueError, match="needs one"):
        patterns([{bad: "kind"}])
