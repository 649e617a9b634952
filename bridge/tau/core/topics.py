"""Topic names in one place: the layout under the base topic and the discovery prefix.

In `core` so that the API layer (router, publisher, discovery) and the extensions
(a switch's `event` topic) read the same layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tau.settings import Settings

_NODE_RE = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(slots=True, frozen=True)
class Topics:
    base: str
    discovery_prefix: str

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        return cls(settings.mqtt.base_topic, settings.mqtt.discovery_prefix)

    def under_base(self, topic: str) -> str:
        """`<base>/switch/x/event` -> `switch/x/event` (what `Context.publish` takes)."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            raise ValueError(f"{topic!r} is not under the base topic {self.base!r}")
        return topic[len(prefix) :]

    @property
    def node_id(self) -> str:
        """Discovery node id: the base topic made safe for a topic level."""
        return _NODE_RE.sub("_", self.base)

    @property
    def bridge_state(self) -> str:
        return f"{self.base}/bridge/state"

    @property
    def bridge_info(self) -> str:
        return f"{self.base}/bridge/info"

    @property
    def bridge_log(self) -> str:
        return f"{self.base}/bridge/log"

    def universe_state(self, universe: int) -> str:
        """`online` while some bridge outputs the universe (availability of its fixtures)."""
        return f"{self.base}/bridge/universe/{universe}/state"

    @property
    def node_sync(self) -> str:
        """The leader's decisions, for every bridge to apply (several bridges)."""
        return f"{self.base}/bridge/nodes/sync"

    @property
    def node_database(self) -> str:
        """Bridges that lost PostgreSQL say so here, a few times a second."""
        return f"{self.base}/bridge/nodes/database"

    def request(self, name: str) -> str:
        return f"{self.base}/bridge/request/{name}"

    def response(self, name: str) -> str:
        return f"{self.base}/bridge/response/{name}"

    def fixture(self, slug: str) -> str:
        return f"{self.base}/fixture/{slug}"

    def group(self, slug: str) -> str:
        return f"{self.base}/group/{slug}"

    def circadian(self, slug: str) -> str:
        return f"{self.base}/group/{slug}/circadian"

    def sleep(self, slug: str) -> str:
        return f"{self.base}/group/{slug}/sleep"

    def scene_set(self, slug: str) -> str:
        return f"{self.base}/scene/{slug}/set"

    def switch_action(self, slug: str) -> str:
        return f"{self.base}/switch/{slug}/action"

    def switch_event(self, slug: str) -> str:
        return f"{self.base}/switch/{slug}/event"

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"

    @property
    def discovery_configs(self) -> str:
        """Every config topic under this bridge's node id (a pattern to subscribe to)."""
        return f"{self.discovery_prefix}/+/{self.node_id}/+/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"
