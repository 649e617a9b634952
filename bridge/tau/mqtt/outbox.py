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
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

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
