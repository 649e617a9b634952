"""Enttec DMX USB Pro: the widget's packet protocol over a USB-serial port.

Packet: 0x7E, label, data length LSB, MSB, data, 0xE7. Label 6 carries the
start code and slots; the widget keeps the newest one and refreshes the line by
itself at its own rate. So a frame is written when it changed, as soon as it is
handed over: the renderer paces fades at `fps`, but a command's frame need not
wait for the next slot (`instant`). Frames arriving faster than the port takes
them are coalesced to the newest. At connect the widget is asked for its serial
number (label 10) and parameters (label 3).
"""

from __future__ import annotations

import time
from typing import Any

from tau.dmx.drivers.serial_port import SerialOutput, log

START = 0x7E
END = 0xE7
LABEL_GET_PARAMS = 3
LABEL_SEND_DMX = 6
LABEL_GET_SERIAL = 10
HANDSHAKE_TIMEOUT_S = 0.5


def packet(label: int, data: bytes = b"") -> bytes:
    n = len(data)
    return bytes((START, label, n & 0xFF, n >> 8)) + data + bytes((END,))


def dmx_packet(frame: bytes) -> bytes:
    return packet(LABEL_SEND_DMX, b"\x00" + frame)


def decode_serial(data: bytes) -> str:
    """4 bytes of BCD, least significant byte first → "12345678"."""
    return "".join(f"{b:02x}" for b in reversed(data[:4]))


def read_reply(ser: Any, label: int, timeout_s: float) -> bytes | None:
    """The data of the next packet with `label`, skipping others; None on timeout."""
    deadline = time.monotonic() + timeout_s
    while (remaining := deadline - time.monotonic()) > 0:
        ser.timeout = remaining
        b = ser.read(1)
        if not b:
            return None
        if b[0] != START:
            continue
        head = ser.read(3)
        if len(head) < 3:
            return None
        n = head[1] | head[2] << 8
        body = ser.read(n + 1)
        if len(body) < n + 1 or body[-1] != END:
            continue
        if head[0] == label:
            return bytes(body[:-1])
    return None


class EnttecProOutput(SerialOutput):
    driver = "enttec_pro"
    instant = True

    def _open_port(self) -> Any:
        ser = self._factory(
            port=self.port,
            baudrate=57600,
            timeout=HANDSHAKE_TIMEOUT_S,
            write_timeout=1.0,
            exclusive=True,
        )
        ser.reset_input_buffer()
        return ser

    def _greet(self, ser: Any) -> str:
        ser.write(packet(LABEL_GET_SERIAL))
        serial_data = read_reply(ser, LABEL_GET_SERIAL, HANDSHAKE_TIMEOUT_S)
        ser.write(packet(LABEL_GET_PARAMS, b"\x00\x00"))
        params = read_reply(ser, LABEL_GET_PARAMS, HANDSHAKE_TIMEOUT_S)
        what = "Enttec DMX USB Pro"
        timing = ""
        if serial_data is not None and len(serial_data) >= 4:
            what += f" serial {decode_serial(serial_data)}"
        if params is not None and len(params) >= 5:
            what += f" firmware {params[1]}.{params[0]}"
            # Break and MAB come in units of 10.67 µs, the rate in packets/s (0 = maximum).
            timing = (
                f" (break {params[2] * 10.67:.0f} µs, MAB {params[3] * 10.67:.0f} µs,"
                f" rate {params[4] or 'max'}/s)"
            )
        if serial_data is None and params is None:
            log.warning(
                "no answer to labels 10/3 from %s (a clone widget?); sending DMX anyway "
                "event=output_handshake_silent universe=%d driver=%s port=%s",
                self.port,
                self.universe,
                self.driver,
                self.port,
            )
        return f"{what} on {self.port}{timing}"

    def _serve(self, ser: Any) -> None:
        while True:
            frame = self._take(timeout=None)
            if frame is None:
                if self._stopping:
                    return
                continue
            ser.write(dmx_packet(frame))
            self._count_frame()
