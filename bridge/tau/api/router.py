"""Which handler an inbound topic belongs to. Pure: topic in, `Route` out.

The bridge's own topics (light commands, bridge requests, Home Assistant's
status) are fixed here; every other topic under the base topic belongs to an
extension, which declares it as a pattern (`scene/+/set`: `+` is the slug).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from tau.core.extension import EXTERNAL
from tau.core.topics import Topics
from tau.mqtt.drops import SYS_DROPPED

# kind of message: "fixture_set", "group_set", "request", "ha_status", "bridge_state"
# (the bridges' own availability), "node_sync" (the leading bridge's changes),
# "node_database" (a bridge that lost PostgreSQL), "broker_dropped" (the broker's count
# of messages it dropped, `$SYS`),
# "input_topic" (an extension's external topic) or the kind an extension gave its pattern
RouteKind = str

# (number of levels, first level) -> [(levels with None for `+`, kind)]
Patterns = dict[tuple[int, str], list[tuple[tuple[str | None, ...], str]]]


@dataclass(slots=True, frozen=True)
class Route:
    kind: RouteKind
    name: str  # slug, request name or external topic


def patterns(owned: Iterable[Mapping[str, str]]) -> Patterns:
    """Index extension topic patterns (`"scene/+/set" -> "scene_set"`) for `route`."""
    index: Patterns = {}
    for table in owned:
        for pattern, kind in table.items():
            levels = tuple(None if p == "+" else p for p in pattern.split("/"))
            if levels.count(None) != 1 or levels[0] is None:
                raise ValueError(f"topic pattern {pattern!r} needs one '+' after a fixed level")
            index.setdefault((len(levels), levels[0]), []).append((levels, kind))
    return index


def subscriptions(topics: Topics, owned: Patterns, input_topics: list[str]) -> list[str]:
    base = topics.base
    extension_topics = [
        "/".join("+" if p is None else p for p in levels)
        for entries in owned.values()
        for levels, _ in entries
    ]
    return [
        f"{base}/fixture/+/set",
        f"{base}/group/+/set",
        *(f"{base}/{t}" for t in extension_topics),
        f"{base}/bridge/request/#",
        topics.bridge_state,
        topics.node_sync,
        topics.node_database,
        topics.ha_status,
        SYS_DROPPED,
        *sorted(set(input_topics)),
    ]


def route(
    topics: Topics, topic: str, input_topics: Collection[str], owned: Patterns
) -> Route | None:
    if topic in input_topics:
        return Route(EXTERNAL, topic)
    if topic == topics.ha_status:
        return Route("ha_status", "")
    if topic == SYS_DROPPED:
        return Route("broker_dropped", "")
    prefix = topics.base + "/"
    if not topic.startswith(prefix):
        return None
    parts = topic[len(prefix) :].split("/")
    match parts:
        case ["fixture", slug, "set"]:
            return Route("fixture_set", slug)
        case ["group", slug, "set"]:
            return Route("group_set", slug)
        case ["bridge", "request", *rest]:  # no name at all is an unknown request too
            return Route("request", "/".join(rest))
        case ["bridge", "state"]:
            return Route("bridge_state", "")
        case ["bridge", "nodes", "sync"]:
            return Route("node_sync", "")
        case ["bridge", "nodes", "database"]:
            return Route("node_database", "")
    for levels, kind in owned.get((len(parts), parts[0]), ()):
        name = None
        for want, got in zip(levels, parts, strict=True):
            if want is None:
                name = got
            elif want != got:
                break
        else:
            return Route(kind, name or "")
    return None
