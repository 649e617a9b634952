"""What the bridge has to say to the broker, waiting its turn: coalesced, capped and paced.

Everything the bridge publishes goes through one `Outbox`, in order, whether or not the
broker is reachable at the moment; the session's writers take from the front while a
connection is up. Three rules keep it small and safe:

- **Coalesced**: a retained message (a light's state, a discovery config, availability)
  replaces a waiting one on the same topic in place, so only each object's newest state
  waits, however long the broker stays slow or away. A removal (an empty retained config)
  that is superseded by a new config is superseded for good, which is right.
- **Capped**: other messages (request replies, `bridge/log` entries, switch events) are
  held up to `max_transient`; beyond it new ones are refused and counted, so a broker that
  reads slowly never makes the bridge grow without bound.
- **Paced**: after a burst of `BURST` messages, they leave at `RATE` a second. Mosquitto
  drops QoS 0 messages for a subscriber that has `max_queued_messages` (1,000 by default)
  waiting, and Home Assistant or a dashboard reads slower than the bridge writes: an
  unpaced start of 10,000 configs and 10,000 states lost half of the states on the way to
  a Python subscriber. The steady command rate never waits.

Messages at QoS 1 that a writer took but the broker did not acknowledge (the connection
dropped) go back to the front with `requeue`, unless a newer one for the same topic is
already waiting: a discovery removal or a retained-state clear is never lost to a
disconnect.

`Writers` are what takes from it: a few tasks per connection, each handing one message
at a time to the client and waiting for it to go.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt

from tau.supervisor import checkpoint

log = logging.getLogger("tau.mqtt.session")

BURST = 1000
RATE = 10_000.0  # messages per second once a burst is spent


@dataclass(slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    sent: asyncio.Future[None] | None = None  # resolved when the broker has it


Key = str | int  # retained: the topic; otherwise a sequence number


class Outbox:
    def __init__(
        self,
        max_transient: int,
        *,
        burst: int = BURST,
        rate: float = RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_transient = max_transient
        self._items: OrderedDict[Key, Outgoing] = OrderedDict()
        self._transient = 0
        self._seq = 0
        self._burst = float(burst)
        self._rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._tokens_t = clock()
        self.refused = 0  # transient messages turned away since the last `take_refused`

    def __len__(self) -> int:
        return len(self._items)

    @property
    def transient(self) -> int:
        return self._transient

    def put(self, message: Outgoing) -> bool:
        """Queue a message; False when it was refused (transient, and the cap is reached)."""
        if message.retain:
            old = self._items.get(message.topic)
            if old is not None:
                message.qos = max(message.qos, old.qos)
                if message.sent is None:
                    message.sent = old.sent
            self._items[message.topic] = message  # an existing key keeps its place
            return True
        if self._transient >= self.max_transient:
            self.refused += 1
            return False
        self._seq += 1
        self._items[self._seq] = message
        self._transient += 1
        return True

    def take(self) -> tuple[Key, Outgoing]:
        key, message = self._items.popitem(last=False)
        if isinstance(key, int):
            self._transient -= 1
        return key, message

    def requeue(self, key: Key, message: Outgoing) -> None:
        """Put an unacknowledged message back at the front (unless superseded)."""
        if key in self._items:
            return
        self._items[key] = message
        self._items.move_to_end(key, last=False)
        if isinstance(key, int):
            self._transient += 1

    def wait_s(self) -> float:
        """0 and one token spent when a message may leave now; else seconds to wait."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._tokens_t) * self._rate)
        self._tokens_t = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate

    def take_refused(self) -> int:
        refused, self.refused = self.refused, 0
        return refused


class Writers:
    """The outbox and the writer tasks that empty it into a connection.

    At most as many messages as there are writers sit in the client at once: a broker
    that reads slowly holds the writers, not the bridge's memory. Writers with nothing to
    send each wait on a future of their own: a message wakes one of them, not all (an
    Event would, for every message sent while idle)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._idle: deque[asyncio.Future[None]] = deque()

    def put(self, message: Outgoing) -> bool:
        """Queue without waiting; False when the outbox refused it (see `Outbox.put`)."""
        if self.outbox.put(message):
            self._wake()
            return True
        return False

    async def put_acked(self, topic: str, payload: bytes) -> None:
        """Queue a retained QoS 1 message and wait until the broker acknowledged it."""
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.outbox.put(Outgoing(topic, payload, 1, True, sent))
        self._wake()
        await sent

    def _wake(self) -> None:
        idle = self._idle
        while idle:
            waiter = idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def write(self, client: aiomqtt.Client) -> None:
        """One writer: take from the outbox in order, hand to the client, wait for it to go."""
        outbox = self.outbox
        while True:
            checkpoint("mqtt-writer")
            if not outbox:
                if dropped := outbox.take_refused():
                    log.warning("event=mqtt_outbox_drained dropped=%d", dropped)
                waiter = asyncio.get_running_loop().create_future()
                self._idle.append(waiter)
                await waiter
                continue
            wait = outbox.wait_s()
            if wait:
                await asyncio.sleep(wait)
                continue
            key, message = outbox.take()
            try:
                # No timeout: the liveness probe ends a connection that stopped moving,
                # and that cancels this wait.
                await client.publish(
                    message.topic,
                    message.payload,
                    qos=message.qos,
                    retain=message.retain,
                    timeout=math.inf,
                )
            except ValueError as exc:  # paho: not a topic one can publish to
                log.warning("event=mqtt_publish_failed topic=%s error=%r", message.topic, str(exc))
                continue
            except BaseException:
                if message.qos:
                    outbox.requeue(key, message)
                raise
            if message.sent is not None and not message.sent.done():
                message.sent.set_result(None)
