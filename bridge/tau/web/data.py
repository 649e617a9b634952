"""What each page of the web UI starts from: one builder a page (`PAGES`), reading the
running bridge through `BridgeLike`. A page then follows live over the websocket
(`tau.web.live`); the routes, the login and the changes are `tau.web.app`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from tau.core.state import StateStore
from tau.core.topics import Topics
from tau.dmx.render import Renderer
from tau.features.circadian.engine import CircadianEngine
from tau.features.switches.vocabulary import intent_for, supported_actions
from tau.settings import Settings
from tau.web import circadian, views

PAGES = ("overview", "universes", "lights", "patch", "scenes", "circadian", "switches")


class BridgeLike(Protocol):
    """What the page needs from the running bridge (`tau.controller.Bridge`)."""

    @property
    def topics(self) -> Topics: ...
    @property
    def store(self) -> StateStore: ...
    @property
    def renderer(self) -> Renderer: ...
    @property
    def rejected(self) -> int: ...
    @property
    def rejections(self) -> list[tuple[float, str, str]]: ...
    @property
    def recent(self) -> list[tuple[float, str, str]]: ...
    def health(self) -> dict[str, Any]: ...
    def node_health(self) -> dict[str, Any]: ...
    def on_message(self, topic: str, payload: bytes, retained: bool = False) -> None: ...
    async def request(self, name: str, payload: bytes) -> dict[str, Any]: ...


class PageData:
    """The builders of the pages' first data, one `_data_<page>` a page."""

    def __init__(
        self,
        settings: Settings,
        bridge: BridgeLike,
        circadian: CircadianEngine,
        now: Callable[[], datetime],
        about: Callable[[], dict[str, Any]],
    ) -> None:
        self._settings = settings
        self._bridge = bridge
        self._circadian = circadian
        self._now = now
        self._about = about

    def build(self, name: str) -> dict[str, Any]:
        """What page `name` starts from (then follows live over the websocket)."""
        builder: Callable[[], dict[str, Any]] = getattr(self, f"_data_{name}")
        return builder()

    def _data_overview(self) -> dict[str, Any]:
        bridge = self._bridge
        about = self._about()
        return {
            "health": bridge.health(),
            "about": about,
            "problems": problems(bridge.rejections),
            "rejected": bridge.rejected,
            "recent": problems(bridge.recent),
        }

    def _data_universes(self) -> dict[str, Any]:
        inst = self._bridge.store.installation
        outputs = self._bridge.renderer.status()
        return {
            "universes": {
                str(u): {**m, "output": str(outputs.get(u, {}).get("state", "elsewhere"))}
                for u, m in views.universe_map(inst).items()
            }
        }

    def _data_lights(self) -> dict[str, Any]:
        store = self._bridge.store
        inst = store.installation
        return {
            "groups": views.group_tree(inst, store.group_light, store.group_modes),
            "fixtures": views.fixtures(inst, store.fixtures()),
            "transition": self._settings.default_transition,
        }

    def _data_patch(self) -> dict[str, Any]:
        inst = self._bridge.store.installation
        groups = [
            {
                "slug": g.slug,
                "name": g.name,
                "fixtures": some(inst.fixtures[f].slug for f in g.direct_fixture_ids),
                "groups": some(inst.groups[c].slug for c in g.child_group_ids),
                "profile": inst.profiles[g.circadian_profile_id].name
                if g.circadian_profile_id in inst.profiles
                else None,
            }
            for g in sorted(inst.groups.values(), key=lambda g: g.slug)
        ]
        return {
            "models": views.models(inst),
            "fixtures": [
                {k: row[k] for k in ("slug", "name", "model", "universe", "start", "footprint")}
                for row in views.fixtures(inst, self._bridge.store.fixtures())
            ],
            "groups": groups,
            "profiles": sorted(p.name for p in inst.profiles.values()),
            "universes": {str(u): m["free"] for u, m in views.universe_map(inst).items()},
        }

    def _data_scenes(self) -> dict[str, Any]:
        inst = self._bridge.store.installation
        return {
            "scenes": [
                {
                    "slug": s.slug,
                    "name": s.name,
                    "group": inst.groups[s.group_id].slug if s.group_id in inst.groups else None,
                    "fixtures": len(s.values),
                    "on": sum(1 for v in s.values if v.is_on),
                }
                for s in sorted(inst.scenes.values(), key=lambda s: s.slug)
            ],
            "groups": sorted(g.slug for g in inst.groups.values()),
        }

    def _data_circadian(self) -> dict[str, Any]:
        location = self._settings.location
        return circadian.data(self._bridge.store, self._circadian, location, self._now())

    def _data_switches(self) -> dict[str, Any]:
        inst = self._bridge.store.installation
        switches: list[dict[str, Any]] = []
        for s in sorted(inst.switches.values(), key=lambda s: s.slug):
            target = (
                f"group {inst.groups[s.target_group_id].slug}"
                if s.target_group_id in inst.groups
                else f"fixture {inst.fixtures[s.target_fixture_id].slug}"
                if s.target_fixture_id in inst.fixtures
                else "nothing"
            )
            actions = {a: views.intent_words(intent_for(s, a)) for a in supported_actions(s)}
            switches.append(
                {
                    "slug": s.slug,
                    "name": s.name,
                    "model": f"{s.model.manufacturer} {s.model.model}",
                    "topic": s.input_topic,
                    # where its presses arrive: its own topic, and the input it listens to
                    "topics": [self._bridge.topics.base + f"/switch/{s.slug}/action"]
                    + ([s.input_topic] if s.input_topic else []),
                    "target": target,
                    "actions": actions,
                }
            )
        presses = [p for p in problems(self._bridge.recent) if is_input(p["topic"], switches)]
        return {"switches": switches, "presses": presses}


def some(slugs: Iterable[str], shown: int = 12) -> list[str]:
    """The first members by slug, and how many more (a group of thousands stays a line)."""
    ordered = sorted(slugs)
    more = len(ordered) - shown
    return ordered[:shown] + ([f"… {more} more"] if more > 0 else [])


def problems(entries: list[tuple[float, str, str]]) -> list[dict[str, Any]]:
    return [
        {"at": time.strftime("%H:%M:%S", time.localtime(at)), "topic": topic, "text": text}
        for at, topic, text in entries
    ]


def is_input(topic: str, switches: list[dict[str, Any]]) -> bool:
    return any(topic in s["topics"] for s in switches)
