"""Messages the broker dropped: Mosquitto's `$SYS/broker/publish/messages/dropped`.

Mosquitto drops what waits for a client beyond `max_queued_messages` (1,000 by
default) without a word to anyone: an area switched from Home Assistant at once
(2,000 QoS 1 commands) left 932 of 2,000 fixtures in the wrong state on a default
Mosquitto. Tau subscribes to the broker's count where the broker publishes it (it
appears once it is above 0, every `sys_interval`), and says when it rises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("tau.mqtt.session")

SYS_DROPPED = "$SYS/broker/publish/messages/dropped"
WARN_EVERY_S = 600.0  # one WARNING per episode; rises within this of the last are DEBUG


class BrokerDrops:
    def __init__(
        self, *, warn_every_s: float = WARN_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seen = 0  # messages the broker dropped since this bridge started watching
        self.total: int | None = None  # the broker's own count, as last reported
        self._warn_every_s = warn_every_s
        self._clock = clock
        self._warned_at: float | None = None

    def report(self, payload: bytes) -> int:
        """The broker's count arrived; returns by how much it rose (0 the first time:
        drops before this bridge watched are not news)."""
        try:
            value = int(payload.strip())
        except ValueError:
            log.debug("event=broker_dropped_unreadable payload=%r", payload[:40])
            return 0
        previous, self.total = self.total, value
        if previous is None:
            return 0
        rise = value - previous if value >= previous else value  # < : the broker restarted
        if rise <= 0:
            return 0
        self.seen += rise
        now = self._clock()
        warn = self._warned_at is None or now - self._warned_at >= self._warn_every_s
        if warn:
            self._warned_at = now
        log.log(
            logging.WARNING if warn else logging.DEBUG,
            "event=broker_dropped dropped=%d total=%d: the MQTT broker dropped messages "
            "waiting for a client that reads slowly (commands or states lost); raise the "
            "broker's max_queued_messages (Mosquitto's default is 1000; Tau's "
            "config/mosquitto.conf sets 20000)",
            rise,
            value,
        )
        return rise
