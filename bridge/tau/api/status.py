"""What a bridge says about itself: health (`/healthz`, the `health_check` request) and
`<base>/bridge/info`.

`BridgeStatus` is an extension: it answers `health_check`, publishes `bridge/info`
when it changes (on connect, when leading begins, when an output changes state,
else checked every second) and announces `OutputStatusChanged` on the bus. With
several bridges, health is each bridge's own; info and availability are the
leader's, for all of them (`tau.nodes.cluster`'s last view).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tau import __version__
from tau.api.publisher import stable_json
from tau.core.events import MqttConnected, NodeChanged, OutputStatusChanged
from tau.core.extension import Context, EventHandler, Extension, ExtensionRequest, RequestBody
from tau.core.scope import Scope
from tau.db.leases import LEADER, View
from tau.db.nodes_cli import build_view
from tau.db.writer import StateWriter
from tau.dmx.render import Renderer
from tau.mqtt.drops import BrokerDrops
from tau.mqtt.session import MqttSession
from tau.nodes.cluster import Cluster
from tau.supervisor import checkpoint


def nodes_info(view: View, installation: Iterable[int]) -> dict[str, Any]:
    """Every bridge sharing the installation, as `tau nodes --json` shows them."""
    return dataclasses.asdict(build_view(view, sorted(installation)))


class BridgeStatus(Extension):
    name = "status"

    def __init__(
        self,
        ctx: Context,
        renderer: Renderer,
        writer: StateWriter,
        session: MqttSession,
        scope: Scope,
        nodes: Cluster | None,
    ) -> None:
        self._settings = ctx.settings
        self._topics = ctx.topics
        self._store = ctx.store
        self._bus = ctx.bus
        self._renderer = renderer
        self._writer = writer
        self._session = session
        self._scope = scope
        self._nodes = nodes
        self._started = time.monotonic()
        self._info_sent: str | None = None
        self._outputs: dict[int, str] = {}  # universe -> output state last announced
        self.tasks: Callable[[], dict[str, dict[str, Any]]] = dict  # the supervisor's parts
        self.drops = BrokerDrops()  # fed by the controller from the broker's `$SYS`

    # ------------------------------------------------------------- the extension
    def requests(self) -> Mapping[str, ExtensionRequest]:
        return {"health_check": (RequestBody, lambda _body: self.health())}

    def events(self) -> Iterable[EventHandler]:
        return [
            (MqttConnected, self._republish),
            (NodeChanged, lambda e: self._republish(e) if e.became_leader else None),
            (OutputStatusChanged, lambda _e: self.publish_info()),
        ]

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            checkpoint(self.name)
            self.check_outputs()
            self.publish_info()

    def check_outputs(self) -> None:
        """Announce each universe's output that changed state since the last look."""
        for universe, status in self._renderer.status().items():
            state = str(status["state"])
            if self._outputs.get(universe, "ok") != state:
                self._bus.publish(OutputStatusChanged(universe, state, str(status["detail"])))
            self._outputs[universe] = state

    def _republish(self, _event: object) -> None:
        self.forget_sent()
        self.publish_info()

    def health(self) -> dict[str, Any]:
        outputs = {str(u): s for u, s in self._renderer.status().items()}
        outputs_ok = all(s.get("state") == "ok" for s in outputs.values())
        writer, session = self._writer, self._session
        database = {
            "status": "ok" if writer.healthy else "down",
            "queued_writes": writer.queued,
            "last_error": writer.last_error,
        }
        broker = {
            "status": "connected" if session.connected.is_set() else "disconnected",
            "reconnects": session.reconnects,
            "dropped": self.drops.seen,
        }
        return {
            "healthy": session.connected.is_set() and outputs_ok,
            "database": database,
            "broker": broker,
            "outputs": outputs,
            "node": self.node_health(),
            # Parts that failed unexpectedly and were restarted (none: {}).
            "tasks": self.tasks(),
            "uptime_s": round(time.monotonic() - self._started, 1),
        }

    def node_health(self) -> dict[str, Any]:
        """This bridge among several: what it sends, what it stands by for, if it leads."""
        nodes = self._nodes
        everything = self._store.installation.universes
        return {
            "name": self._settings.node.name,
            "leader": self._scope.leader,
            "owned": sorted(nodes.owned if nodes else everything),
            "standby": sorted(nodes.standby()) if nodes else [],
            "lease": "ok" if nodes is None or nodes.database_ok else "lost",
        }

    def info(self) -> dict[str, Any]:
        inst = self._store.installation
        health = self.health()
        name = self._settings.node.name
        return {
            "version": __version__,
            "base_topic": self._topics.base,
            "discovery_prefix": self._topics.discovery_prefix,
            "counts": {
                "fixtures": len(inst.fixtures),
                "groups": len(inst.groups),
                "scenes": len(inst.scenes),
                "switches": len(inst.switches),
                "fixture_models": len(inst.fixture_models),
            },
            "universes": health["outputs"],
            "database": health["database"],
            "broker": {
                "status": health["broker"]["status"],
                "dropped": health["broker"]["dropped"],
            },
            "tasks": health["tasks"],
            "default_transition": self._settings.default_transition,
            "fps": self._settings.dmx.fps,
            "node": name,
            "leader": name if self._nodes is None else self._nodes.view.holder(LEADER),
            "nodes": nodes_info(self._nodes.view, inst.universes)["nodes"] if self._nodes else [],
        }

    def forget_sent(self) -> None:
        """The next `publish_info` sends, changed or not (a new session, a new leader)."""
        self._info_sent = None

    def publish_info(self) -> None:
        """`<base>/bridge/info`, retained, when it changed (the leader's, for all)."""
        if not self._scope.leader:
            return
        info = self.info()
        for output in info["universes"].values():  # frame counters would republish forever
            output.pop("frames_sent", None)
        for node in info["nodes"]:  # as would the heartbeat's age
            node.pop("heartbeat_s", None)
        if info["database"]["status"] == "ok":
            # Writes queue for a flush (~50 ms) all the time; as a retained QoS 1 message
            # the flicker would cost a PUBACK a second, and a broker with Nagle on holds the
            # next command back behind it (~40 ms). The count matters during an outage.
            info["database"].pop("queued_writes", None)
        text = stable_json(info)
        if text != self._info_sent and self._session.publish(
            self._topics.bridge_info, text, retain=True, qos=1
        ):
            self._info_sent = text
