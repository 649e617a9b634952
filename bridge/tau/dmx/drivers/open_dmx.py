"""Open DMX: a raw FTDI line at 250 000 baud 8N2, refreshed continuously by a thread.

The break and mark-after-break are made with `break_condition` toggles; pyserial's
`send_break` turns into a break of at least 250 ms on POSIX and must never be used.
"""

from __future__ import annotations

import time
from typing import Any

import serial

from tau.dmx.drivers.serial_port import SerialOutput

BREAK_S = 0.000_110  # DMX512 wants ≥ 92 µs; time.sleep only ever sleeps longer
MAB_S = 0.000_016  # ≥ 12 µs


class OpenDmxOutput(SerialOutput):
    driver = "open_dmx"

    def _open_port(self) -> Any:
        return self._factory(
            port=self.port,
            baudrate=250_000,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_TWO,
            write_timeout=1.0,
            exclusive=True,
        )

    def _serve(self, ser: Any) -> None:
        period = 1.0 / self.fps
        frame = self.last_frame
        if not self.last_send_t:
            # Nothing rendered yet: keep the line idle rather than refresh it black.
            taken = self._take(timeout=None)
            if taken is None:
                return
            frame = taken
        next_t = time.monotonic()
        while True:
            taken = self._take(timeout=max(0.0, next_t - time.monotonic()))
            if self._stopping:
                return
            if taken is not None:
                frame = taken
            if time.monotonic() < next_t:
                continue  # a new frame arrived early: it goes out at the next slot
            next_t = max(next_t + period, time.monotonic())
            self._send_frame(ser, frame)

    def _send_frame(self, ser: Any, frame: bytes) -> None:
        ser.break_condition = True
        time.sleep(BREAK_S)
        ser.break_condition = False
        time.sleep(MAB_S)
        ser.write(b"\x00" + frame)
        ser.flush()  # drain before the next break, or the break cuts the frame short
        self._count_frame()

    def _greet(self, ser: Any) -> str:
        return f"Open DMX (FTDI, 250 kbaud 8N2) on {self.port}"
