"""What a session subscribes to, and reading what the broker retains.

- **Subscriptions** count once the broker granted them (SUBACK); one refused or never
  acknowledged is retried every `RESUBSCRIBE_S` while the connection lasts (the session
  runs the retry loop; this keeps the books). A refusal is one ERROR per topic, not one
  per retry (STYLE: repeats are DEBUG): an ACL that denies a topic for an hour would
  otherwise fill the log every 5 s. The grant that ends it is one INFO. Kept across
  reconnects: a broker that still refuses after one is still the same fault.
- **Retained reads**: `read` collects every retained message the broker holds on a
  pattern now, ended by a marker topic of the session's own (see `Subscriptions.read`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from tau.timescale import time_scale

log = logging.getLogger("tau.mqtt.session")

__all__ = ["READ_RETAINED_S", "RESUBSCRIBE_S", "Subscriptions"]

READ_RETAINED_S = 10.0  # `read` gives up after this
# A refused or unacknowledged subscription is tried again this often.
RESUBSCRIBE_S = 5.0 * time_scale()


@dataclass(slots=True)
class _Retained:
    """One `read`: what it collects, and the marker that ends it."""

    pattern: str
    marker: str
    found: dict[str, bytes] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Subscriptions:
    """The topics wanted (asked of `wanted` each time) against those the broker granted
    on the current connection, and the retained reads under way."""

    def __init__(self, wanted: Callable[[], list[str]], marker_prefix: str) -> None:
        self._wanted = wanted
        self._marker_prefix = marker_prefix
        self.granted: set[str] = set()  # on the current connection (SUBACK)
        self.refused: set[str] = set()  # refusals logged, until granted or no longer wanted
        self.resubscribe_s = RESUBSCRIBE_S
        self._collecting: list[_Retained] = []
        self._reads = 0

    def reset(self) -> None:
        """A new connection: nothing is granted on it yet."""
        self.granted = set()

    def missing(self) -> bool:
        """Something wanted is not granted (refused, or its SUBACK never came)."""
        return bool(set(self._wanted()) - self.granted)

    async def sync(
        self, client: aiomqtt.Client, current: Callable[[], aiomqtt.Client | None]
    ) -> None:
        """Subscribe to what is wanted and not granted, unsubscribe from what is no longer
        wanted; `current()` tells whether `client` is still the session's connection."""
        wanted = set(self._wanted())
        self.refused &= wanted
        new = sorted(wanted - self.granted)
        gone = sorted(self.granted - wanted)
        if gone:
            self.granted -= set(gone)
            await client.unsubscribe(gone)
        if not new:
            return
        codes = await client.subscribe([(t, 1) for t in new])
        if client is not current():
            return  # the connection went meanwhile: the next one subscribes afresh
        refused = []
        for topic, code in zip(new, codes, strict=False):
            value = code.value if isinstance(code, ReasonCode) else code
            if isinstance(value, int) and value >= 0x80 and not topic.startswith("$SYS/"):
                refused.append(topic)
            elif isinstance(value, int) and value >= 0x80:
                # `$SYS` is the broker's to offer (an ACL may keep it from clients): once.
                log.debug("event=mqtt_subscribe_refused topic=%s", topic)
                self.granted.add(topic)
            else:
                self.granted.add(topic)  # counts only once granted
                if topic in self.refused:
                    self.refused.discard(topic)
                    log.info("event=mqtt_subscribe_granted topic=%s after a refusal", topic)
        for topic in refused:
            if topic in self.refused:
                log.debug("event=mqtt_subscribe_refused topic=%s again", topic)
                continue
            self.refused.add(topic)
            log.error(
                "event=mqtt_subscribe_refused topic=%s retry_in=%gs: check the broker's ACL",
                topic,
                self.resubscribe_s,
            )

    async def read(
        self, client: aiomqtt.Client, pattern: str, timeout_s: float = READ_RETAINED_S
    ) -> dict[str, bytes] | None:
        """Every retained message the broker holds on `pattern` now (topic -> payload), or
        None when the connection broke meanwhile.

        Subscribes at QoS 0 to the pattern and to a marker topic of this session's own,
        then publishes the marker: the broker queues the retained messages as it grants
        the subscription, so they reach the bridge ahead of the marker (QoS 0 never waits
        for an in-flight slot). When the marker comes back, they are all here. The
        messages also reach the message handler (what is read is not a command:
        configs, states, the marker under the probe topic)."""
        self._reads += 1
        entry = _Retained(pattern, f"{self._marker_prefix}/retained/{self._reads}")
        self._collecting.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                await client.subscribe([(pattern, 0), (entry.marker, 0)])
                await client.publish(entry.marker, b"1", qos=0)
                await entry.done.wait()
                await client.unsubscribe([pattern, entry.marker])
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.debug("event=mqtt_read_retained_failed pattern=%s error=%r", pattern, str(exc))
            return None
        finally:
            self._collecting.remove(entry)
        return entry.found

    def collect(self, message: aiomqtt.Message) -> None:
        """An inbound message, for the reads under way (cheap when there are none)."""
        if not self._collecting:
            return
        topic = message.topic
        for entry in self._collecting:
            if topic.value == entry.marker:
                entry.done.set()
            elif message.retain and not entry.done.is_set() and topic.matches(entry.pattern):
                entry.found[topic.value] = bytes(message.payload)
