"""Topic names in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NODE_RE = re.compile(r"[^a-zA-Z0-9_-]")


@dataclass(slots=True, frozen=True)
class Topics:
    base: str
    discovery_prefix: str

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
        """Changes the leading bridge made, for the others to apply (several bridges)."""
        return f"{self.base}/bridge/nodes/sync"

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

    def scene_set(self, slug: str) -> str:
        return f"{self.base}/scene/{slug}/set"

    def switch_action(self, slug: str) -> str:
        return f"{self.base}/switch/{slug}/action"

    def switch_event(self, slug: str) -> str:
        return f"{self.base}/switch/{slug}/event"

    def discovery(self, component: str, object_id: str) -> str:
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"
