"""The one retry helper: capped exponential delays with jitter, for every reconnect loop.

Used by the MQTT session, the database pool at start, the LISTEN connection,
the state writer's flush and the serial DMX widgets' reopen. The delays go
`first`, 2 x `first`, ... up to `cap`, each plus up to `jitter` of itself at
random (so bridges restarted together do not retry in step).

`reset()` after a success starts over from `first`; a loop whose success may be
short-lived (a broker that accepts and drops at once) passes how long the
connection lived to `delay()` instead, and only `stable_s` or more resets it.
"""

from __future__ import annotations

import random

from tau.timescale import time_scale


class Backoff:
    def __init__(
        self, first: float, cap: float, *, jitter: float = 0.25, stable_s: float | None = None
    ) -> None:
        scale = time_scale()  # 1 unless the test suite fast-forwards (tau/timescale.py)
        self.first, self.cap, self.jitter = first * scale, cap * scale, jitter
        self.stable_s = stable_s  # the owner's measure of a good connection, as given
        self._next = self.first

    def reset(self) -> None:
        self._next = self.first

    def delay(self, connected_for: float | None = None) -> float:
        """The pause before the next attempt (and the one after it doubles)."""
        if (
            connected_for is not None
            and self.stable_s is not None
            and connected_for >= self.stable_s
        ):
            self._next = self.first
        base = self._next
        self._next = min(self._next * 2, self.cap)
        return base + random.uniform(0, base * self.jitter) if self.jitter else base
