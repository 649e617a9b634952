"""The controller: inbound MQTT -> parse -> resolve -> store, plus live reloads.

`Bridge` builds the MQTT session, the state publisher and the extensions (the
API layer's and the features', from `tau.extensions`) from the parts `app.py`
hands it at construction, and routes each inbound message to its handler;
`app.py` starts and stops it in order. Handlers never wait on PostgreSQL
between a message and its DMX frame: commands are applied to the in-memory
store, which hands the renderer one batch and marks state for the write-behind.

With several bridges (`tau.nodes`), every bridge takes light commands and the
kinds extensions mark `everywhere`; the rest goes to the leader only, and
`nodes_changed` follows the leases (`tau.api.leases`: outputs, the scope of what
this bridge publishes, `NodeChanged` on the bus). Replies to requests, rejections
and the record of recent inputs are `tau.api.answers`'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from tau.api import sync
from tau.api.answers import Answers
from tau.api.faults import FAULT_REQUEST
from tau.api.leases import Leases
from tau.api.publisher import STATE_QOS, StatePublisher
from tau.api.request_queue import RequestQueue
from tau.api.router import Route, patterns, route, subscriptions
from tau.api.status import BridgeStatus
from tau.core.bus import Bus
from tau.core.commands import check_size, parse_light_command
from tau.core.events import (
    HomeAssistantOnline,
    InstallationReloaded,
    MqttConnected,
    MqttDisconnected,
)
from tau.core.extension import Context, Extension, TriggerTypes
from tau.core.installation import installation_from_rows, patches
from tau.core.model import Installation
from tau.core.scope import Scope
from tau.core.state import StateStore
from tau.core.topics import Topics
from tau.db.loader import fetch_installation
from tau.db.writer import StateWriter
from tau.dmx.render import Renderer
from tau.embedded import data_directory
from tau.errors import TauError
from tau.metrics import Metrics
from tau.mqtt.lastup import last_up_file
from tau.mqtt.session import MqttSession
from tau.nodes.cluster import Cluster
from tau.settings import Settings
from tau.supervisor import (
    Spawn,
    Supervisor,
    finish,
    unsupervised,
)

# The name operators know from the log lines (`tau.bridge event=input_rejected ...`).
log = logging.getLogger("tau.bridge")


async def load_installation(conn: asyncpg.Connection) -> Installation:
    """Read the installation model in one snapshot."""
    return installation_from_rows(await fetch_installation(conn))


# How long a request that changed the installation waits for LISTEN/NOTIFY's reload.
RELOAD_WAIT_S = 2.0
# Request handling and replies: tau.api.request_queue (low priority, bounded).

# Messages every bridge handles (several bridges), with the kinds extensions declare
# `everywhere`; the rest only the leader does.
EVERY_NODE = frozenset(
    {
        "fixture_set",
        "group_set",
        "ha_status",
        "bridge_state",
        "node_sync",
        "node_database",
        "broker_dropped",
    }
)
# Messages from the bridges themselves or the broker: no size limit to check.
OWN_KINDS = frozenset({"ha_status", "bridge_state", "node_sync", "node_database", "broker_dropped"})


def _log_failure(part: str, exc: BaseException) -> None:
    log.error("event=task_failed part=%s", part, exc_info=exc)


class Bridge:
    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        store: StateStore,
        renderer: Renderer,
        writer: StateWriter,
        bus: Bus,
        extensions: Callable[[Context, Any], list[Extension]],
        outputs_for: Callable[[Installation], dict[int, Any]],
        metrics: Metrics,
        scope: Scope | None = None,
        nodes: Cluster | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.settings = settings
        self.supervisor = supervisor
        self._part: Spawn = supervisor.task if supervisor is not None else unsupervised
        self.topics = Topics.of(settings)
        self._pool = pool
        self._store = store
        self.renderer = renderer
        self.writer = writer
        self._outputs_for = outputs_for
        self._metrics = metrics
        self.scope = scope or Scope(lambda: store.installation)
        self.nodes = nodes
        self.node_name = settings.node.name
        self.session = MqttSession(
            settings.mqtt,
            settings.client_id,
            self.topics.bridge_state,
            self._subscriptions,
            self._on_connect,
            self.on_message,
            on_reconnect=metrics.mqtt_reconnects.inc,
            on_disconnect=lambda: self._bus.publish(MqttDisconnected()),
            record=data_directory(settings) / last_up_file(settings.client_id),
        )
        self._bus = bus
        changes = sync.SharedChanges(
            store,
            self.node_name,
            lambda op: self.session.publish(self.topics.node_sync, op, qos=1),
            lambda: self.nodes is not None and not self.nodes.alone,
        )
        self.state_publisher = StatePublisher(
            store, self.topics, self.session.publish, self.scope.fixtures
        )
        self._leases = Leases(
            self.node_name,
            self.topics,
            store,
            self.scope,
            renderer,
            outputs_for,
            self.session,
            self.state_publisher,
            bus,
            nodes,
            settings.mqtt,
        )
        self.nodes_changed = self._leases.changed  # the cluster's listener (`app.py`)
        self._apply_sync = self._leases.apply_sync  # (bound once: per message)
        if nodes is not None:  # tell the others when this bridge loses PostgreSQL
            nodes.report_database = self._leases.report_database
        failed = supervisor.failed if supervisor is not None else _log_failure
        self.extensions = extensions(
            Context(
                settings,
                store,
                bus,
                self._publish_event,
                lambda: self.scope.leader,
                changes,
                failed,
            ),
            self,
        )
        self.status = next(e for e in self.extensions if isinstance(e, BridgeStatus))
        if supervisor is not None:
            self.status.tasks = supervisor.health
        self._everywhere = EVERY_NODE.union(*(ext.everywhere for ext in self.extensions))
        self._owner: dict[str, Extension] = {}  # message kind -> extension
        for ext in self.extensions:
            for kind in ext.topics.values():
                if kind in self._owner:
                    raise ValueError(f"{ext.name} and {self._owner[kind].name} both own {kind}")
                self._owner[kind] = ext
            for event_type, handler in ext.events():
                bus.subscribe(event_type, ext.name, handler)
        self._patterns = patterns(ext.topics for ext in self.extensions)
        self._requests = {n: r for ext in self.extensions for n, r in ext.requests().items()}
        if settings.supervisor.fault_injection:
            self._requests["testing/fail"] = FAULT_REQUEST
        self._answers = Answers(self.topics, self.session.publish, metrics, self._requests)
        self._count = self._answers.count  # (bound once: the command path calls it)
        self.reject = self._answers.reject
        self.recent = self._answers.recent  # for the terminal view
        self.rejections = self._answers.rejections  # (when, topic, reason), ditto
        # Bridge requests wait for one of `requests.workers` workers; a full queue
        # answers "busy" at once. Light commands never wait behind requests.
        self._request_queue = RequestQueue(
            self.session,
            self.topics,
            self._requests,
            self._answers.answer,
            size=settings.requests.queue,
            workers=settings.requests.workers,
            max_replies=settings.mqtt.max_queued,
            busy_total=metrics.rejected.labels("busy"),
        )
        self._parts: list[asyncio.Task[None]] = []
        self._external: dict[str, Extension] = {}
        self._reload_lock = asyncio.Lock()
        self._reloads_begun = 0
        self._reloaded = asyncio.Condition()  # notified with _last_reload, a begun count
        self._last_reload = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------ host protocol
    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @property
    def store(self) -> StateStore:
        return self._store

    @property
    def rejected(self) -> int:
        """Inputs rejected since the start, for the terminal view and the web page."""
        return self._answers.rejected

    # --------------------------------------------------------------- lifecycle
    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> None:
        self._parts = [
            self._part("mqtt", self.session.run),
            self._part("request-workers", self._request_queue.run),
        ]

    async def stop(self) -> None:
        # With other bridges still up, their `online` stands: no `offline` from this one.
        # A universe this bridge sends that no living bridge could take over goes dark.
        dark = self._store.installation.universes if self.nodes is None else self.nodes.unattended()
        self._request_queue.hand_over()  # replies made go out with the states
        await self.session.stop(
            announce=self.nodes is None or self.nodes.alone,
            farewell={self.topics.universe_state(u): b"offline" for u in sorted(dark)},
        )
        parts, self._parts = self._parts, []
        await finish([*parts, *self._tasks], "mqtt")

    # ------------------------------------------------------------------ reload
    async def reload(self) -> None:
        """Re-read the installation and apply it everywhere (no restart)."""
        async with self._reload_lock:
            self._reloads_begun += 1
            begun = self._reloads_begun
            async with self._pool.acquire(timeout=5) as conn:
                inst = await load_installation(conn)
            self.adopt(inst)
            if self.nodes is not None:  # a new universe is this bridge's at once
                await self.nodes.refresh()
        async with self._reloaded:
            self._last_reload = begun
            self._reloaded.notify_all()

    async def changed_installation(self, timeout_s: float = RELOAD_WAIT_S) -> None:
        """Return once a reload that began after this call has been applied.

        A committed change raises NOTIFY and the config listener reloads: that is the
        one reload path. A request waits for it, so its reply can name what it made;
        only if no reload comes in `timeout_s` (LISTEN is reconnecting) does it reload
        here, once."""
        after = self._reloads_begun
        try:
            async with asyncio.timeout(timeout_s), self._reloaded:
                await self._reloaded.wait_for(lambda: self._last_reload > after)
        except TimeoutError:
            log.debug("event=reload_by_request reason=no_notification")
            await self.reload()

    def adopt(self, inst: Installation, first: bool = False) -> None:
        old = self._store.installation
        self._store.set_installation(inst)
        self._bus.publish(InstallationReloaded(inst, old, first))
        self._external = {t: ext for ext in self.extensions for t in ext.external_topics()}
        self.renderer.set_outputs(self._outputs_for(inst))
        self.renderer.set_patch(patches(inst))
        if first:
            return
        self.state_publisher.publish_all(groups=self.scope.leader)
        self._spawn(self.session.sync_subscriptions(), "resubscribe")
        log.info(
            "event=installation_reloaded fixtures=%d groups=%d scenes=%d switches=%d",
            len(inst.fixtures),
            len(inst.groups),
            len(inst.scenes),
            len(inst.switches),
        )

    def device_triggers(self, installation: Installation) -> dict[int, TriggerTypes]:
        """Every extension's Home Assistant device triggers, for discovery."""
        return {k: v for e in self.extensions for k, v in e.device_triggers(installation).items()}

    # ------------------------------------------------------------------- MQTT
    def _subscriptions(self) -> list[str]:
        return subscriptions(self.topics, self._patterns, sorted(self._external))

    async def _on_connect(self) -> None:
        # Everything goes out before `online`: the states here, discovery, availability
        # and info from the extensions that react to the event.
        self.state_publisher.publish_all(groups=self.scope.leader)
        self._bus.publish(MqttConnected())
        for ext in self.extensions:
            try:
                await ext.connected()
            except Exception:  # one extension's failure must not keep the bridge offline
                log.exception("event=extension_connect_failed extension=%s", ext.name)
        log.info("event=mqtt_online")

    def on_message(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """Handle one inbound message, synchronously: its frame and state are queued
        before the next message is read. Bad input is answered, never raised."""
        found = route(self.topics, topic, self._external, self._patterns)
        if found is None:
            return
        if found.kind not in self._everywhere and not self.scope.leader:
            return  # the leading bridge handles it (several bridges)
        try:
            self._dispatch(found, topic, payload)
        except TauError as exc:
            self.reject(topic, payload, str(exc), found)
        except Exception as exc:  # a bug must not take the bridge down: report it
            log.exception("event=handler_failed topic=%s", topic)
            self.reject(topic, payload, f"internal error: {exc!r}", found)

    def _dispatch(self, found: Route, topic: str, payload: bytes) -> None:
        if found.kind not in OWN_KINDS:
            check_size(payload)
        inst = self._store.installation
        match found.kind:
            case "fixture_set" | "group_set":
                kind = "fixture" if found.kind == "fixture_set" else "group"
                index = inst.fixture_by_slug if kind == "fixture" else inst.group_by_slug
                ident = index.get(found.name)
                if ident is None:
                    raise TauError(f"unknown {kind} {found.name!r}")
                command = parse_light_command(payload)
                self._store.command((kind, ident), command)  # type: ignore[arg-type]
                self._count(found.kind, topic, payload)
            case "request":
                self._request_queue.start(found.name, payload)
            case "ha_status":
                if payload.strip().lower() == b"online":
                    self._bus.publish(HomeAssistantOnline())
            case "bridge_state":
                # Another bridge's last will: this one is still here. (Its own `offline`
                # at a clean stop comes back too: `leaving`, and `online` is cleared.)
                if (
                    payload == b"offline"
                    and self.session.online.is_set()
                    and not self.session.leaving
                ):
                    self.session.publish(self.topics.bridge_state, "online", retain=True, qos=1)
            case "node_sync":  # the leader's decision, this bridge's own included
                self._apply_sync(sync.decode(payload))
            case "broker_dropped":
                if rise := self.status.drops.report(payload):
                    self._metrics.broker_dropped.inc(rise)
            case "node_database":
                self._leases.peer_database(payload)
            case "input_topic":
                self._external[topic].on_message(found.kind, found.name, payload)
                self._count(found.kind, topic, payload)
            case kind:
                self._owner[kind].on_message(kind, found.name, payload)
                self._count(kind, topic, payload)

    def _publish_event(self, topic: str, payload: str) -> None:
        """An extension's message under the base topic: at once, QoS 0, not retained."""
        self.session.publish(f"{self.topics.base}/{topic}", payload, qos=STATE_QOS)

    async def request(self, name: str, payload: bytes) -> dict[str, Any]:
        """A bridge request from the web page (`Answers.request`): the reply, unpublished."""
        return await self._answers.request(name, payload)

    # ------------------------------------------------------------ health, info
    def health(self) -> dict[str, Any]:
        return self.status.health()

    def node_health(self) -> dict[str, Any]:
        return self.status.node_health()
