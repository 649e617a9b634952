"""When this bridge was last connected to the broker: how old its broker session is.

A persistent MQTT session keeps what was sent to the bridge while it was away; the
bridge resumes it only while everything in it is younger than the command age limit
(`TAU_MQTT__COMMAND_MAX_AGE_S`). Within one process the time is kept in memory (a
monotonic clock); across restarts, and after a crash, in a small file in the data
directory, rewritten while connected and when a connection ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("tau.mqtt.session")


def last_up_file(client_id: str) -> str:
    """The record's file name: one per MQTT client id (each has its own session)."""
    return f"mqtt-{re.sub(r'[^A-Za-z0-9._-]', '_', client_id)}.last-up"


class LastUp:
    def __init__(
        self,
        path: Path | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._clock = clock
        self._wall = wall
        self._at: float | None = None  # `clock` time of the last mark in this process
        self._warned = False

    def mark(self) -> None:
        """The bridge is (or was until now) connected."""
        self._at = self._clock()
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.path.with_suffix(".tmp")
            scratch.write_text(f"{self._wall():.3f}\n")
            os.replace(scratch, self.path)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning(
                    "event=mqtt_record_unwritable path=%s error=%r: after a restart this "
                    "bridge cannot tell how old its broker session is and starts a clean one",
                    self.path,
                    exc.strerror,
                )

    def away_s(self) -> float | None:
        """Seconds since the bridge was last connected; None when unknown."""
        if self._at is not None:
            return max(0.0, self._clock() - self._at)
        if self.path is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            return max(0.0, self._wall() - float(self.path.read_text().strip()))
        return None
