"""What USB-serial outputs share: opening with clear errors, a writer thread, reconnects.

The event loop never touches the port: `send()` leaves the newest frame for the
driver's thread, which writes it. A port that vanishes mid-show (write fails,
device gone) is logged once; the thread keeps the frame and polls for the port
with backoff capped at one second, and re-sends the current frame when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import serial

from tau.backoff import Backoff
from tau.dmx.drivers.base import Output, OutputState, OutputStatus

log = logging.getLogger("tau.dmx.output")

SerialFactory = Callable[..., Any]

RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 1.0  # poll a missing port at least every second


def describe_open_error(port: str, exc: BaseException) -> str:
    """A message naming the port and the likely fix."""
    code = getattr(exc, "errno", None)
    if code is None and isinstance(exc.__context__, OSError):
        code = exc.__context__.errno
    if code == errno.ENOENT:
        return f"no such port {port} — is the widget plugged in?"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied on {port} — add the user to the 'dialout' group"
    if code in (errno.EBUSY, errno.EAGAIN):
        return f"{port} is busy — another program (another Tau, ModemManager) has it open"
    return f"cannot open {port}: {exc}"


class SerialOutput(Output):
    """Base of `enttec_pro` and `open_dmx`: subclasses open, greet and serve the port."""

    def __init__(
        self,
        universe: int,
        port: str,
        fps: float = 44.0,
        serial_factory: SerialFactory = serial.Serial,
    ) -> None:
        super().__init__(universe)
        self.port = port
        self.fps = fps
        self._factory = serial_factory
        self._cond = threading.Condition()
        self._pending: bytes | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._ser: Any = None
        self._ever_connected = False
        self._warned = False
        self._state: OutputState = "failed"
        self._detail = f"{port}: not opened yet"
        self._frames_sent = 0
        self._last_error: str | None = None

    # -- subclass hooks (run on the driver thread) ---------------------------------

    @abstractmethod
    def _open_port(self) -> Any:
        """Open and configure the port; raise on failure."""

    def _greet(self, ser: Any) -> str:
        """Talk to the device right after opening; return what it is, for status and logs."""
        return f"{self.driver} on {self.port}"

    @abstractmethod
    def _serve(self, ser: Any) -> None:
        """Write frames until `_stopping`; raise `SerialException`/`OSError` if the port fails."""

    # -- Output -----------------------------------------------------------------

    async def open(self) -> None:
        await asyncio.to_thread(self._connect)
        self._thread = threading.Thread(
            target=self._run, name=f"tau-dmx-{self.driver}-u{self.universe}", daemon=True
        )
        self._thread.start()

    def _write(self, frame: bytes) -> None:
        with self._cond:
            self._pending = frame
            self._cond.notify_all()

    async def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, 5.0)
        await asyncio.to_thread(self._drop_port)

    @property
    def status(self) -> OutputStatus:
        return OutputStatus(self._state, self._detail, self._frames_sent, self._last_error)

    # -- the driver thread --------------------------------------------------------

    def _take(self, timeout: float | None) -> bytes | None:
        """Wait for a frame to write (or stop); None on timeout or stop."""
        with self._cond:
            if self._pending is None and not self._stopping:
                self._cond.wait(timeout)
            frame, self._pending = self._pending, None
            return None if self._stopping else frame

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early if the output is being closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping, seconds)

    def _run(self) -> None:
        backoff = Backoff(RECONNECT_MIN_S, RECONNECT_MAX_S, jitter=0)
        while not self._stopping:
            if self._ser is None:
                if not self._connect():
                    self._sleep(backoff.delay())
                    continue
                backoff.reset()
            try:
                self._serve(self._ser)
            except (serial.SerialException, OSError) as exc:
                self._lost(exc)

    def _connect(self) -> bool:
        try:
            ser = self._open_port()
        except (serial.SerialException, OSError, ValueError) as exc:
            self._failed(describe_open_error(self.port, exc))
            return False
        try:
            what = self._greet(ser)
        except (serial.SerialException, OSError) as exc:
            self._close_quietly(ser)
            self._failed(f"{self.port} opened but the device did not answer: {exc}")
            return False
        event = "output_reconnected" if self._ever_connected else "output_connected"
        log.info(
            "%s event=%s universe=%d driver=%s port=%s",
            what,
            event,
            self.universe,
            self.driver,
            self.port,
        )
        with self._cond:
            self._ser = ser
            self._ever_connected = True
            self._warned = False
            self._state, self._detail = "ok", what
            # The device may have been replugged dark: write the current frame again (but
            # before the renderer's first frame there is nothing to write: no flash to black).
            if self.last_send_t:
                self._pending = self.last_frame
        return True

    def _failed(self, message: str) -> None:
        self._last_error = message
        self._state = "reconnecting" if self._ever_connected else "failed"
        self._detail = message
        level = logging.DEBUG if self._warned else logging.WARNING
        self._warned = True
        log.log(
            level,
            "%s event=output_unavailable universe=%d driver=%s port=%s",
            message,
            self.universe,
            self.driver,
            self.port,
        )

    def _lost(self, exc: BaseException) -> None:
        message = f"lost {self.port} ({exc}); reconnecting"
        self._drop_port()
        self._last_error = message
        self._state, self._detail = "reconnecting", message
        if not self._warned:
            self._warned = True
            log.warning(
                "%s event=output_lost universe=%d driver=%s port=%s",
                message,
                self.universe,
                self.driver,
                self.port,
            )

    def _drop_port(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            self._close_quietly(ser)

    @staticmethod
    def _close_quietly(ser: Any) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            ser.close()

    def _count_frame(self) -> None:
        self._frames_sent += 1
