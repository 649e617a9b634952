"""The interface every DMX output implements, and the status it reports."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

SLOTS = 512
BLACK = bytes(SLOTS)

OutputState = Literal["ok", "reconnecting", "failed"]


@dataclass(slots=True, frozen=True)
class OutputStatus:
    state: OutputState
    detail: str  # for people: "Enttec DMX USB Pro serial 12345678 on /dev/ttyUSB0"
    frames_sent: int
    last_error: str | None


class Output(ABC):
    """One universe's output.

    Lifecycle: `await open()` once, `send()` any number of times, `await close()`.
    `send()` never blocks the event loop: a driver queues the frame for its own
    thread or writes a datagram. `open()` never raises for a device that is
    missing: it records the problem in `status` and keeps trying in the background.
    """

    driver: ClassVar[str]
    #: Re-send the current frame at least this often even when nothing changed
    #: (None: the line needs no keep-alive, e.g. the USB Pro refreshes by itself).
    keepalive_s: ClassVar[float | None] = None
    #: The device keeps the newest frame and refreshes the DMX line by itself (the USB
    #: Pro), so a command's frame may be handed over between frame slots instead of
    #: waiting up to one frame period for the next. False where the host paces the line
    #: (Open DMX) or the protocol caps the rate at DMX's (Art-Net, sACN: E1.31 6.6.1).
    instant: bool = False

    def __init__(self, universe: int) -> None:
        self.universe = universe
        self.last_frame: bytes = BLACK
        self.last_send_t: float = 0.0
        #: Returns the monotonic time from which this output must send nothing (None:
        #: no limit). Set by whoever holds the right to send this universe for a limited
        #: time (a lease, when several bridges share an installation): a frame after it
        #: is dropped here, however late the event loop gets round to giving it up.
        self.send_until: Callable[[], float | None] | None = None
        #: The universe goes to another sender: `close()` tells receivers nothing (no
        #: sACN stream termination), so they hold the last look until it takes over.
        self.handing_over = False

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    def _write(self, frame: bytes) -> None:
        """Hand one 512-slot frame to the transport without blocking."""

    @abstractmethod
    async def close(self) -> None: ...

    @property
    @abstractmethod
    def status(self) -> OutputStatus: ...

    def send(self, frame: bytes) -> None:
        """Output `frame` (exactly 512 slot bytes, no start code)."""
        if len(frame) != SLOTS:
            raise ValueError(f"a DMX frame has {SLOTS} slots, got {len(frame)}")
        now = time.monotonic()
        self.last_frame = bytes(frame)
        until = self.send_until() if self.send_until is not None else None
        if until is not None and now >= until:
            return
        self.last_send_t = now
        self._write(self.last_frame)

    def keepalive_due(self, now: float) -> float | None:
        """When the next keep-alive is due (monotonic seconds), or None if never."""
        if self.keepalive_s is None:
            return None
        return self.last_send_t + self.keepalive_s

    def keepalive(self) -> None:
        """Re-send the current frame; called by the render loop when `keepalive_due` passed."""
        self.send(self.last_frame)
