"""An emulated Enttec DMX USB Pro on a pseudo-terminal.

pyserial opens `emulator.port` exactly like `/dev/ttyUSB0`. A reader thread
parses the widget protocol strictly (0x7E, label, length LSB/MSB, data, 0xE7):
anything else is recorded in `errors`, which tests assert is empty. Labels 10
(serial number) and 3 (widget parameters) are answered like the real widget;
every label-6 frame is recorded with its monotonic arrival time.

    with EnttecEmulator() as widget:
        settings = {"1": {"driver": "enttec_pro", "port": widget.port}}
        ...
        frame = widget.wait_for_slots({1: 255, 2: 128}, timeout=2)
        # from async tests: await widget.wait_for_slots_async(...)
        widget.unplug(); widget.replug()
        assert widget.errors == []

`port` is a symlink in a private directory, so `unplug()` can make the device
vanish (the pty is hung up and the path removed) and `replug()` brings a new
pty back at the same path, as udev does for a real widget.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import tempfile
import threading
import time
import tty
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

START = 0x7E
END = 0xE7
LABEL_GET_PARAMS = 3
LABEL_SEND_DMX = 6
LABEL_GET_SERIAL = 10
MAX_DATA = 600


class Frame(NamedTuple):
    """One label-6 frame: arrival time (time.monotonic) and the 512 slots (no start code)."""

    t: float
    data: bytes

    def slot(self, channel: int) -> int:
        """Value of 1-based DMX `channel`."""
        return self.data[channel - 1]


def bcd_serial(serial_number: int) -> bytes:
    """12345678 → 4 BCD bytes, least significant first, as the widget reports it."""
    digits = f"{serial_number:08d}"
    return bytes(int(digits[i : i + 2], 16) for i in (6, 4, 2, 0))


class EnttecEmulator:
    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        serial_number: int = 12345678,
        firmware: tuple[int, int] = (1, 44),
        break_time: int = 9,  # units of 10.67 µs, the widget's defaults
        mab_time: int = 1,
        rate: int = 40,
        answer: bool = True,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="tau-enttec-")
            directory = self._tmp.name
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.port = str(Path(directory) / "ttyUSB-enttec")
        self.serial_number = serial_number
        self.firmware = firmware
        self.params = (break_time, mab_time, rate)
        self.answer = answer  # False: a silent clone that ignores labels 3 and 10
        self.frames: list[Frame] = []
        self.errors: list[str] = []
        self.requests: list[int] = []  # labels of every non-DMX request, in order
        self.plugged = False
        self._cond = threading.Condition()
        self._master = -1
        self._slave = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- lifecycle -----------------------------------------------------------------

    def __enter__(self) -> EnttecEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self.replug()

    def close(self) -> None:
        self.unplug()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def unplug(self) -> None:
        """The widget vanishes: writes on an open port fail and the path disappears."""
        if not self.plugged:
            return
        self.plugged = False
        self._stop.set()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = -1

    def replug(self) -> None:
        """A (new) widget appears at the same path."""
        if self.plugged:
            return
        self._master, self._slave = os.openpty()
        # Raw on both ends: bytes pass verbatim (no echo, no CR/LF or 0x7F handling).
        tty.setraw(self._master)
        tty.setraw(self._slave)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)
        os.symlink(os.ttyname(self._slave), self.port)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._read_loop,
            args=(self._master, self._stop),
            name="enttec-emulator",
            daemon=True,
        )
        self.plugged = True
        self._thread.start()

    # -- what tests look at ----------------------------------------------------------

    def latest(self) -> Frame | None:
        with self._cond:
            return self.frames[-1] if self.frames else None

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        """Wait until `predicate()` is true (re-checked on every packet); False on timeout."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_for_frames(self, count: int, timeout: float = 2.0) -> list[Frame]:
        """Wait for at least `count` frames in total; returns a copy of all of them."""
        if not self.wait_for(lambda: len(self.frames) >= count, timeout):
            raise AssertionError(
                f"expected {count} frames within {timeout}s, got {len(self.frames)}"
            )
        with self._cond:
            return list(self.frames)

    def wait_for_slots(self, expected: Mapping[int, int], timeout: float = 2.0) -> Frame:
        """Wait until the latest frame has these 1-based channel values; returns that frame."""

        def matches() -> bool:
            last = self.frames[-1] if self.frames else None
            return last is not None and all(last.slot(c) == v for c, v in expected.items())

        if not self.wait_for(matches, timeout):
            last = self.latest()
            got = {c: last.slot(c) for c in expected} if last else None
            raise AssertionError(f"slots {dict(expected)} not seen within {timeout}s; last {got}")
        latest = self.latest()
        assert latest is not None
        return latest

    async def wait_for_async(self, predicate: Callable[[], bool], timeout_s: float = 2.0) -> bool:
        """`wait_for` from async code: waits in a thread so the event loop (and the
        renderer on it) keeps running. Never call the blocking `wait_*` on the loop."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout_s)

    async def wait_for_slots_async(
        self, expected: Mapping[int, int], timeout_s: float = 2.0
    ) -> Frame:
        return await asyncio.to_thread(self.wait_for_slots, expected, timeout_s)

    async def wait_for_frames_async(self, count: int, timeout_s: float = 2.0) -> list[Frame]:
        return await asyncio.to_thread(self.wait_for_frames, count, timeout_s)

    def take(self) -> list[Frame]:
        """The frames received so far, which are forgotten (long runs read as they go)."""
        with self._cond:
            frames = list(self.frames)
            self.frames.clear()
        return frames

    def clear(self) -> None:
        with self._cond:
            self.frames.clear()
            self.requests.clear()

    # -- the widget ----------------------------------------------------------------------

    def _read_loop(self, fd: int, stop: threading.Event) -> None:
        parser = _Parser(self._on_packet, self._on_error)
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                # EIO: no process has the slave open right now (between opens); not a fault.
                time.sleep(0.01)
                continue
            parser.feed(chunk)

    def _on_error(self, message: str) -> None:
        with self._cond:
            self.errors.append(message)
            self._cond.notify_all()

    def _on_packet(self, label: int, data: bytes) -> None:
        now = time.monotonic()
        if label == LABEL_SEND_DMX:
            if not 25 <= len(data) <= 513 or data[0] != 0:
                self._on_error(f"label 6 with {len(data)} bytes, start code {data[:1].hex()}")
                return
            with self._cond:
                self.frames.append(Frame(now, data[1:].ljust(512, b"\x00")))
                self._cond.notify_all()
            return
        with self._cond:
            self.requests.append(label)
            self._cond.notify_all()
        if label == LABEL_GET_SERIAL and not data:
            self._reply(LABEL_GET_SERIAL, bcd_serial(self.serial_number))
        elif label == LABEL_GET_PARAMS and len(data) == 2:
            lsb, msb = self.firmware[1], self.firmware[0]
            self._reply(LABEL_GET_PARAMS, bytes((lsb, msb, *self.params)))
        else:
            self._on_error(f"unexpected request label {label} with {len(data)} data bytes")

    def _reply(self, label: int, data: bytes) -> None:
        if not self.answer:
            return
        n = len(data)
        with contextlib.suppress(OSError):
            os.write(self._master, bytes((START, label, n & 0xFF, n >> 8)) + data + bytes((END,)))


class _Parser:
    """Incremental, strict parser of the host → widget byte stream."""

    def __init__(
        self, on_packet: Callable[[int, bytes], None], on_error: Callable[[str], None]
    ) -> None:
        self._buf = bytearray()
        self._on_packet = on_packet
        self._on_error = on_error

    def feed(self, chunk: bytes) -> None:
        self._buf += chunk
        while self._buf:
            if self._buf[0] != START:
                self._on_error(f"expected 0x7E, got 0x{self._buf[0]:02x}")
                del self._buf[0]
                continue
            if len(self._buf) < 4:
                return
            label, n = self._buf[1], self._buf[2] | self._buf[3] << 8
            if n > MAX_DATA:
                self._on_error(f"label {label} claims {n} data bytes (max {MAX_DATA})")
                del self._buf[0]
                continue
            if len(self._buf) < 5 + n:
                return
            if self._buf[4 + n] != END:
                self._on_error(
                    f"label {label}: expected 0xE7 after {n} bytes, got 0x{self._buf[4 + n]:02x}"
                )
                del self._buf[0]
                continue
            data = bytes(self._buf[4 : 4 + n])
            del self._buf[: 5 + n]
            self._on_packet(label, data)
