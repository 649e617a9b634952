"""Which handler an inbound topic belongs to. Pure: topic in, `Route` out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tau.api.topics import Topics

RouteKind = Literal[
    "fixture_set",
    "group_set",
    "circadian_set",
    "scene_set",
    "switch_action",
    "request",
    "ha_status",
    "input_topic",
    "own_output",
]


@dataclass(slots=True, frozen=True)
class Route:
    kind: RouteKind
    name: str  # slug, request name or external topic


def subscriptions(topics: Topics, input_topics: list[str]) -> list[str]:
    base = topics.base
    return [
        f"{base}/fixture/+/set",
        f"{base}/group/+/set",
        f"{base}/group/+/circadian/set",
        f"{base}/scene/+/set",
        f"{base}/switch/+/action",
        f"{base}/bridge/request/#",
        topics.ha_status,
        *sorted(set(input_topics)),
    ]


def route(topics: Topics, topic: str, input_topics: frozenset[str]) -> Route | None:
    if topic in input_topics:
        return Route("input_topic", topic)
    if topic == topics.ha_status:
        return Route("ha_status", "")
    prefix = topics.base + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    match parts:
        case ["fixture", slug, "set"]:
            return Route("fixture_set", slug)
        case ["group", slug, "set"]:
            return Route("group_set", slug)
        case ["group", slug, "circadian", "set"]:
            return Route("circadian_set", slug)
        case ["scene", slug, "set"]:
            return Route("scene_set", slug)
        case ["switch", slug, "action"]:
            return Route("switch_action", slug)
        case ["bridge", "request", *rest]:  # no name at all is an unknown request too
            return Route("request", "/".join(rest))
    return None
