"""This bridge among several (`tau.nodes`): following the leases, applying the leader's
decisions, and the database reports the bridges exchange.

- **Leases**: when the universes this bridge owns or its leadership change (`changed`),
  its outputs and the scope of what it publishes follow, the states it now answers for
  go out (all of them, groups included, when it just became the leader), and
  `NodeChanged` goes on the bus.
- **The leader's decisions** (`<base>/bridge/nodes/sync`, `tau.api.sync`) are applied
  while fresh; one decided longer ago than `TAU_MQTT__COMMAND_MAX_AGE_S` (queued while
  this bridge was away) is dropped, said once per run of them.
- **Database reports**: this bridge says when it loses or regains PostgreSQL; another
  bridge's report goes to the cluster, which weighs it for the leases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from tau.api import sync
from tau.api.publisher import STATE_QOS, StatePublisher
from tau.core.bus import Bus
from tau.core.events import NodeChanged
from tau.core.model import Installation
from tau.core.scope import Scope
from tau.core.state import StateStore
from tau.core.topics import Topics
from tau.dmx.render import Renderer
from tau.mqtt.session import MqttSession
from tau.nodes.cluster import Cluster
from tau.settings import MqttSettings

# The name operators know from the log lines (`tau.bridge event=node_sync_stale ...`).
log = logging.getLogger("tau.bridge")

__all__ = ["Leases"]


class Leases:
    def __init__(
        self,
        node_name: str,
        topics: Topics,
        store: StateStore,
        scope: Scope,
        renderer: Renderer,
        outputs_for: Callable[[Installation], dict[int, Any]],
        session: MqttSession,
        state_publisher: StatePublisher,
        bus: Bus,
        nodes: Cluster | None,
        mqtt: MqttSettings,
    ) -> None:
        self._node_name = node_name
        self._topics = topics
        self._store = store
        self._scope = scope
        self._renderer = renderer
        self._outputs_for = outputs_for
        self._session = session
        self._state_publisher = state_publisher
        self._bus = bus
        self._nodes = nodes
        self._mqtt = mqtt  # (its command age limit, read when a decision arrives)
        self._stale_sync = 0  # late `nodes/sync` operations in a row

    def changed(self, owned: frozenset[int], leader: bool) -> None:
        """Leases moved: send what is this bridge's now, and (leading) say it."""
        was_leader = self._scope.leader
        gained = set(owned) - set(self._scope.universes or ())
        inst = self._store.installation
        # Owning every universe, nothing needs narrowing (a bridge alone, always).
        self._scope.set(None if owned >= inst.universes else owned, leader)
        self._renderer.set_outputs(self._outputs_for(inst))
        if self._session.online.is_set():  # else all of it goes out on connect
            if leader and not was_leader:
                self._state_publisher.publish_all(groups=True)
            elif gained:
                self._state_publisher.publish_fixtures(
                    f.id for f in inst.fixtures.values() if f.universe in gained
                )
        self._bus.publish(NodeChanged(owned, leader, frozenset(gained), leader and not was_leader))

    def apply_sync(self, op: sync.Operation) -> None:
        """Apply the leader's decision while it is fresh; say once (per run of them) that
        late ones are dropped."""
        age, max_age = sync.age_s(op), self._mqtt.command_max_age_s
        if age <= max_age:
            self._stale_sync = 0
            sync.apply(self._store, op)
            return
        self._stale_sync += 1
        log.log(
            logging.WARNING if self._stale_sync == 1 else logging.DEBUG,
            "event=node_sync_stale op=%s node=%s age_s=%.1f max_age_s=%g: decided longer "
            "ago than TAU_MQTT__COMMAND_MAX_AGE_S (queued while this bridge was away), "
            "not applied",
            op.op,
            op.node,
            age,
            max_age,
        )

    def report_database(self, lost: bool) -> bool:
        """Tell the other bridges this one lost (or regained) PostgreSQL."""
        return self._session.publish(
            self._topics.node_database,
            sync.database_report(self._node_name, lost),
            qos=STATE_QOS,
        )

    def peer_database(self, payload: bytes) -> None:
        """Another bridge's database report (`<base>/bridge/nodes/database`)."""
        report = sync.decode_report(payload)
        if self._nodes is not None:
            self._nodes.peer_database(report.node, report.lost, report.at)
