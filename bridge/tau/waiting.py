"""Saying what Tau waits for, so a user can tell waiting from hanging.

One `Waiting` per dependency (database, broker). Its owner calls `failed(detail)` after
every unsuccessful attempt and `done()` once through:

    waiting = Waiting(
        "PostgreSQL at 127.0.0.1:5433",
        hint="is it running? check TAU_DATABASE_URL",
        event="database_unreachable",
    )
    while True:
        try:
            return await connect()
        except OSError as exc:
            waiting.failed(str(exc))
            await asyncio.sleep(delay)
    ...
    waiting.done()

The first failure is logged at WARNING at once ("event=database_unreachable waiting for
PostgreSQL at ... (connection refused): is it running? ..."), then at most one INFO line per
`every` seconds while the failures go on ("event=database_unreachable still waiting for
PostgreSQL at ... since 14:02:10 (connection refused): ..."); `done()` logs how long it
took, only if something was logged before. The clocks and the logger are injectable so
tests need no sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from tau.timescale import time_scale

log = logging.getLogger("tau.waiting")

REPORT_EVERY_S = 10.0


class Waiting:
    """Reports an ongoing wait: at once, then at most once per `every` seconds, then its end."""

    def __init__(
        self,
        what: str,
        hint: str = "",
        *,
        event: str = "waiting",
        every: float | None = None,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.what = what
        self.hint = hint
        self.event = event
        # REPORT_EVERY_S unless given, or fast-forwarded by the test suite (tau/timescale.py)
        self.every = REPORT_EVERY_S * time_scale() if every is None else every
        self._log = logger or log
        self._clock = clock
        self._wall_clock = wall_clock
        self.since: datetime | None = None  # wall-clock start of the current wait
        self._started = 0.0
        self._last_report = 0.0
        self.detail = ""
        self.attempts = 0

    @property
    def waiting(self) -> bool:
        return self.since is not None

    def failed(self, detail: str = "") -> None:
        """One more unsuccessful attempt; logs when the last report is `every` seconds old."""
        now = self._clock()
        self.detail = detail
        self.attempts += 1
        if self.since is None:
            self.since = self._wall_clock()
            self._started = now
            self._last_report = now
            self._log.warning("event=%s waiting for %s%s", self.event, self.what, self._tail())
            return
        if now - self._last_report >= self.every:
            self._last_report = now
            self._log.info(
                "event=%s still waiting for %s since %s%s",
                self.event,
                self.what,
                self.since.strftime("%H:%M:%S"),
                self._tail(),
            )

    def done(self) -> None:
        """The dependency answered: log the end of a reported wait, reset for the next one."""
        if self.since is not None:
            self._log.info(
                "event=%s_resolved %s answered after %.0f s of waiting",
                self.event,
                self.what,
                self._clock() - self._started,
            )
        self.since = None
        self.attempts = 0
        self.detail = ""

    def _tail(self) -> str:
        text = f" ({self.detail})" if self.detail else ""
        return f"{text}: {self.hint}" if self.hint else text
