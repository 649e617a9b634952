"""Home Assistant's side of the bridge, as an extension: discovery configs, the
retained topics a removed or renamed object leaves behind, each universe's
availability, and everything again when Home Assistant starts.

At start, before the first discovery, the bridge reads the configs retained under its
own node id and clears those the installation no longer has (as Zigbee2MQTT does): a
fixture removed while Tau was stopped, or what an earlier installation on the same base
topic left, disappears from Home Assistant. Clearing them first also frees their entity
ids, so a new entity named like an old one gets no `_2`.

With several bridges the leader does all of it, for all of them; each bridge
re-publishes the states it speaks for when Home Assistant starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from tau.api.discovery import discovery_payloads
from tau.api.publisher import DiscoveryPublisher, Publish, StatePublisher
from tau.core.events import (
    HomeAssistantOnline,
    InstallationReloaded,
    MqttConnected,
    MqttDisconnected,
    NodeChanged,
)
from tau.core.extension import Context, EventHandler, Extension, TriggerTypes
from tau.core.model import Installation
from tau.core.topics import Topics
from tau.db.leases import universe_resource
from tau.nodes.cluster import Cluster
from tau.supervisor import checkpoint, finish

log = logging.getLogger("tau.homeassistant")

# (pattern) -> every retained topic and payload on it, None when it could not be read
ReadRetained = Callable[[str], Awaitable[Mapping[str, bytes] | None]]

# Availability is re-checked this often against the leases (a node that died).
AVAILABILITY_EVERY_S = 1.0


class HomeAssistantExtension(Extension):
    name = "homeassistant"

    def __init__(
        self,
        ctx: Context,
        publish: Publish,
        triggers: Callable[[Installation], Mapping[int, TriggerTypes]],
        states: StatePublisher,
        nodes: Cluster | None,
        read_retained: ReadRetained | None = None,
    ) -> None:
        self._store = ctx.store
        self._leads = ctx.leads
        self._topics = ctx.topics
        self._publish = publish
        self._triggers = triggers
        self._states = states
        self._nodes = nodes
        self._read_retained = read_retained
        self._swept = read_retained is None  # leftovers under the node id cleared once
        self.discovery = DiscoveryPublisher(publish)
        self.availability = UniverseAvailability(self._topics, publish)
        self._connected = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._ha_every = ctx.settings.homeassistant.birth_debounce_s
        self._ha_last = float("-inf")
        self._ha_pending = False

    def events(self) -> Iterable[EventHandler]:
        return [
            (MqttConnected, self._on_connected),
            (MqttDisconnected, self._on_disconnected),
            (InstallationReloaded, self._on_reloaded),
            (NodeChanged, self._on_node_changed),
            (HomeAssistantOnline, self._on_ha_online),
        ]

    async def run(self) -> None:
        """Universe availability, every AVAILABILITY_EVERY_S while leading."""
        while True:
            await asyncio.sleep(AVAILABILITY_EVERY_S)
            checkpoint(self.name)
            if self._connected and self._leads():
                self.publish_universes()

    async def stop(self) -> None:
        tasks, self._tasks = set(self._tasks), set()
        await finish(tasks, self.name)

    async def connected(self) -> None:
        # Discovery goes out before the bridge says `online` (see the session).
        if self._leads():
            await self._sweep_and_publish()

    # ----------------------------------------------------------------- publishing
    def publish_discovery(self, force: bool = False, retained: Iterable[str] | None = None) -> int:
        """Publish what changed (`force`: everything); clear the `retained` config topics
        under the node id that the installation no longer has."""
        inst = self._store.installation
        payloads = discovery_payloads(self._topics, inst, dict(self._triggers(inst)))
        stale = sorted(set(retained or ()) - set(payloads))
        for topic in stale:
            self._publish(topic, b"", retain=True, qos=1)
        if stale:
            log.info("event=discovery_leftovers_cleared configs=%d", len(stale))
        return self.discovery.sync(payloads, force=force)

    def publish_universes(self, force: bool = False) -> None:
        self.availability.sync(self._store.installation.universes, self._nodes, force)

    def _everything(self, retained: Iterable[str] | None = None) -> None:
        sent = self.publish_discovery(force=True, retained=retained)
        self.publish_universes(force=True)
        log.info("event=discovery_published configs=%d", sent)

    async def _sweep_and_publish(self) -> None:
        """Everything, after clearing the leftovers under the node id (once per process)."""
        retained = None
        if not self._swept and self._read_retained is not None:
            retained = await self._read_retained(self._topics.discovery_configs)
            self._swept = retained is not None  # else the next connection tries again
            await self._sweep_states(self._read_retained)
        self._everything(retained)

    # --------------------------------------------------------------------- events
    def _on_connected(self, _event: MqttConnected) -> None:
        self._connected = True

    def _on_disconnected(self, _event: MqttDisconnected) -> None:
        self._connected = False

    def _on_reloaded(self, event: InstallationReloaded) -> None:
        if event.first or not self._leads():
            return  # (offline, what it publishes waits in the outbox)
        self._clear_stale_topics(event.previous, event.installation)
        self.publish_discovery()
        self.publish_universes()

    def _on_node_changed(self, event: NodeChanged) -> None:
        if not self._connected or not event.leader:
            return
        if event.became_leader:
            self._spawn(self._sweep_and_publish())
        else:
            self.publish_universes()

    def _on_ha_online(self, _event: HomeAssistantOnline) -> None:
        """Debounced: one republish per `birth_debounce_s` at most, however many birth
        messages arrive (a flapping Home Assistant, or a flood on its status topic);
        a birth during the pause is answered once when it ends."""
        if self._ha_pending:
            return
        self._ha_pending = True
        wait = max(0.0, self._ha_last + self._ha_every - time.monotonic())
        self._spawn(self._republish_for_ha(wait))

    async def _republish_for_ha(self, wait: float) -> None:
        # HA's documentation asks for a short random delay so a restart of HA is not
        # met by every integration at the same instant.
        try:
            await asyncio.sleep(wait + random.uniform(0.1, 0.6))
        finally:
            self._ha_pending = False
        self._ha_last = time.monotonic()
        log.info("event=homeassistant_online_republish")
        if self._leads():
            self._everything()
        self._states.publish_all(groups=self._leads())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro, name=f"{self.name}-task")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        with contextlib.suppress(asyncio.CancelledError):
            if task.exception() is not None:
                log.error("event=homeassistant_task_failed error=%r", task.exception())

    def _clear_stale_topics(self, old: Installation, new: Installation) -> None:
        """Renamed or deleted objects leave no retained state behind."""
        stale = state_topics(self._topics, old) - state_topics(self._topics, new)
        for topic in sorted(stale):
            self._publish(topic, b"", retain=True, qos=1)

    async def _sweep_states(self, read: ReadRetained) -> None:
        """The retained states of lights the installation no longer has (removed while
        Tau was stopped) are cleared too."""
        base = self._topics.base
        found: set[str] = set()
        for level in ("fixture/+", "group/+", "group/+/circadian", "group/+/sleep"):
            found |= set(await read(f"{base}/{level}") or ())
        stale = found - state_topics(self._topics, self._store.installation)
        for topic in sorted(stale):
            self._publish(topic, b"", retain=True, qos=1)
        if stale:
            log.info("event=state_leftovers_cleared topics=%d", len(stale))


def state_topics(topics: Topics, inst: Installation) -> set[str]:
    """The retained light state topics the installation has (and its Circadian and Sleep
    switches')."""
    out = {topics.fixture(s) for s in inst.fixture_by_slug}
    out |= {topics.group(s) for s in inst.group_by_slug}
    for group in inst.groups.values():
        if group.circadian_profile_id:
            out |= {topics.circadian(group.slug), topics.sleep(group.slug)}
    return out


class UniverseAvailability:
    """`<base>/bridge/universe/<n>/state`: `online` while some bridge outputs universe n.

    Home Assistant shows a fixture available while the bridges are online and its
    universe is (discovery's `availability_mode: all`). Only the leader publishes it,
    from the leases it saw last; a universe gone from the installation is cleared."""

    def __init__(self, topics: Topics, publish: Publish) -> None:
        self._topics = topics
        self._publish = publish
        self._sent: dict[int, str] = {}

    def sync(self, universes: Iterable[int], nodes: Cluster | None, force: bool = False) -> None:
        if force:
            self._sent.clear()
        wanted = set(universes)
        for universe in sorted(wanted | set(self._sent)):
            if universe not in wanted:
                value = ""
            elif nodes is None or universe in nodes.owned:
                value = "online"
            else:
                held = nodes.view.holder(universe_resource(universe)) is not None
                value = "online" if held else "offline"
            if self._sent.get(universe) == value:
                continue
            if self._publish(self._topics.universe_state(universe), value, retain=True, qos=1):
                self._sent[universe] = value
                if not value:
                    del self._sent[universe]
