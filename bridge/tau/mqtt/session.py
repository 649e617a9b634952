"""The broker connection on aiomqtt: last will, stable client id, QoS 1 subscriptions,
a liveness probe, reconnects with backoff, and an outbox that never loses what matters.

`run()` keeps a connection up until `stop()`. Each attempt is a fresh `aiomqtt.Client`
(a new paho client underneath: nothing of a dead connection is carried over).

- **Inbound**: one task per connection reads `async for message in client.messages`
  (aiomqtt's documented interface) and hands each message to the bridge synchronously,
  in the broker's order, with no task per message. Whatever paho has queued is handled
  in one turn of the loop (the queue's `get` does not suspend while it holds messages),
  so a burst costs one wake-up, not one per message. Messages the broker delivers while
  the connection is being set up (a persistent session's backlog) wait in that queue and
  are handled first; what the bridge says in reply waits in the outbox until it can go.
- **Subscriptions** count once the broker granted them (SUBACK); one refused or never
  acknowledged is retried every `RESUBSCRIBE_S` while the connection lasts
  (`tau.mqtt.subscriptions`, which also reads what the broker retains).
- **Outbound**: `publish()` never blocks and never fails for want of a connection: it
  puts the message in the `Outbox` (coalesced per retained topic, capped, paced). A few
  writer tasks per connection take from it and await `client.publish`, so at most
  `WRITERS` messages sit in paho at once: a broker that reads slowly holds the writers,
  not the bridge's memory. QoS 1 messages not acknowledged before a disconnect go back
  to the front of the outbox.
- **Liveness**: paho's keep-alive only pings after a keep-alive without *inbound*
  traffic and waits another keep-alive for the answer (2x); a broker that froze with its
  TCP connection open must be noticed within 1.5x keep-alive, whether or not the bridge is
  publishing. Every keep-alive/3 the session unsubscribes from a topic it never
  subscribed to (the broker must answer UNSUBACK; nobody else sees anything); no answer
  within 3/4 keep-alive drops the connection.
- **Failures**: an unexpected exception (a bug, not a lost connection) in any of the
  connection's tasks, the outbox writers included, ends `run()`: the bridge's supervisor
  logs it, shows it and starts the session again.
- **Reconnects**: each attempt, the backoff between them and the one line saying what
  went wrong are `tau.mqtt.connector`'s; this module serves a connection once accepted
  and stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiomqtt

from tau.mqtt.client import BrokerClosedError, BrokerSilentError
from tau.mqtt.connector import RETRY_S, Connector
from tau.mqtt.outbox import Outbox, Outgoing, Writers
from tau.mqtt.subscriptions import READ_RETAINED_S, Subscriptions
from tau.settings import MqttSettings
from tau.supervisor import checkpoint

log = logging.getLogger(__name__)

__all__ = ["MessageHandler", "MqttSession"]

MessageHandler = Callable[[str, bytes, bool], None]  # topic, payload, retained


WRITERS = 32  # messages handed to paho at once (its queue is unbounded)


# ------------------------------------------------------------------------- session


def _report_ends(tasks: list[asyncio.Task[Any]]) -> None:
    """What the connection's other tasks ended with, besides the one raised: a lost
    connection is said once by the run loop (DEBUG here), anything else is a bug."""
    for task in tasks:
        if task.cancelled() or (exc := task.exception()) is None:
            continue
        if isinstance(exc, aiomqtt.MqttError):
            log.debug("event=mqtt_task_ended task=%s error=%r", task.get_coro(), exc)
        else:
            log.error("event=mqtt_task_failed task=%s", task.get_coro(), exc_info=exc)


class MqttSession:
    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        availability_topic: str,
        subscriptions: Callable[[], list[str]],
        on_connect: Callable[[], Awaitable[None]],
        on_message: MessageHandler,
        probe_topic: str | None = None,
        on_reconnect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        *,
        record: Path | None = None,
        retry_s: float = RETRY_S,
    ) -> None:
        self._settings = settings
        self._availability = availability_topic
        self._on_connect = on_connect
        self._on_message = on_message
        self._probe_topic = probe_topic or f"{availability_topic}/probe/{client_id}"
        self._current: aiomqtt.Client | None = None
        self._stopping = asyncio.Event()
        self._subs = Subscriptions(subscriptions, self._probe_topic)
        self._outbox = Outbox(settings.max_queued)
        self._writers = Writers(self._outbox)
        self._connector = Connector(
            settings,
            client_id,
            availability_topic,
            record=record,
            retry_s=retry_s,
            pending_calls=WRITERS + 16,
        )
        self._done = asyncio.Event()
        self.connected = asyncio.Event()
        self.online = asyncio.Event()  # set once availability `online` was acknowledged
        self.reconnects = 0
        self.on_reconnect = on_reconnect  # e.g. a metrics counter
        self._on_disconnect = on_disconnect  # a connection that was up is over
        self.leaving = False  # a clean stop began: its own `offline` is not a last will
        self._deaf = False  # a clean stop applied what was queued: nothing more is applied
        self.ignored_at_stop = 0
        self._last_inbound = 0.0  # time.monotonic() of the last inbound message handled

    # -- publishing ---------------------------------------------------------------------

    def publish(
        self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 0
    ) -> bool:
        """Queue a message without waiting, connected or not; False when it was refused
        (the outbox holds `max_queued` replies/log entries/events already)."""
        data = payload.encode() if isinstance(payload, str) else payload
        if self._writers.put(Outgoing(topic, data, qos, retain)):
            return True
        if self._outbox.refused == 1:
            log.warning(
                "event=mqtt_outbox_full max_queued=%d topic=%s: the broker is slow or away; "
                "replies, log entries and events are dropped until it catches up "
                "(states are kept: only each light's newest waits)",
                self._outbox.max_transient,
                topic,
            )
        return False

    @property
    def last_error(self) -> str | None:
        """What the broker connection last failed with, until a connection is set up."""
        return self._connector.last_error

    @property
    def queued(self) -> int:
        """Messages waiting for the broker."""
        return len(self._outbox)

    async def _publish_acked(self, topic: str, payload: bytes) -> None:
        await self._writers.put_acked(topic, payload)

    # -- connection ---------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a connection up until `stop()` (`Connector.keep_up`: attempts, retries,
        what went wrong), serving each one accepted."""
        self._done.clear()  # (again, when the supervisor restarts the session)
        try:
            await self._connector.keep_up(self._serve, self._abandon, self._stopping)
        finally:
            self._done.set()

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Run one accepted connection until it is lost (raises) or the session stops."""
        self._current = client
        self._subs.reset()
        tasks = [asyncio.create_task(self._writers.write(client)) for _ in range(WRITERS)]
        tasks.append(asyncio.create_task(self._resubscribe()))
        lost = asyncio.create_task(self._receive(client))
        probe = asyncio.create_task(self._probe(client))
        stopping = asyncio.create_task(self._stopping.wait())
        setup = asyncio.create_task(self._setup())
        marking = asyncio.create_task(self._mark_up())
        # The writers are watched too: one that fails ends the connection, not silently.
        watched = {lost, probe, stopping, setup, marking, *tasks}
        raised: asyncio.Task[Any] | None = None
        try:
            while True:
                done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    raised = task
                    task.result()  # a lost connection or a failed setup raises here
                raised = None
                if stopping in done or lost in done:
                    return
                watched -= done
        finally:
            everything = [*tasks, lost, probe, stopping, setup, marking]
            for task in everything:
                task.cancel()
            await asyncio.wait(everything)
            _report_ends([t for t in everything if t is not raised])

    async def _setup(self) -> None:
        await self._sync_subscriptions()
        self.connected.set()
        if self._connector.up():
            self.reconnects += 1
            if self.on_reconnect is not None:
                self.on_reconnect()
        # Discovery and states first, so `online` means "everything is out".
        await self._on_connect()
        if self.leaving:
            return  # a clean stop began meanwhile: its `offline` stands
        await self._publish_acked(self._availability, b"online")
        self.online.set()

    async def _mark_up(self) -> None:
        """Record, while connected, that the bridge is: a crash (kill -9) leaves the time
        the connection was last known up, which is when its session began to age."""
        every = max(self._settings.command_max_age_s / 4, 0.1)
        while True:
            self._connector.last_up.mark()
            await asyncio.sleep(every)

    async def _settle(self, timeout_s: float = 2.0) -> None:
        """A clean stop: apply what the broker already handed over (the commands in the
        client's queue were acknowledged to it), stop taking more, and let the outbox send
        the states they made, so what Home Assistant last heard is what is stored."""
        client = self._current
        deadline = time.monotonic() + timeout_s

        async def until_empty(size: Callable[[], int]) -> None:
            # Neither queue says when it empties: a short poll, bounded by the deadline.
            while time.monotonic() < deadline:
                if not size():
                    return
                await asyncio.sleep(0.005)

        if client is not None:
            await until_empty(lambda: len(client.messages))
        self._deaf = True
        await until_empty(lambda: len(self._outbox))
        if len(self._outbox):
            log.warning("event=mqtt_stop_unsent messages=%d", len(self._outbox))

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Hand every inbound message to the bridge, in order; ends when the connection
        does (raises)."""
        handle = self._on_message
        try:
            async for message in client.messages:
                if self._deaf:  # a clean stop settled: what comes now is not applied
                    self.ignored_at_stop += 1
                    continue
                self._last_inbound = time.monotonic()
                self._subs.collect(message)
                try:
                    handle(message.topic.value, message.payload, message.retain)
                except Exception:  # the handler reports its own errors; this is a bug
                    log.exception("event=mqtt_handler_failed topic=%s", message.topic.value)
                checkpoint("mqtt")  # (after the handler: the message was not lost)
        except aiomqtt.MqttError as exc:
            reason = exc.__cause__  # paho's reason code, when the broker gave one
            raise BrokerClosedError(f"the connection was closed ({reason or exc})") from reason
        raise BrokerClosedError("the connection was closed")

    async def inbound_quiet(self, quiet_s: float, patience_s: float) -> None:
        """Wait until no inbound message arrived for `quiet_s`, or `patience_s` passed:
        low-priority work (request replies) yields to the messages being read, so a light
        command behind a burst is read without waiting for the burst's answers."""
        give_up = time.monotonic() + patience_s
        while True:
            now = time.monotonic()
            idle = now - self._last_inbound
            if idle >= quiet_s or now >= give_up:
                return
            await asyncio.sleep(min(quiet_s - idle, give_up - now))

    async def _probe(self, client: aiomqtt.Client) -> None:
        keepalive = self._settings.keepalive_s
        period, patience = keepalive / 3, keepalive * 0.75
        while True:
            await asyncio.sleep(period)
            try:
                await client.unsubscribe(self._probe_topic, timeout=patience)
            except aiomqtt.MqttError:
                self.connected.clear()  # /healthz and the metric say so at once
                raise BrokerSilentError(
                    f"no answer for {patience:g} s (keep-alive {keepalive} s): the broker "
                    "stopped answering with the connection open"
                ) from None

    def _abandon(self) -> None:
        """The current connection is over: its late packets are dropped, nothing is sent."""
        self._current = None
        was_up = self.connected.is_set() or self.online.is_set()
        self._connector.last_up.mark()  # the broker's session starts ageing now
        self.connected.clear()
        self.online.clear()
        if was_up and self._on_disconnect is not None:
            self._on_disconnect()

    async def sync_subscriptions(self) -> None:
        """Subscribe to what is wanted now (switch input topics come and go with reloads).

        A connection that fails meanwhile is the run loop's business: the next one
        subscribes to everything afresh."""
        try:
            await self._sync_subscriptions()
        except aiomqtt.MqttError as exc:
            log.debug("event=mqtt_resubscribe_failed error=%r", str(exc))

    async def _sync_subscriptions(self) -> None:
        client = self._current
        if client is not None:
            await self._subs.sync(client, lambda: self._current)

    async def _resubscribe(self) -> None:
        """Retry what is wanted and not granted (refused, or its SUBACK never came)."""
        while True:
            await asyncio.sleep(self._subs.resubscribe_s)
            if self.connected.is_set() and self._subs.missing():
                await self.sync_subscriptions()

    async def read_retained(
        self, pattern: str, timeout_s: float = READ_RETAINED_S
    ) -> dict[str, bytes] | None:
        """Every retained message the broker holds on `pattern` now (topic -> payload), or
        None when the connection is not up or broke meanwhile (`Subscriptions.read`)."""
        client = self._current
        if client is None:
            return None
        return await self._subs.read(client, pattern, timeout_s)

    async def stop(
        self, announce: bool = True, farewell: Mapping[str, bytes] | None = None
    ) -> None:
        """Say `offline` (a clean stop sends no last will) and disconnect; `announce=False`
        when other bridges stay online (their `online` stands). `farewell`: retained
        messages acknowledged before that (a universe nobody else sends: `offline`).

        From here on this session never says `online` again, and the `offline` it hears
        back is its own (`leaving`), not another bridge's last will."""
        self.leaving = True
        self.online.clear()
        last = dict(farewell or {})
        if announce:
            last[self._availability] = b"offline"
        if self.connected.is_set():
            await self._settle()
        if last and self.connected.is_set():
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(self._publish_acked(t, p) for t, p in last.items())),
                    timeout=2,
                )
            except TimeoutError:
                log.debug("event=mqtt_offline_not_sent")
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout=3)
        if self.ignored_at_stop:
            log.info(
                "event=mqtt_ignored_at_stop messages=%d: they arrived after the stop began",
                self.ignored_at_stop,
            )
