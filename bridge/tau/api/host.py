"""What the API layer's extensions (Home Assistant, status, bridge requests) get from
the running bridge: the controller is this host, and hands itself over when it
builds the extension list (`tau.extensions`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tau.api.publisher import StatePublisher
from tau.api.requests import BridgeHost
from tau.core.extension import TriggerTypes
from tau.core.model import Installation
from tau.core.scope import Scope
from tau.db.writer import StateWriter
from tau.mqtt.session import MqttSession
from tau.nodes.cluster import Cluster


class Host(BridgeHost, Protocol):
    @property
    def session(self) -> MqttSession: ...
    @property
    def state_publisher(self) -> StatePublisher: ...
    @property
    def scope(self) -> Scope: ...
    @property
    def nodes(self) -> Cluster | None: ...
    @property
    def writer(self) -> StateWriter: ...
    def device_triggers(self, installation: Installation) -> Mapping[int, TriggerTypes]: ...
